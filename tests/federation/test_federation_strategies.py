"""Server strategies: FedAvg/FedProx, robust rules, and Reddi et al.'s stateful optimizers."""

from __future__ import annotations

import numpy as np
import pytest

from meshkit import FederationError
from meshkit import Bulyan, FedAdagrad, FedAdam, FedAvg, FedAvgM, FedMedian, FedProx, FedTrimmedAvg, FedYogi, Krum, aggregate, get_strategy


def _results(values, weights):
    return [([np.asarray(v, dtype=np.float64)], n) for v, n in zip(values, weights)]


CURRENT = [np.array([1.0, -1.0])]
RESULTS = _results([[2.0, 0.0], [4.0, -2.0]], [1, 3])  # FedAvg -> [3.5, -1.5]


def test_fedavg_and_fedprox_aggregate_by_examples():
    np.testing.assert_allclose(FedAvg().aggregate_fit(1, CURRENT, RESULTS)[0], [3.5, -1.5])
    np.testing.assert_allclose(FedProx(mu=1.0).aggregate_fit(1, CURRENT, RESULTS)[0], [3.5, -1.5])
    assert FedProx(mu=0.5).configure_fit(3) == {"mu": 0.5}
    assert FedAvg().configure_fit(1) == {}


def test_robust_strategies_use_their_rule():
    values = [[0.0], [1.0], [2.0], [3.0], [4.0], [50.0], [-60.0]]
    res = _results(values, [1] * 7)
    thetas = [[np.asarray(v)] for v in values]
    cur = [np.zeros(1)]
    np.testing.assert_allclose(FedMedian().aggregate_fit(1, cur, res)[0], aggregate(thetas, method="median")[0])
    np.testing.assert_allclose(FedTrimmedAvg(beta=0.2).aggregate_fit(1, cur, res)[0],
                               aggregate(thetas, method="trimmed_mean", beta=0.2)[0])
    np.testing.assert_allclose(Krum(f=1).aggregate_fit(1, cur, res)[0], aggregate(thetas, method="krum", f=1)[0])
    np.testing.assert_allclose(Krum(f=1, m=3).aggregate_fit(1, cur, res)[0],
                               aggregate(thetas, method="multikrum", f=1, m=3)[0])
    np.testing.assert_allclose(Bulyan(f=1).aggregate_fit(1, cur, res)[0], [2.0])


def test_fedavgm_without_momentum_is_fedavg_and_momentum_accumulates():
    plain = FedAvgM(server_lr=1.0, momentum=0.0)
    np.testing.assert_allclose(plain.aggregate_fit(1, CURRENT, RESULTS)[0], [3.5, -1.5])
    s = FedAvgM(server_lr=1.0, momentum=0.5)
    x1 = s.aggregate_fit(1, CURRENT, RESULTS)  # g = x - avg = [-2.5, 0.5]; x1 = x - g
    np.testing.assert_allclose(x1[0], [3.5, -1.5])
    # round 2: clients return the same average -> g2 = x1 - avg = 0; m = 0.5 * m1
    x2 = s.aggregate_fit(2, x1, RESULTS)
    np.testing.assert_allclose(x2[0], np.array([3.5, -1.5]) + 0.5 * np.array([2.5, -0.5]))


def test_fedadam_first_steps_by_hand():
    s = FedAdam(eta=0.1, beta_1=0.9, beta_2=0.99, tau=1e-3)
    x1 = s.aggregate_fit(1, CURRENT, RESULTS)[0]
    delta = np.array([2.5, -0.5])
    m = 0.1 * delta
    v = 0.99 * 1e-6 + 0.01 * delta ** 2
    np.testing.assert_allclose(x1, CURRENT[0] + 0.1 * m / (np.sqrt(v) + 1e-3))
    # state carries over: the second step uses the first step's moments
    x2 = s.aggregate_fit(2, [x1], RESULTS)[0]
    delta2 = np.array([3.5, -1.5]) - x1
    m2 = 0.9 * m + 0.1 * delta2
    v2 = 0.99 * v + 0.01 * delta2 ** 2
    np.testing.assert_allclose(x2, x1 + 0.1 * m2 / (np.sqrt(v2) + 1e-3))


def test_fedyogi_and_fedadagrad_second_moments():
    yogi = FedYogi(eta=0.01, beta_1=0.9, beta_2=0.99, tau=1e-3)
    x1 = yogi.aggregate_fit(1, CURRENT, RESULTS)[0]
    delta = np.array([2.5, -0.5])
    v = 1e-6 - 0.01 * delta ** 2 * np.sign(1e-6 - delta ** 2)
    np.testing.assert_allclose(yogi.v_[0], v)
    np.testing.assert_allclose(x1, CURRENT[0] + 0.01 * (0.1 * delta) / (np.sqrt(v) + 1e-3))

    ada = FedAdagrad(eta=0.1, tau=1e-3)
    x1 = ada.aggregate_fit(1, CURRENT, RESULTS)[0]
    np.testing.assert_allclose(ada.v_[0], 1e-6 + delta ** 2)
    np.testing.assert_allclose(x1, CURRENT[0] + 0.1 * delta / (np.sqrt(1e-6 + delta ** 2) + 1e-3))
    ada.aggregate_fit(2, [x1], RESULTS)
    delta2 = np.array([3.5, -1.5]) - x1
    np.testing.assert_allclose(ada.v_[0], 1e-6 + delta ** 2 + delta2 ** 2)


def test_reset_forgets_state():
    s = FedAdam()
    first = s.aggregate_fit(1, CURRENT, RESULTS)[0]
    s.aggregate_fit(2, [first], RESULTS)
    s.reset()
    np.testing.assert_allclose(s.aggregate_fit(1, CURRENT, RESULTS)[0], first)


def test_server_optimizers_converge_on_a_fixed_target():
    target = [np.array([3.0, -2.0])]
    for s in (FedAvgM(server_lr=0.5, momentum=0.5), FedAdam(eta=0.05), FedYogi(eta=0.05), FedAdagrad(eta=0.5)):
        x = [np.zeros(2)]
        for rnd in range(1, 400):
            x = s.aggregate_fit(rnd, x, [(target, 1)])
        np.testing.assert_allclose(x[0], target[0], atol=0.05, err_msg=repr(s))


def test_repr_and_defaults_are_documented_values():
    assert repr(FedAdam()) == "FedAdam(eta=0.1, beta_1=0.9, beta_2=0.99, tau=0.001)"
    assert repr(FedYogi()) == "FedYogi(eta=0.01, beta_1=0.9, beta_2=0.99, tau=0.001)"
    assert repr(FedAdagrad()) == "FedAdagrad(eta=0.1, beta_1=0.0, tau=0.001)"
    assert repr(FedAvgM()) == "FedAvgM(server_lr=1.0, momentum=0.9)"
    assert repr(FedProx()) == "FedProx(mu=0.01)"
    assert repr(Krum(f=2)) == "Krum(f=2, m=None)"


def test_constructor_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        FedAdam(0.1)


def test_get_strategy():
    assert isinstance(get_strategy("FedProx", mu=1.0), FedProx)
    assert get_strategy("fed_trimmed_avg", beta=0.1).beta == 0.1
    with pytest.raises(FederationError, match="unknown strategy"):
        get_strategy("fedsgd")
    with pytest.raises(FederationError, match="options"):
        get_strategy("fedavg", mu=1.0)
    with pytest.raises(FederationError):
        FedProx(mu=-1.0).configure_fit(1)  # validated at use, as scikit-learn does


def test_one_registry_read_only_and_unchanged_by_lookups():
    from meshkit import STRATEGIES, FedMean, MultiKrum, aggregate

    before = dict(STRATEGIES)
    get_strategy("dpfedavg")
    get_strategy("krum", f=1)
    assert dict(STRATEGIES) == before
    with pytest.raises(TypeError):
        STRATEGIES["mine"] = FedAvg  # read-only
    assert isinstance(get_strategy("mean"), FedMean) and isinstance(get_strategy("multikrum"), MultiKrum)
    # aggregate() reads the same registry and refuses what needs a current model
    with pytest.raises(FederationError, match="current global model"):
        aggregate([[np.ones(1)], [np.ones(1)]], method="fedadam")


def test_strategies_follow_scikit_learn_conventions():
    from meshkit import clone

    s = FedAdam(eta=0.05)
    assert s.get_params() == {"eta": 0.05, "beta_1": 0.9, "beta_2": 0.99, "tau": 0.001}
    s.aggregate_fit(1, [np.zeros(2)], [([np.ones(2)], 1)])
    assert s.m_ is not None  # learned state ends in "_"
    c = clone(s)
    assert c.get_params() == s.get_params() and c.m_ is None
    assert repr(Krum(f=1).set_params(m=3)) == "Krum(f=1, m=3)"
    with pytest.raises(FederationError, match="unknown parameter"):
        Krum().set_params(beta=0.1)
    # validated at use, not at construction
    bad = FedTrimmedAvg(beta=0.7)
    with pytest.raises(FederationError, match="beta"):
        bad.aggregate_fit(1, None, [([np.ones(1)], 1)] * 3)
