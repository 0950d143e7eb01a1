"""Central DP as a wrapper over any strategy: clipping, calibrated CSPRNG noise, the expected-count
denominator, adaptive clipping, RDP accounting against dp-accounting, the budget stop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshkit import (DPAdaptiveClipping, DPFedAvg, DPFixedClipping, FedAdam, FedAvg, FederationError,
                     LogisticRegression, PrivacyBudgetError, clip_updates, dp_epsilon, from_arrays, get_strategy,
                     rounds_within_budget, run_federated)
from meshkit._federation._base import clone
from meshkit._federation.noise import gaussian_noise


def _eps_reference(z, q, steps, delta=1e-5):
    """ε computed directly with dp-accounting, default orders."""
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    event = dp_event.GaussianDpEvent(z)
    if q < 1:
        event = dp_event.PoissonSampledDpEvent(q, event)
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(event, steps)
    return acc.get_epsilon(delta)


def _parts(n_domains=8, n=100, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(n_domains):
        X = rng.normal(size=(n, 3))
        parts.append((X, (X[:, 0] + X[:, 1] > 0).astype(int)))
    return from_arrays(parts, seed=seed)


# -- clipping ---------------------------------------------------------------------------

def test_clipping_bounds_every_update_and_keeps_small_ones():
    rng = np.random.default_rng(0)
    updates = [[rng.normal(0, s, (5, 3)), rng.normal(0, s, 3)] for s in (0.01, 1.0, 10.0)]
    clipped, norms = clip_updates(updates, 1.0)
    new = [np.sqrt(sum(np.sum(a ** 2) for a in u)) for u in clipped]
    assert new[0] == pytest.approx(norms[0]) and norms[0] < 1
    assert new[1] == pytest.approx(1.0) and new[2] == pytest.approx(1.0)
    # direction is kept
    np.testing.assert_allclose(clipped[2][0] / np.linalg.norm(np.concatenate([a.ravel() for a in clipped[2]])),
                               updates[2][0] / norms[2])


def test_a_huge_update_is_clipped_not_overflowed():
    clipped, norms = clip_updates([[np.array([1e200, -1e200]), np.array([1e200])]], 2.0)
    assert norms[0] == pytest.approx(math.sqrt(3) * 1e200)
    np.testing.assert_allclose(clipped[0][0], [2 / math.sqrt(3), -2 / math.sqrt(3)])
    assert np.isfinite(np.concatenate(clipped[0])).all()


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0.0, -1.0])
def test_nonsense_clip_norms_are_refused(bad):
    with pytest.raises(FederationError, match="clip"):
        clip_updates([[np.ones(2)]], bad)
    with pytest.raises(FederationError, match="clip_norm"):
        DPFedAvg(clip_norm=bad, num_sampled=2).configure_fit(1)


@pytest.mark.parametrize("params, name", [
    ({"noise_multiplier": -1.0}, "noise_multiplier"), ({"noise_multiplier": float("inf")}, "noise_multiplier"),
    ({"noise_multiplier": float("nan")}, "noise_multiplier"), ({"num_sampled": None}, "num_sampled"),
    ({"num_sampled": 0}, "num_sampled"), ({"num_sampled": 2.5}, "num_sampled"),
    ({"num_domains": 2}, "num_domains"), ({"delta": 0.0}, "delta"), ({"delta": 1.0}, "delta"),
    ({"max_epsilon": float("inf")}, "max_epsilon"), ({"max_epsilon": 0}, "max_epsilon"),
    ({"seed": -1}, "seed"), ({"seed": "0"}, "seed"), ({"seed": True}, "seed"),
])
def test_nonsense_dp_parameters_are_refused_before_anyone_trains(params, name):
    options = {"num_sampled": 4, **params}
    s = DPFixedClipping(FedAvg(), **options)  # stored as given (scikit-learn convention) ...
    with pytest.raises(FederationError, match=name):  # ... refused at use
        s.configure_fit(1)
    with pytest.raises(FederationError):
        s.aggregate_fit(1, [np.zeros(2)], [([np.ones(2)], 1)])


def test_the_wrapped_object_must_be_a_strategy_and_adaptive_noise_must_fit():
    with pytest.raises(FederationError, match="strategy"):
        DPFixedClipping("fedavg", num_sampled=2).configure_fit(1)
    # sigma_b = 4/20 = 0.2 leaves no room for z = 1 (needs z < 2 sigma_b), as in Flower
    with pytest.raises(FederationError, match="clipped_count_stddev"):
        DPAdaptiveClipping(FedAvg(), noise_multiplier=1.0, num_sampled=4).configure_fit(1)
    for bad in ({"initial_clip_norm": float("inf")}, {"target_unclipped_quantile": 1.5},
                {"clip_norm_lr": 0.0}, {"clipped_count_stddev": -1.0}):
        with pytest.raises(FederationError, match=next(iter(bad))):
            DPAdaptiveClipping(FedAvg(), noise_multiplier=0.0, num_sampled=4, **bad).configure_fit(1)


# -- noise ------------------------------------------------------------------------------

def test_noise_has_the_calibrated_standard_deviation():
    m, P = 4, 200_000
    s = DPFedAvg(noise_multiplier=2.0, clip_norm=0.5, num_sampled=m, seed=1)
    current = [np.zeros(P)]
    results = [([np.zeros(P)], 10)] * m  # zero updates: the output is pure noise
    out = s.aggregate_fit(1, current, results)[0]
    assert out.std() == pytest.approx(2.0 * 0.5 / m, rel=0.02)
    assert abs(out.mean()) < 0.01
    again = DPFedAvg(noise_multiplier=2.0, clip_norm=0.5, num_sampled=m, seed=1).aggregate_fit(1, current, results)[0]
    np.testing.assert_array_equal(out, again)
    # the default, private noise has the same calibration
    private = DPFedAvg(noise_multiplier=2.0, clip_norm=0.5, num_sampled=m).aggregate_fit(1, current, results)[0]
    assert private.std() == pytest.approx(2.0 * 0.5 / m, rel=0.02)


def test_csprng_noise_is_standard_normal_and_never_repeats():
    from scipy import stats

    draws = gaussian_noise(100_000, 1.0)
    assert stats.kstest(draws, "norm").pvalue > 1e-4
    assert stats.kstest(gaussian_noise(100_000, 3.0) / 3.0, "norm").pvalue > 1e-4
    assert not np.array_equal(draws[:1000], gaussian_noise(1000, 1.0))
    np.random.seed(0)  # numpy's global state (what Flower draws its noise from) plays no part
    first = gaussian_noise(10, 1.0)
    np.random.seed(0)
    assert not np.array_equal(first, gaussian_noise(10, 1.0))


def test_noise_is_divided_by_the_expected_number_sampled_not_the_number_that_answered():
    P = 200_000
    # 8 domains expected per round, only 4 answered: the mean divides by 8
    s = DPFedAvg(noise_multiplier=0.0, clip_norm=10.0, num_sampled=8)
    out = s.aggregate_fit(1, [np.zeros(2)], [([np.array([1.0, 2.0])], 5)] * 4)[0]
    np.testing.assert_allclose(out, [0.5, 1.0])
    noisy = DPFedAvg(noise_multiplier=1.0, clip_norm=0.5, num_sampled=8, seed=2)
    out = noisy.aggregate_fit(1, [np.zeros(P)], [([np.zeros(P)], 5)] * 4)[0]
    assert out.std() == pytest.approx(1.0 * 0.5 / 8, rel=0.02)


def test_updates_are_averaged_without_example_weights():
    s = DPFedAvg(noise_multiplier=0.0, clip_norm=100.0, num_sampled=2)
    out = s.aggregate_fit(1, [np.ones(2)], [([np.array([3.0, 1.0])], 1000), ([np.array([1.0, 1.0])], 1)])
    np.testing.assert_allclose(out[0], [2.0, 1.0])


def test_any_strategy_post_processes_the_private_mean():
    current = [np.array([1.0, -1.0])]
    results = [([np.array([2.0, 0.0])], 1), ([np.array([4.0, -2.0])], 3)]
    wrapped = DPFixedClipping(FedAdam(), noise_multiplier=0.0, clip_norm=100.0, num_sampled=2)
    mean = [current[0] + np.mean([r[0][0] - current[0] for r in results], axis=0)]
    expected = FedAdam().aggregate_fit(1, current, [(mean, 1)])
    for rnd in (1, 2):  # the server optimizer's state carries over rounds inside the wrapper
        got = wrapped.aggregate_fit(rnd, current, results)
        if rnd == 1:
            np.testing.assert_allclose(got[0], expected[0])
    reference = FedAdam()
    reference.aggregate_fit(1, current, [(mean, 1)])
    np.testing.assert_allclose(got[0], reference.aggregate_fit(2, current, [(mean, 1)])[0])


def test_two_private_runs_with_default_arguments_add_different_noise():
    data = _parts()
    runs = [run_federated(LogisticRegression(lr=0.3), data, DPFedAvg(num_sampled=8), rounds=2, progress=False)
            for _ in range(2)]
    assert not np.array_equal(runs[0].parameters[0], runs[1].parameters[0])
    seeded = [run_federated(LogisticRegression(lr=0.3), data, DPFedAvg(num_sampled=8, seed=5), rounds=2,
                            progress=False) for _ in range(2)]
    np.testing.assert_array_equal(seeded[0].parameters[0], seeded[1].parameters[0])


def test_seeded_noise_is_labelled_not_private_wherever_it_is_shown():
    data = _parts(n_domains=4)
    seeded = DPFedAvg(num_sampled=4, seed=0)
    h = run_federated(LogisticRegression(lr=0.3), data, seeded, rounds=1, progress=False)
    assert "NOT PRIVATE" in repr(seeded) and "NOT PRIVATE" in h.strategy and "NOT PRIVATE" in repr(h)
    report = seeded.privacy_spent()
    assert report["private"] is False and "NOT PRIVATE" in report["noise"]
    private = DPFedAvg(num_sampled=4)
    h = run_federated(LogisticRegression(lr=0.3), data, private, rounds=1, progress=False)
    assert "NOT PRIVATE" not in repr(private) and "NOT PRIVATE" not in h.strategy
    assert private.privacy_spent()["private"] is True and "CSPRNG" in private.privacy_spent()["noise"]


def test_wrappers_follow_the_parameter_conventions():
    s = DPAdaptiveClipping(FedAdam(eta=0.5), noise_multiplier=0.5, num_sampled=20, max_epsilon=30.0)
    c = clone(s)
    assert c is not s and c.strategy is not s.strategy and repr(c) == repr(s)
    assert s.get_params()["max_epsilon"] == 30.0 and s.get_params()["strategy"] is s.strategy
    s.reset()
    s.aggregate_fit(1, [np.zeros(2)], [([np.ones(2)], 1)] * 3)
    assert hasattr(s, "clip_norm_") and not hasattr(clone(s), "clip_norm_")
    assert clone(DPFedAvg(num_sampled=3)).get_params() == DPFedAvg(num_sampled=3).get_params()


# -- accounting ---------------------------------------------------------------------------

def test_epsilon_shrinks_with_noise_and_sampling_and_grows_with_rounds():
    base = dp_epsilon(1.0, 0.5, 20)
    assert np.isfinite(base) and base > 0
    assert dp_epsilon(2.0, 0.5, 20) < base
    assert dp_epsilon(1.0, 0.1, 20) < base
    assert dp_epsilon(1.0, 0.5, 40) > base
    assert dp_epsilon(0.0, 0.5, 20) == float("inf")
    with pytest.raises(FederationError):
        dp_epsilon(1.0, 0.0, 10)


@pytest.mark.parametrize("z", [0.3, 1.0, 8.0])
@pytest.mark.parametrize("q", [0.001, 0.05, 0.5, 1.0])
@pytest.mark.parametrize("steps", [1, 1000])
def test_epsilon_equals_dp_accounting_with_its_default_orders(z, q, steps):
    assert dp_epsilon(z, q, steps, 1e-5) == _eps_reference(z, q, steps, 1e-5)


def test_the_orders_are_dp_accountings_defaults():
    from dp_accounting.rdp.rdp_privacy_accountant import DEFAULT_RDP_ORDERS

    from meshkit._federation import accounting

    assert accounting.RDP_ORDERS == tuple(float(o) for o in DEFAULT_RDP_ORDERS)
    assert accounting.RDP_ORDERS[0] == 1.1 and accounting.RDP_ORDERS[-1] == 1024


def test_wrapper_epsilon_equals_dp_accounting_for_the_rounds_released():
    s = DPFixedClipping(FedAvg(), noise_multiplier=1.3, num_sampled=5, num_domains=50, delta=1e-6, seed=0)
    s.reset()
    for rnd in range(1, 8):
        s.aggregate_fit(rnd, [np.zeros(3)], [([np.ones(3)], 1)] * 5)
    assert s.rounds_ == 7
    assert s.epsilon_ == _eps_reference(1.3, 0.1, 7, 1e-6)
    assert s.epsilon(delta=1e-5) == _eps_reference(1.3, 0.1, 7, 1e-5)
    # adaptive clipping is accounted with the total multiplier z (update and count noise together)
    a = DPAdaptiveClipping(FedAvg(), noise_multiplier=1.3, num_sampled=40, num_domains=400, seed=0)
    a.reset()
    for rnd in range(1, 4):
        a.aggregate_fit(rnd, [np.zeros(3)], [([np.ones(3)], 1)] * 40)
    assert a.epsilon_ == _eps_reference(1.3, 0.1, 3)
    assert a.privacy_spent()["epsilon"] == a.epsilon_


def test_adaptive_noise_split_matches_flower():
    from flwr.supercore.differential_privacy import compute_adaptive_noise_params

    for z, m, sigma_b in ((1.0, 100, None), (0.5, 40, None), (0.8, 10, 3.0)):
        a = DPAdaptiveClipping(FedAvg(), noise_multiplier=z, num_sampled=m, clipped_count_stddev=sigma_b)
        ref_sigma_b, ref_z = compute_adaptive_noise_params(z, m, sigma_b)
        assert a.count_stddev == pytest.approx(ref_sigma_b)
        assert a.update_noise_multiplier == pytest.approx(ref_z)
        # Andrew et al.: both releases together are one Gaussian mechanism of multiplier z
        assert (a.update_noise_multiplier ** -2 + (2 * a.count_stddev) ** -2) ** -0.5 == pytest.approx(z)


def test_budget_stops_before_the_round_that_would_exceed_it():
    max_eps, z, q = 6.0, 1.0, 0.5
    allowed = rounds_within_budget(z, q, max_eps)
    assert dp_epsilon(z, q, allowed) <= max_eps < dp_epsilon(z, q, allowed + 1) and allowed >= 2

    data = _parts()
    calls = []

    class Counting(LogisticRegression):
        def fit(self, X, y, **kw):
            calls.append(1)
            return super().fit(X, y, **kw)

    s = DPFedAvg(noise_multiplier=z, num_sampled=4, num_domains=8, max_epsilon=max_eps)
    with pytest.raises(PrivacyBudgetError, match="budget") as info:
        run_federated(Counting(lr=0.3), data, s, rounds=allowed + 5, fraction=0.5, progress=False)
    assert s.rounds_ == allowed
    assert s.epsilon_ <= max_eps
    assert len(calls) == 4 * allowed  # the stopped round trained nobody
    err = info.value
    assert err.rounds == allowed and err.max_epsilon == max_eps
    assert err.epsilon_spent == pytest.approx(dp_epsilon(z, q, allowed))
    assert err.epsilon_next == pytest.approx(dp_epsilon(z, q, allowed + 1)) and err.epsilon_next > max_eps
    # aggregate_fit refuses too, for a loop that never calls configure_fit
    with pytest.raises(PrivacyBudgetError):
        s.aggregate_fit(99, [np.zeros(1)], [([np.ones(1)], 1)])
    assert s.rounds_ == allowed


# -- adaptive clipping ---------------------------------------------------------------------

def _updates(norms):
    return [([np.array([n, 0.0])], 10) for n in norms]


def test_adaptive_clip_norm_rises_when_most_updates_are_clipped():
    a = DPAdaptiveClipping(FedAvg(), noise_multiplier=0.0, num_sampled=5, initial_clip_norm=0.1,
                           target_unclipped_quantile=0.5, clip_norm_lr=0.2)
    a.reset()
    a.aggregate_fit(1, [np.zeros(2)], _updates([1.0] * 5))  # every update clipped: b = 0
    assert a.clip_norms_ == [0.1]
    assert a.clip_norm_ == pytest.approx(0.1 * math.exp(0.2 * 0.5)) and a.clip_norm_ > 0.1
    rnd = 1
    while a.clip_norm_ < 1.0 and rnd < 100:  # every round clips every update ...
        rnd += 1
        a.aggregate_fit(rnd, [np.zeros(2)], _updates([1.0] * 5))
    assert all(b > a_ for a_, b in zip(a.clip_norms_, a.clip_norms_[1:]))  # ... and the norm rises each time
    assert a.clip_norm_ >= 1.0 and rnd < 100  # until it climbs past the updates' norm


def test_adaptive_clip_norm_falls_when_few_updates_are_clipped():
    a = DPAdaptiveClipping(FedAvg(), noise_multiplier=0.0, num_sampled=5, initial_clip_norm=10.0,
                           target_unclipped_quantile=0.5, clip_norm_lr=0.2)
    a.reset()
    a.aggregate_fit(1, [np.zeros(2)], _updates([0.5] * 5))  # none clipped: b = 1
    assert a.unclipped_fractions_ == [1.0]
    assert a.clip_norm_ == pytest.approx(10.0 * math.exp(-0.2 * 0.5)) and a.clip_norm_ < 10.0
    # and it settles near the median norm of varied updates
    norms = [0.1, 0.2, 0.3, 0.4, 0.5]
    for rnd in range(2, 200):
        a.aggregate_fit(rnd, [np.zeros(2)], _updates(norms))
    assert 0.25 <= a.clip_norm_ <= 0.35


def test_adaptive_count_noise_is_calibrated():
    sigma_b, m = 2.0, 10
    a = DPAdaptiveClipping(FedAvg(), noise_multiplier=0.5, num_sampled=m, clipped_count_stddev=sigma_b)
    a.reset()
    for rnd in range(1, 401):
        a.aggregate_fit(rnd, [np.zeros(1)], [([np.array([0.0])], 1)] * m)  # all unclipped: true b = 1
        a.clip_norm_ = 1.0  # keep C fixed to read the count alone
    fractions = np.array(a.unclipped_fractions_)
    assert fractions.mean() == pytest.approx(1.0, abs=0.05)
    assert fractions.std() == pytest.approx(sigma_b / m, rel=0.15)


def test_dp_run_learns_with_moderate_noise_and_tracks_its_budget():
    data = _parts()
    s = get_strategy("dpfedavg", noise_multiplier=0.5, clip_norm=1.0, num_sampled=4, num_domains=8, seed=0)
    h = run_federated(LogisticRegression(lr=0.3), data, s, rounds=10, fraction=0.5, progress=False)
    assert h.final["accuracy"] > 0.8
    assert s.rounds_ == 10
    assert s.epsilon_ == pytest.approx(dp_epsilon(0.5, 0.5, 10))
    with pytest.raises(FederationError):
        DPFedAvg(clip_norm=0.0, num_sampled=4).configure_fit(1)
    adaptive = DPAdaptiveClipping(FedAvg(), noise_multiplier=0.1, num_sampled=8, initial_clip_norm=0.05)
    h = run_federated(LogisticRegression(lr=0.3), data, adaptive, rounds=10, progress=False)
    assert h.final["accuracy"] > 0.8 and adaptive.rounds_ == 10 and len(adaptive.clip_norms_) == 10
