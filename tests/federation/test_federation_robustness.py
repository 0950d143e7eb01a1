"""Overflow, ties and bad answers: the robust rules and metrics cannot be fooled by scale."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from meshkit import aggregate, hit_rate_ndcg, krum_scores, pairwise_sq_distances


def _honest(n, seed=0, dtype=np.float64, size=6):
    rng = np.random.default_rng(seed)
    return [[rng.normal(1.0, 0.1, size).astype(dtype)] for _ in range(n)]


@pytest.mark.parametrize(("value", "dtype"), [(1e30, np.float32), (1e200, np.float64), (-1e300, np.float64)])
@pytest.mark.parametrize(("method", "options"), [("krum", {"f": 1}), ("multikrum", {"f": 1}),
                                                 ("bulyan", {"f": 1}), ("median", {}),
                                                 ("trimmed_mean", {"beta": 0.2})])
@pytest.mark.parametrize("position", range(7))
def test_one_huge_domain_at_any_position_never_wins(value, dtype, method, options, position):
    thetas = _honest(7, dtype=dtype)
    honest = np.stack([t[0] for t in thetas])
    honest = np.delete(honest, position, axis=0)
    thetas[position] = [np.full(6, value, dtype=dtype)]
    out = aggregate(thetas, method=method, **options)[0]
    assert np.isfinite(out).all()
    # within the honest domains' coordinate-wise range: the attacker moved nothing
    assert np.all(out >= honest.min(0) - 1e-6) and np.all(out <= honest.max(0) + 1e-6)


def test_overflowing_distances_are_infinite_not_nan_and_honest_distances_exact():
    x = np.array([[0.0], [1.0], [3.0], [1e200]])
    d = pairwise_sq_distances(x)
    assert not np.isnan(d).any()
    assert np.isinf(d[3, :3]).all() and np.isinf(d[:3, 3]).all()
    np.testing.assert_allclose(d[:3, :3], [[0, 1, 9], [1, 0, 4], [9, 4, 0]])
    scores = krum_scores(d, f=0)
    assert np.isinf(scores[3]) and np.isfinite(scores[:3]).all()


def test_fedavg_with_counts_near_the_largest_float_is_the_right_mean():
    thetas = [[np.array([1.0, -2.0])], [np.array([3.0, 2.0])]]
    np.testing.assert_allclose(aggregate(thetas, weights=[1e308, 1e308])[0], [2.0, 0.0])
    np.testing.assert_allclose(aggregate(thetas, weights=[1.7e308, 0.85e308])[0], [5 / 3, -2 / 3])


def test_hit_rate_counts_ties_against_the_held_out_item():
    constant = np.zeros((50, 100))
    assert hit_rate_ndcg(constant, k=10) == (0.0, 0.0)
    assert hit_rate_ndcg(np.full((5, 100), np.nan), k=10) == (0.0, 0.0)
    held_out_nan = np.random.default_rng(0).normal(size=(5, 20))
    held_out_nan[:, 0] = np.nan
    assert hit_rate_ndcg(held_out_nan, k=10)[0] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_hit_rate_equals_scipy_rank_with_ties_at_the_max(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(200, 12)).astype(float)  # many ties
    k = 5
    ranks = np.array([rankdata(-row, method="max")[0] - 1 for row in scores])
    hits = ranks < k
    hr, ndcg = hit_rate_ndcg(scores, k=k)
    assert hr == pytest.approx(hits.mean())
    assert ndcg == pytest.approx(np.where(hits, 1 / np.log2(ranks + 2), 0).mean())
