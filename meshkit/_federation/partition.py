"""Partitioners that split one dataset into domains for experiments.

Seeded and vectorized; each returns a list (or a dict for the natural partition) of row
index arrays, one per partition.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError

__all__ = ["iid_partition", "dirichlet_partition", "natural_partition"]


def _check_count(n_rows: int, n_partitions: int) -> None:
    if isinstance(n_partitions, bool) or not isinstance(n_partitions, (int, np.integer)) or n_partitions < 1:
        raise FederationError("n_partitions must be a positive integer", where="n_partitions",
                              expected="an int >= 1", found=repr(n_partitions))
    if n_rows < n_partitions:
        raise FederationError("fewer rows than partitions", where="n_partitions",
                              expected=f"at most {n_rows}", found=str(n_partitions))


def iid_partition(n_rows: int, n_partitions: int, *, seed: int = 0) -> list[np.ndarray]:
    """Shuffle the rows and cut them into ``n_partitions`` near-equal parts.

    Examples
    --------
    >>> [len(p) for p in iid_partition(10, 3, seed=0)]
    [4, 3, 3]
    """
    _check_count(n_rows, n_partitions)
    order = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(part) for part in np.array_split(order, n_partitions)]


def dirichlet_partition(labels, n_partitions: int, *, alpha: float = 0.5,
                        min_partition_size: int = 10, seed: int = 0,
                        max_tries: int = 100) -> list[np.ndarray]:
    """Label-skewed partition: each class is split by proportions drawn from Dir(alpha).

    As in Flower Datasets' ``DirichletPartitioner``: for every class a vector
    ``p ~ Dirichlet(alpha * 1)`` over partitions splits that class's (shuffled) rows; draws are
    repeated until every partition has at least ``min_partition_size`` rows.

    Parameters
    ----------
    labels : array_like, shape (n,)
        Class of each row.
    n_partitions : int
    alpha : float, default 0.5
        Concentration; small values give strong skew, large values approach IID.
    min_partition_size : int, default 10
    seed : int, default 0
    max_tries : int, default 100

    Raises
    ------
    FederationError
        ``alpha <= 0`` or no draw satisfied ``min_partition_size`` within ``max_tries``.

    Examples
    --------
    >>> y = np.repeat([0, 1], 50)
    >>> parts = dirichlet_partition(y, 3, alpha=1.0, min_partition_size=5, seed=1)
    >>> sum(len(p) for p in parts), min(len(p) for p in parts) >= 5
    (100, True)
    """
    y = np.asarray(labels).reshape(-1)
    _check_count(len(y), n_partitions)
    if not alpha > 0:
        raise FederationError("alpha must be positive", where="alpha", expected="> 0", found=repr(alpha))
    rng = np.random.default_rng(seed)
    classes, inverse = np.unique(y, return_inverse=True)
    for _ in range(max_tries):
        props = rng.dirichlet(np.full(n_partitions, float(alpha)), size=len(classes))
        owner = np.empty(len(y), dtype=np.int64)
        for c in range(len(classes)):  # one step per class, not per row
            rows = np.flatnonzero(inverse == c)
            rows = rows[rng.permutation(len(rows))]
            cuts = (np.cumsum(props[c])[:-1] * len(rows)).astype(np.int64)
            owner[rows] = np.repeat(np.arange(n_partitions), np.diff(np.concatenate([[0], cuts, [len(rows)]])))
        sizes = np.bincount(owner, minlength=n_partitions)
        if sizes.min() >= min_partition_size:
            order = np.argsort(owner, kind="stable")
            return np.split(order, np.cumsum(sizes)[:-1])
    raise FederationError("no Dirichlet draw gave every partition enough rows",
                          where="dirichlet_partition",
                          expected=f"at least {min_partition_size} rows per partition within {max_tries} tries",
                          found=f"smallest partition {int(sizes.min())} rows (alpha={alpha})")


def natural_partition(values) -> dict[object, np.ndarray]:
    """Partition rows by the value of a column (e.g. a scenario's own domains).

    Parameters
    ----------
    values : array_like or polars.Series
        The column's values, one per row.

    Examples
    --------
    >>> natural_partition(["b", "a", "b"])
    {'a': array([1]), 'b': array([0, 2])}
    """
    v = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    keys, inverse = np.unique(v, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    parts = np.split(order, np.cumsum(np.bincount(inverse, minlength=len(keys)))[:-1])
    return {k.item() if hasattr(k, "item") else k: p for k, p in zip(keys, parts)}
