"""DPFedAvg: clipping, calibrated Gaussian noise, RDP accounting."""

from __future__ import annotations

import numpy as np
import pytest

from meshkit import FederationError
from meshkit import DPFedAvg, LogisticRegression, clip_updates, dp_epsilon, from_arrays, get_strategy, run_federated


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


def test_noise_has_the_calibrated_standard_deviation():
    m, P = 4, 200_000
    s = DPFedAvg(noise_multiplier=2.0, clip_norm=0.5, seed=1)
    current = [np.zeros(P)]
    results = [([np.zeros(P)], 10)] * m  # zero updates: the output is pure noise
    out = s.aggregate_fit(1, current, results)[0]
    assert out.std() == pytest.approx(2.0 * 0.5 / m, rel=0.02)
    assert abs(out.mean()) < 0.01
    again = DPFedAvg(noise_multiplier=2.0, clip_norm=0.5, seed=1).aggregate_fit(1, current, results)[0]
    np.testing.assert_array_equal(out, again)


def test_updates_are_averaged_without_example_weights():
    s = DPFedAvg(noise_multiplier=0.0, clip_norm=100.0)
    out = s.aggregate_fit(1, [np.ones(2)], [([np.array([3.0, 1.0])], 1000), ([np.array([1.0, 1.0])], 1)])
    np.testing.assert_allclose(out[0], [2.0, 1.0])


def test_epsilon_shrinks_with_noise_and_sampling_and_grows_with_rounds():
    base = dp_epsilon(1.0, 0.5, 20)
    assert np.isfinite(base) and base > 0
    assert dp_epsilon(2.0, 0.5, 20) < base
    assert dp_epsilon(1.0, 0.1, 20) < base
    assert dp_epsilon(1.0, 0.5, 40) > base
    assert dp_epsilon(0.0, 0.5, 20) == float("inf")
    with pytest.raises(FederationError):
        dp_epsilon(1.0, 0.0, 10)


def test_dp_run_learns_with_moderate_noise_and_tracks_its_budget():
    rng = np.random.default_rng(0)
    parts = []
    for _ in range(8):
        X = rng.normal(size=(100, 3))
        parts.append((X, (X[:, 0] + X[:, 1] > 0).astype(int)))
    data = from_arrays(parts, seed=0)
    s = get_strategy("dpfedavg", noise_multiplier=0.5, clip_norm=1.0, seed=0)
    h = run_federated(LogisticRegression(lr=0.3), data, s, rounds=10, fraction=0.5, progress=False)
    assert h.final["accuracy"] > 0.8
    assert s.rounds_ == 10
    assert s.epsilon(0.5) == pytest.approx(dp_epsilon(0.5, 0.5, 10))
    with pytest.raises(FederationError):
        DPFedAvg(clip_norm=0.0)
