"""Exact metrics equal scipy's on the same inputs; PSI matches a hand-computed case."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from meshkit._consistency import metrics

SIZES = [(5, 7), (300, 450), (2_000, 2_000), (9_000, 10_000), (12_000, 30_000), (20_000, 20_000)]


@pytest.mark.parametrize("n1,n2", SIZES)
def test_ks_and_wasserstein_equal_scipy(n1, n2):
    rng = np.random.default_rng(n1)
    a = rng.normal(0, 1, n1)
    b = rng.normal(0.1, 1.2, n2)
    b[: min(5, n2)] = a[: min(5, n2)]          # ties across the samples
    ours = metrics.ks_2samp(a, b)
    ref = stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=1e-9)
    assert metrics.wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-9)


def test_ties_and_discrete_values_equal_scipy():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 20_000).astype(float)
    b = rng.integers(1, 6, 15_000).astype(float)
    ours, ref = metrics.ks_2samp(a, b), stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=1e-9)
    assert metrics.wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-9)


@pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")
@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
       st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_property_equal_scipy(a, b):
    a, b = np.array(a), np.array(b)
    ours, ref = metrics.ks_2samp(a, b), stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=1e-9)
    assert metrics.wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b),
                                                      rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jensen_shannon_and_chi_square_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 50, 12)
    q = rng.integers(0, 50, 12)
    p[0] = 0  # a category absent on one side
    assert metrics.js_distance(p, q) == pytest.approx(jensenshannon(p, q), abs=1e-9)
    keep = (p + q) > 0
    stat, pvalue = metrics.chi_square(p, q)
    ref = stats.chi2_contingency(np.vstack([p[keep], q[keep]]), correction=False)
    assert stat == pytest.approx(ref.statistic, abs=1e-9)
    assert pvalue == pytest.approx(ref.pvalue, abs=1e-9)


def test_psi_hand_computed():
    # reference 0..99 -> decile bins of 10 rows each; current: 20 rows in the first
    # decile, 0 in the second, 10 in each of the other eight.
    ref = np.arange(100.0)
    cur = np.concatenate([np.linspace(0, 9, 20), np.arange(20.0, 100.0)])
    # shares: bin1 0.1 -> 0.2, bin2 0.1 -> 1e-4 (empty), others 0.1 -> 0.1
    expected = (0.2 - 0.1) * np.log(0.2 / 0.1) + (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert metrics.psi(ref, cur) == pytest.approx(expected, abs=1e-12)
    assert metrics.psi(ref, ref) == 0.0


def test_psi_from_counts_hand_computed():
    assert metrics.psi_from_counts([50, 50], [40, 60]) == pytest.approx(
        (0.4 - 0.5) * np.log(0.4 / 0.5) + (0.6 - 0.5) * np.log(0.6 / 0.5), abs=1e-12)


def test_sorted_pair_drops_nans_and_refuses_empty():
    pair = metrics.sorted_pair([np.nan, 2.0, 1.0], [3.0])
    assert pair.a.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        metrics.sorted_pair([np.nan], [1.0])


def test_wasserstein_is_the_correctly_rounded_sum_and_independent_of_memory_layout():
    # notebook 04 showed a timestamp column's W1 (about 1.9e13 microseconds) differing in
    # the 4th decimal between machines: the sum must not depend on BLAS or SIMD order
    import math

    rng = np.random.default_rng(0)
    a = np.sort(rng.normal(1.7e15, 3e13, 2000).round())
    b = np.sort(rng.normal(1.7e15 + 1.9e13, 3e13, 1801).round())

    def at(x, offset):
        buffer = np.zeros(x.size + 16)
        view = buffer[offset:offset + x.size]
        view[:] = x
        return view

    values = {metrics.wasserstein(None, None, pair=metrics.SortedPair(at(a, i), at(b, j)))
              for i in range(4) for j in range(4)}
    assert len(values) == 1
    assert values.pop() == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)
    same = np.sort(rng.normal(0.0, 1.0, 1000))
    other = np.sort(rng.normal(0.5, 1.0, 1000))
    assert metrics.wasserstein(same, other) == math.fsum(np.abs(same - other)) / 1000


@pytest.mark.parametrize("seed", range(4))
def test_wasserstein_near_the_float_limits_is_finite_where_scipys_is(seed):
    rng = np.random.default_rng(seed)
    cases = [
        (np.zeros(3), np.full(3, 1.5e308)),                       # mean of 1.5e308s overflows
        (rng.uniform(0, 1.7e308, 40), rng.uniform(0, 1.79e308, 40)),
        (rng.uniform(-1.79e308, 0, 25), rng.uniform(-1.7e308, 0, 60)),
        (rng.uniform(1.7e308, 1.79e308, 50), rng.uniform(1.6e308, 1.79e308, 70)),
    ]
    for a, b in cases:
        expected = stats.wasserstein_distance(a, b)
        assert np.isfinite(expected)
        assert metrics.wasserstein(a, b) == pytest.approx(expected, rel=1e-9)


def test_normalized_wasserstein_near_the_float_limits_is_finite():
    import polars as pl

    from meshkit import similarity

    rng = np.random.default_rng(3)
    n = 2000  # above 1,000 rows: the normalized Wasserstein rule
    a = rng.uniform(-1, 1, n) * 1.7e308
    b = rng.uniform(-0.8, 1, n) * 1.79e308
    for sketch in (False, True):
        left = pl.DataFrame({"id": np.arange(n), "x": a})
        right = pl.DataFrame({"id": np.arange(n), "x": b})
        if sketch:
            from meshkit import profile
            report = similarity(profile(left, "id"), profile(right, "id"))
        else:
            report = similarity(left, right, keys="id")
        row = report.layers["distributions"].evidence.row(0, named=True)
        assert np.isfinite(row["wasserstein"]) and np.isfinite(row["wasserstein_normed"])
        # the same figure on data scaled down by a power of two (which is exact)
        scale = 2.0 ** 600
        expected = stats.wasserstein_distance(a / scale, b / scale) / np.std(a / scale)
        assert row["wasserstein_normed"] == pytest.approx(expected, rel=1e-9 if not sketch else 0.2)


@pytest.mark.parametrize("n1,n2", [(7, 9), (120, 80), (1000, 999), (3000, 12_000), (20_000, 15_000)])
def test_ks_pvalue_from_the_statistic_equals_scipy_on_the_samples(n1, n2):
    rng = np.random.default_rng(n1 + n2)
    for shift in (0.0, 0.1, 0.5):
        a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
        ref = stats.ks_2samp(a, b)
        assert metrics.ks_pvalue(ref.statistic, n1, n2) == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(5))
def test_chi_square_gof_equals_scipy_chisquare(seed):
    rng = np.random.default_rng(seed)
    ref = rng.integers(1, 200, 6).astype(float)
    cur = rng.integers(0, 200, 6).astype(float)
    stat, p = metrics.chi_square_gof(ref, cur)
    expected = stats.chisquare(cur, ref * cur.sum() / ref.sum())
    assert stat == pytest.approx(expected.statistic, rel=1e-9)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
