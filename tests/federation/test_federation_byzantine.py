"""Byzantine domains: every attack against every robust rule, and failing domains in the loop."""

from __future__ import annotations

import numpy as np
import pytest

from meshkit import (ATTACKS, Bulyan, Collude, DomainClient, FedAvg, FederationError, FedMedian, FedTrimmedAvg,
                     GaussianNoise, Krum, LabelFlip, LogisticRegression, MultiKrum, Overflow, Scaling, SignFlip,
                     aggregate, from_arrays, robustness_table, run_federated)
from toy_domains import toy_domains

N, F, SIZE = 11, 2, 20
ROBUST = {"median": {}, "trimmed_mean": {"beta": 0.2}, "krum": {"f": F}, "multikrum": {"f": F},
          "bulyan": {"f": F}}
UPDATE_ATTACKS = [SignFlip(scale=1.0), SignFlip(scale=4.0), Scaling(factor=10.0), GaussianNoise(sigma=3.0),
                  Overflow(value=1e200), Overflow(value=-1e300), Collude(scale=3.0)]


def _round(attack, positions, seed=0):
    """Honest updates around a common step from the current model, then the attack."""
    rng = np.random.default_rng(seed)
    current = [np.zeros(SIZE)]
    step = rng.normal(0.0, 1.0, SIZE)
    honest = [[step + rng.normal(0.0, 0.1, SIZE)] for _ in range(N)]
    sent = list(honest)
    corrupted = attack.corrupt([honest[p] for p in positions], current, np.random.default_rng(seed + 1))
    for p, update in zip(positions, corrupted):
        sent[p] = update
    kept = np.stack([honest[i][0] for i in range(N) if i not in positions])
    return sent, kept


def _positions():
    # one attacker at every position, and two (the tolerated f) at every pair of offset 5
    return [(p,) for p in range(N)] + [(p, (p + 5) % N) for p in range(N)]


@pytest.mark.parametrize("attack", UPDATE_ATTACKS, ids=repr)
@pytest.mark.parametrize("method", sorted(ROBUST))
def test_every_attack_at_every_position_leaves_robust_rules_near_the_honest_aggregate(attack, method):
    """The stated distance: the robust aggregate lies inside the honest domains'
    coordinate-wise range, and within the honest domains' radius around their mean
    (the farthest honest domain from the honest mean), for up to f = 2 attackers anywhere."""
    for positions in _positions():
        sent, kept = _round(attack, positions)
        out = aggregate(sent, method=method, **ROBUST[method])[0]
        assert np.all(out >= kept.min(0) - 1e-9) and np.all(out <= kept.max(0) + 1e-9), (method, positions)
        centre = kept.mean(0)
        radius = np.linalg.norm(kept - centre, axis=1).max()
        assert np.linalg.norm(out - centre) <= radius, (method, positions)


@pytest.mark.parametrize("attack", UPDATE_ATTACKS, ids=repr)
def test_the_same_attacks_move_fedavg_far_from_the_honest_aggregate(attack):
    """The bound above is not vacuous: the non-robust mean breaks it under every attack."""
    sent, kept = _round(attack, (3, 8))
    try:
        out = aggregate(sent, method="fedavg")[0]
    except FederationError:  # the overflow attack: FedAvg refuses rather than adopt inf
        assert isinstance(attack, Overflow) and abs(attack.value) > 1e300
        return
    centre = kept.mean(0)
    with np.errstate(over="ignore"):  # the overflow attack's mean is 1e199: its norm is inf
        assert np.linalg.norm(out - centre) > np.linalg.norm(kept - centre, axis=1).max()


def test_attacks_do_what_their_docstrings_say():
    current = [np.array([1.0, 1.0])]
    honest = [[np.array([2.0, 3.0])], [np.array([0.0, 1.0])]]
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(SignFlip(scale=2.0).corrupt(honest, current, rng)[0][0], [-1.0, -3.0])
    np.testing.assert_allclose(Scaling(factor=3.0).corrupt(honest, current, rng)[0][0], [4.0, 7.0])
    assert Overflow().corrupt(honest, current, rng)[1][0].tolist() == [1e200, 1e200]
    a, b = Collude(scale=2.0).corrupt(honest, current, rng)
    np.testing.assert_allclose(a[0], [1.0, -1.0])  # 1 - 2 * mean([1, 2], [-1, 0])
    assert a[0] is not b[0] and np.array_equal(a[0], b[0])
    noisy = GaussianNoise(sigma=0.5).corrupt([[np.zeros(20_000)]], [np.zeros(20_000)], rng)[0][0]
    assert abs(noisy.std() - 0.5) < 0.01 and abs(noisy.mean()) < 0.01
    assert set(ATTACKS) == {"sign_flip", "scaling", "gaussian_noise", "label_flip", "overflow", "collude"}


def test_label_flip_poisons_training_labels_only():
    data = from_arrays([(np.zeros((8, 2)), np.array([0, 1, 2, 0, 1, 2, 0, 1]))], names=["a"])["a"]
    poisoned = LabelFlip().poison(data, n_classes=3)
    np.testing.assert_array_equal(poisoned.y_train, 2 - data.y_train)
    np.testing.assert_array_equal(poisoned.y_test, data.y_test)
    reg = from_arrays([(np.zeros((4, 1)), np.array([0.5, -1.0, 2.0, 3.0]))], names=["r"])["r"]
    np.testing.assert_array_equal(LabelFlip().poison(reg, n_classes=None).y_train, -reg.y_train)
    with pytest.raises(FederationError, match="label flipping"):
        LabelFlip().poison(data, n_classes=None)


# --------------------------------------------------------------------------- in the round loop


def _toy(n_domains=7, seed=0, rows=100):
    return toy_domains(n_domains, seed=seed, rows=rows)


def test_attacks_in_the_loop_are_recorded_and_robust_rules_hold():
    data = _toy()
    kw = dict(rounds=6, progress=False)
    honest = run_federated(LogisticRegression(lr=0.3), data, FedAvg(), **kw).final["accuracy"]
    h = run_federated(LogisticRegression(lr=0.3), data, Krum(f=1), attack=Overflow(), attacked=["d0"], **kw)
    assert all(r["attacked"] == ["d0"] for r in h.rounds)
    assert h.final["accuracy"] > honest - 0.05
    flipped = run_federated(LogisticRegression(lr=0.3), data, FedMedian(), attack=LabelFlip(),
                            attacked=["d2"], **kw)
    assert flipped.final["accuracy"] > honest - 0.05
    with pytest.raises(FederationError, match="attack"):
        run_federated(LogisticRegression(), data, attack=SignFlip(), **kw)
    with pytest.raises(FederationError, match="attack"):
        run_federated(LogisticRegression(), data, attack=SignFlip(), attacked=["nope"], **kw)


def test_robustness_table_every_rule_against_every_attack():
    data = _toy()
    table = robustness_table(LogisticRegression(lr=0.3), data, attacked=["d1", "d4"], rounds=4,
                             rules={"fedavg": FedAvg(), "median": FedMedian(),
                                    "trimmed_mean": FedTrimmedAvg(beta=0.3), "krum": Krum(f=2),
                                    "multikrum": MultiKrum(f=2), "bulyan": Bulyan(f=2)})
    assert table["rule"].to_list() == ["fedavg", "median", "trimmed_mean", "krum", "multikrum", "bulyan"]
    assert table.columns[2:9] == ["none", *ATTACKS]
    rows = {r["rule"]: r for r in table.iter_rows(named=True)}
    # Bulyan with f = 2 needs 11 domains: no numbers, a note saying why
    assert all(rows["bulyan"][a] is None for a in ["none", *ATTACKS]) and "too large" in rows["bulyan"]["note"]
    for rule in ("median", "trimmed_mean", "krum", "multikrum"):
        for attack in ATTACKS:
            assert rows[rule][attack] >= rows[rule]["none"] - 0.1, (rule, attack)
    assert rows["fedavg"]["sign_flip"] is None or rows["fedavg"]["sign_flip"] < rows["fedavg"]["none"] - 0.1


# --------------------------------------------------------------------------- failing domains


class WrongShape(DomainClient):
    def fit(self, parameters, config):
        params, n = super().fit(parameters, config)
        return [params[0][:-1], *params[1:]], n


class NoExamples(DomainClient):
    def fit(self, parameters, config):
        params, _ = super().fit(parameters, config)
        return params, 0


class EvaluateFails(DomainClient):
    def evaluate(self, parameters):
        raise RuntimeError("test set unreadable")


@pytest.mark.parametrize(("cls", "why"), [(WrongShape, "shape"), (NoExamples, "at least one example"),
                                          (EvaluateFails, "evaluate: RuntimeError")])
def test_a_bad_answer_is_left_out_and_recorded_not_fatal(cls, why):
    data = _toy(n_domains=4)
    clients = {name: (cls if name == "d2" else DomainClient)(d, LogisticRegression(lr=0.3, seed=i))
               for i, (name, d) in enumerate(data.items())}
    h = run_federated(LogisticRegression(lr=0.3), data, rounds=3, progress=False, clients=clients)
    assert len(h.rounds) == 3
    assert [d for _, d, _ in h.failures] == ["d2"] * 3
    assert all(why in reason for _, _, reason in h.failures)
    if cls is EvaluateFails:
        assert all("d2" in r["answered"] and "d2" not in r["per_domain"] for r in h.rounds)
    else:
        assert all("d2" not in r["answered"] and "d2" in r["per_domain"] for r in h.rounds)
    assert 0.5 < h.final["accuracy"] <= 1.0


def test_robustness_table_default_rules_and_a_smaller_f_on_few_domains():
    data = _toy(n_domains=4)
    table = robustness_table(LogisticRegression(lr=0.3), data, attacked=["d1"], rounds=3, f=0,
                             attacks={"overflow": Overflow(), "sign_flip": SignFlip(scale=4.0)})
    rows = {r["rule"]: r for r in table.iter_rows(named=True)}
    assert list(rows) == ["fedavg", "median", "trimmed_mean", "krum", "multikrum", "bulyan"]
    assert rows["krum"]["strategy"] == "Krum(f=0, m=None)" and rows["trimmed_mean"]["strategy"] == "FedTrimmedAvg(beta=0.375)"
    assert rows["krum"]["overflow"] >= rows["krum"]["none"] - 0.15
    assert rows["median"]["sign_flip"] > rows["fedavg"]["sign_flip"] + 0.2
    # f = 0 promises nothing: Multi-Krum averages all n, so it refuses the infinitely far domain
    assert rows["multikrum"]["overflow"] is None and "finite Krum score" in rows["multikrum"]["note"]
    with pytest.raises(FederationError, match="attacked"):
        robustness_table(LogisticRegression(), data, attacked=["zz"])
