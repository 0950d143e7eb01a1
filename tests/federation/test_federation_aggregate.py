"""aggregate(): hand-computed cases, Flower's reference functions, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.server.strategy import aggregate as flwr_agg  # the reference: a "dev" dependency

import meshkit
from meshkit import FederationError, MeshkitError
from meshkit import aggregate, krum_scores, pairwise_sq_distances


def _thetas(values):
    """One single-array parameter list per domain from a list of 1-D values."""
    return [[np.asarray(v, dtype=np.float64)] for v in values]


def _random(n, seed, shapes=((3, 4), (4,), (2, 2, 2)), dtype=np.float64):
    rng = np.random.default_rng(seed)
    thetas = [[rng.normal(size=s).astype(dtype) for s in shapes] for _ in range(n)]
    weights = rng.integers(1, 100, size=n)
    return thetas, weights


# --------------------------------------------------------------------------- hand-computed


def test_top_level_name_is_the_federation_function():
    assert meshkit.aggregate is aggregate


def test_fedavg_weights_by_examples():
    out = aggregate(_thetas([[0.0, 10.0], [4.0, 2.0]]), weights=[3, 1])
    np.testing.assert_allclose(out[0], [1.0, 8.0])


def test_fedavg_without_weights_is_the_mean_and_mean_ignores_weights():
    thetas = _thetas([[0.0], [1.0], [5.0]])
    np.testing.assert_allclose(aggregate(thetas)[0], [2.0])
    np.testing.assert_allclose(aggregate(thetas, weights=[100, 1, 1], method="mean")[0], [2.0])


def test_median_is_coordinatewise_and_unweighted():
    thetas = _thetas([[1.0, 9.0], [2.0, 0.0], [100.0, 5.0], [3.0, 4.0]])
    out = aggregate(thetas, weights=[1000, 1, 1, 1], method="median")
    np.testing.assert_allclose(out[0], [2.5, 4.5])


def test_trimmed_mean_cuts_floor_beta_n_per_tail():
    values = [[-100.0], [1.0], [2.0], [3.0], [100.0]]
    # n = 5, beta = 0.3 -> floor(1.5) = 1 value cut per tail -> mean(1, 2, 3)
    np.testing.assert_allclose(aggregate(_thetas(values), method="trimmed_mean", beta=0.3)[0], [2.0])
    # beta = 0.1 -> floor(0.5) = 0 cut: the plain mean
    np.testing.assert_allclose(aggregate(_thetas(values), method="trimmed_mean", beta=0.1)[0], [1.2])


def test_krum_scores_sum_the_n_minus_f_minus_2_nearest():
    # points on a line: 0, 1, 2, 10 ; n=4, f=1 -> 1 nearest neighbour each
    d = pairwise_sq_distances(np.array([[0.0], [1.0], [2.0], [10.0]]))
    np.testing.assert_allclose(krum_scores(d, f=1), [1.0, 1.0, 1.0, 64.0])
    # n=5 with f=0 -> 3 nearest: for 0: 1 + 4 + 9
    d = pairwise_sq_distances(np.array([[0.0], [1.0], [2.0], [3.0], [50.0]]))
    np.testing.assert_allclose(krum_scores(d, f=0)[0], 14.0)


def test_krum_picks_a_domain_in_the_dense_cluster_not_the_outlier():
    thetas = _thetas([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [0.1, 0.1], [50.0, -50.0]])
    out = aggregate(thetas, method="krum", f=1)[0]
    assert any(np.array_equal(out, t[0]) for t in thetas[:4])


def test_multikrum_is_the_weighted_mean_of_the_m_best():
    thetas = _thetas([[0.0], [1.0], [2.0], [3.0], [100.0]])
    # f=1 -> 2 nearest; scores: 0:1+4=5, 1:1+1=2, 2:1+1=2, 3:1+4=5, 100: big
    out = aggregate(thetas, weights=[1, 1, 3, 1, 1], method="multikrum", f=1, m=2)[0]
    np.testing.assert_allclose(out, [(1.0 * 1 + 2.0 * 3) / 4])


def test_bulyan_hand_case():
    # n = 7, f = 1: theta = 5 selected by repeated Krum (the outliers 50 and -60 are never
    # selected), beta = 3 values closest to the median averaged
    thetas = _thetas([[0.0], [1.0], [2.0], [3.0], [4.0], [50.0], [-60.0]])
    out = aggregate(thetas, method="bulyan", f=1)[0]
    np.testing.assert_allclose(out, [2.0])


def test_output_keeps_shapes_and_dtype():
    thetas, w = _random(4, 0, dtype=np.float32)
    for method in ("fedavg", "median", "trimmed_mean", "krum"):
        out = aggregate(thetas, w, method=method)
        assert [a.shape for a in out] == [a.shape for a in thetas[0]]
        assert all(a.dtype == np.float32 for a in out)


def test_mapping_input_names_the_domain_in_errors():
    thetas = {"orders": [np.ones(2)], "clickstream": [np.array([1.0, np.nan])]}
    with pytest.raises(FederationError, match="clickstream"):
        aggregate(thetas)


# --------------------------------------------------------------------------- against Flower


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fedavg_matches_flower(seed):
    thetas, w = _random(7, seed)
    ref = flwr_agg.aggregate(list(zip(thetas, w.tolist())))
    for ours, theirs in zip(aggregate(thetas, w), ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [5, 6])
def test_median_matches_flower(n):
    thetas, w = _random(n, n)
    ref = flwr_agg.aggregate_median(list(zip(thetas, w.tolist())))
    for ours, theirs in zip(aggregate(thetas, w, method="median"), ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize(("n", "beta"), [(10, 0.1), (10, 0.25), (7, 0.3), (9, 0.0)])
def test_trimmed_mean_matches_flower(n, beta):
    thetas, w = _random(n, 3)
    ref = flwr_agg.aggregate_trimmed_avg(list(zip(thetas, w.tolist())), beta)
    for ours, theirs in zip(aggregate(thetas, w, method="trimmed_mean", beta=beta), ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("n", "f"), [(5, 1), (9, 2), (12, 3), (7, 0)])
def test_krum_matches_flower(n, f):
    thetas, w = _random(n, 10 + n)
    ref = flwr_agg.aggregate_krum(list(zip(thetas, w.tolist())), num_malicious=f, to_keep=0)
    for ours, theirs in zip(aggregate(thetas, w, method="krum", f=f), ref):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(("n", "f", "m"), [(7, 1, 3), (10, 2, 5), (6, 1, 1)])
def test_multikrum_matches_flower(n, f, m):
    thetas, w = _random(n, 20 + n)
    ref = flwr_agg.aggregate_krum(list(zip(thetas, w.tolist())), num_malicious=f, to_keep=m)
    for ours, theirs in zip(aggregate(thetas, w, method="multikrum", f=f, m=m), ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("n", "f"), [(7, 1), (11, 2), (5, 0)])
def test_bulyan_matches_flower(n, f):
    thetas, w = _random(n, 30 + n)
    ref = flwr_agg.aggregate_bulyan(list(zip(thetas, w.tolist())), num_malicious=f,
                                    aggregation_rule=flwr_agg.aggregate_krum, to_keep=0)
    for ours, theirs in zip(aggregate(thetas, w, method="bulyan", f=f), ref):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_krum_matches_flower_with_byzantine_domains():
    rng = np.random.default_rng(5)
    honest = [[rng.normal(0, 1, 50)] for _ in range(8)]
    byzantine = [[rng.normal(0, 1, 50) + 30.0] for _ in range(2)]
    thetas = honest + byzantine
    ref = flwr_agg.aggregate_krum([(t, 1) for t in thetas], num_malicious=2, to_keep=0)
    ours = aggregate(thetas, method="krum", f=2)
    np.testing.assert_array_equal(ours[0], ref[0])
    assert ours[0].max() < 10


# --------------------------------------------------------------------------- bad input


def test_empty_round_is_refused():
    with pytest.raises(FederationError, match="at least one domain"):
        aggregate([])


def test_mismatched_array_counts_name_the_domain():
    thetas = [[np.ones(2), np.ones(3)], [np.ones(2)]]
    with pytest.raises(FederationError) as err:
        aggregate(thetas)
    assert err.value.where == "domain 1"
    assert "2 arrays" in str(err.value) and "found 1" in str(err.value)


def test_mismatched_shapes_name_the_domain_and_array():
    thetas = {"a": [np.ones(2), np.ones((3, 2))], "b": [np.ones(2), np.ones((2, 3))]}
    with pytest.raises(FederationError) as err:
        aggregate(thetas)
    assert err.value.where == "domain 'b', array 1"
    assert "(3, 2)" in str(err.value) and "(2, 3)" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused(bad):
    thetas = [[np.ones(3), np.ones(2)], [np.ones(3), np.array([1.0, bad])]]
    with pytest.raises(FederationError) as err:
        aggregate(thetas, method="median")
    assert err.value.where == "domain 1, array 1"


@pytest.mark.parametrize("weights", [[1, 0], [1, -2], [1, np.nan], [1]])
def test_bad_weights_are_refused(weights):
    with pytest.raises(FederationError, match="weight"):
        aggregate(_thetas([[1.0], [2.0]]), weights=weights)


@pytest.mark.parametrize(("method", "n", "f"), [("krum", 4, 1), ("multikrum", 6, 2), ("bulyan", 6, 1),
                                                ("bulyan", 10, 2)])
def test_f_too_large_for_n(method, n, f):
    with pytest.raises(FederationError, match="too large") as err:
        aggregate(_thetas([[float(i)] for i in range(n)]), method=method, f=f)
    assert f"n = {n}" in str(err.value)


@pytest.mark.parametrize(("method", "options"), [
    ("trimmed_mean", {"beta": 0.5}), ("trimmed_mean", {"beta": -0.1}), ("krum", {"f": -1}),
    ("multikrum", {"f": 1, "m": 0}), ("multikrum", {"f": 1, "m": 9}), ("median", {"beta": 0.1}),
    ("nope", {}),
])
def test_bad_methods_and_options(method, options):
    with pytest.raises(FederationError):
        aggregate(_thetas([[float(i)] for i in range(7)]), method=method, **options)


def test_errors_belong_to_the_one_tree():
    with pytest.raises(MeshkitError):
        aggregate([[np.ones(1)], [np.ones(2)]])


# --------------------------------------------------------------------------- properties

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 9), size=st.integers(1, 6), seed=st.integers(0, 10_000),
       method=st.sampled_from(["fedavg", "mean", "median", "trimmed_mean", "krum", "multikrum"]))
def test_order_of_domains_does_not_matter(n, size, seed, method):
    rng = np.random.default_rng(seed)
    thetas = [[rng.normal(size=size), rng.normal(size=(2, size))] for _ in range(n)]
    weights = rng.integers(1, 50, n)
    options = {"trimmed_mean": {"beta": 0.25}, "krum": {"f": 0}, "multikrum": {"f": 0, "m": 2}}.get(method, {})
    if method in ("krum", "multikrum"):  # Krum breaks exact ties by position, as Flower does
        flat = np.stack([np.concatenate([a.ravel() for a in t]) for t in thetas])
        scores = np.sort(krum_scores(pairwise_sq_distances(flat), 0))
        assume(np.all(np.diff(scores) > 1e-9 * (1 + scores[-1])))
    perm = rng.permutation(n)
    a = aggregate(thetas, weights, method, **options)
    b = aggregate([thetas[i] for i in perm], weights[perm], method, **options)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 8), value=st.floats(-1e6, 1e6), method=st.sampled_from(sorted(
    ["fedavg", "mean", "median", "trimmed_mean", "krum", "multikrum", "bulyan"])))
def test_identical_domains_aggregate_to_their_common_value(n, value, method):
    thetas = [[np.full(3, value)] for _ in range(n)]
    out = aggregate(thetas, method=method)[0]
    np.testing.assert_allclose(out, value, rtol=1e-12, atol=1e-300)  # subnormals round


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 8))
def test_robust_rules_stay_within_the_coordinatewise_range(seed, n):
    rng = np.random.default_rng(seed)
    thetas = [[rng.normal(size=5)] for _ in range(n)]
    stacked = np.stack([t[0] for t in thetas])
    for method in ("fedavg", "median", "trimmed_mean"):
        out = aggregate(thetas, rng.integers(1, 9, n), method)[0]
        assert np.all(out >= stacked.min(0) - 1e-12) and np.all(out <= stacked.max(0) + 1e-12)


@pytest.mark.parametrize("method", sorted(["fedavg", "mean", "median", "trimmed_mean", "krum", "multikrum",
                                           "bulyan"]))
def test_empty_and_scalar_arrays_keep_their_shapes(method):
    thetas = [[np.full((2, 2), float(i)), np.zeros(0), np.array(float(i))] for i in range(5)]
    out = aggregate(thetas, method=method)
    assert [a.shape for a in out] == [(2, 2), (0,), ()]
