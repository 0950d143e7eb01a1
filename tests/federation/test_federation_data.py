"""Partitioners, Synthetic(alpha, beta) and the scenario glue."""

from __future__ import annotations

import numpy as np
import pytest

from meshkit import FederationError
from meshkit import dirichlet_partition, federated_standardize, from_arrays, iid_partition, natural_partition, pool, synthetic


def _is_partition(parts, n):
    allrows = np.concatenate(parts)
    return len(allrows) == n and np.array_equal(np.sort(allrows), np.arange(n))


def test_iid_partition_covers_rows_once_and_is_seeded():
    parts = iid_partition(103, 4, seed=1)
    assert _is_partition(parts, 103)
    assert [len(p) for p in parts] == [26, 26, 26, 25]
    assert all(np.array_equal(a, b) for a, b in zip(parts, iid_partition(103, 4, seed=1)))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, iid_partition(103, 4, seed=2)))


def test_dirichlet_partition_skew_grows_as_alpha_shrinks():
    y = np.repeat(np.arange(10), 200)

    def skew(alpha):
        parts = dirichlet_partition(y, 10, alpha=alpha, min_partition_size=20, seed=0)
        assert _is_partition(parts, len(y))
        assert min(len(p) for p in parts) >= 20
        # mean over partitions of the share of their most common class
        return np.mean([np.bincount(y[p], minlength=10).max() / len(p) for p in parts])

    assert skew(0.1) > skew(1.0) > skew(100.0)
    assert skew(100.0) < 0.25


def test_dirichlet_partition_is_seeded_and_refuses_impossible_sizes():
    y = np.repeat([0, 1], 50)
    a = dirichlet_partition(y, 4, alpha=0.5, min_partition_size=5, seed=3)
    b = dirichlet_partition(y, 4, alpha=0.5, min_partition_size=5, seed=3)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    with pytest.raises(FederationError, match="min|rows"):
        dirichlet_partition(y, 4, alpha=0.5, min_partition_size=40, seed=0, max_tries=5)
    with pytest.raises(FederationError, match="alpha"):
        dirichlet_partition(y, 4, alpha=0.0)
    with pytest.raises(FederationError, match="partitions"):
        iid_partition(3, 5)


def test_natural_partition_by_a_column():
    import polars as pl

    parts = natural_partition(pl.Series(["x", "y", "x", "z"]))
    assert list(parts) == ["x", "y", "z"]
    assert parts["x"].tolist() == [0, 2]


def test_synthetic_matches_the_fedprox_setup():
    devices = synthetic(1.0, 1.0, seed=0)
    assert len(devices) == 30
    assert all(X.shape[1] == 60 and len(X) == len(y) >= 50 for X, y in devices)
    assert max(int(y.max()) for _, y in devices) <= 9
    again = synthetic(1.0, 1.0, seed=0)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(devices, again))
    # beta moves each device's feature mean: devices differ more with beta = 1 than beta = 0
    spread = lambda ds: np.std([X.mean() for X, _ in ds])  # noqa: E731
    assert spread(synthetic(0.0, 1.0, seed=1)) > spread(synthetic(0.0, 0.0, seed=1))
    with pytest.raises(FederationError):
        synthetic(-1.0, 0.0)


def test_from_arrays_and_pool():
    data = from_arrays([(np.arange(20.0).reshape(10, 2), np.arange(10)), (np.ones((4, 2)), np.zeros(4))],
                       names=["a", "b"], test_size=0.3, seed=0)
    assert (data["a"].n_train, data["a"].n_test) == (7, 3)
    X, y = pool(data)
    assert X.shape == (7 + 3, 2) and len(y) == 10
    with pytest.raises(FederationError, match="test_size"):
        from_arrays([(np.ones((4, 2)), np.zeros(4))], test_size=1.5)


def test_federated_standardize_equals_pooled_statistics():
    rng = np.random.default_rng(0)
    data = from_arrays([(rng.normal(k, k + 1, (50, 3)), np.zeros(50)) for k in range(3)], seed=0)
    raw = pool(data)[0]
    mean, std = federated_standardize(data)
    np.testing.assert_allclose(mean, raw.mean(0))
    np.testing.assert_allclose(std, raw.std(0))
    np.testing.assert_allclose(pool(data)[0].mean(0), 0.0, atol=1e-12)
