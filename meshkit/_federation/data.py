"""Per-domain datasets: the glue between scenarios and federated training.

A :class:`DomainData` holds one domain's train/test split; :func:`from_arrays` builds them
from ``(X, y)`` pairs (seeded splits) and :func:`federated_standardize` standardizes them with
federated statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from meshkit._errors import FederationError

__all__ = ["DomainData", "federated_standardize", "pool", "from_arrays", "training_data"]


@dataclass(repr=False)
class DomainData:
    """One domain's local data: train and test features and labels.

    For matrix factorization ``X_*`` are ``(user, item)`` pairs and ``y_test`` the sampled
    negatives of each held-out pair (``y_train`` is unused).

    ``provenance`` says what the data was read from, for the audit record of every round:
    e.g. ``{"product": "orders", "product_version": 3, "contract_version": "1.2.0"}``
    (empty when the data did not come from a published product).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    provenance: dict = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        return len(self.X_train)

    @property
    def n_test(self) -> int:
        return len(self.X_test)

    def __repr__(self) -> str:
        return f"DomainData({self.name!r}, train={self.n_train}, test={self.n_test})"


def _split(n: int, test_size: float, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The train and test rows of the domain at position ``index``: one function for
    :func:`from_arrays` and :func:`training_data`, so every engine splits the same way."""
    order = np.random.default_rng([seed, index]).permutation(n)
    n_test = max(1, int(round(test_size * n)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def from_arrays(parts, *, names=None, test_size: float = 0.25, seed: int = 0) -> dict[str, DomainData]:
    """Split ``(X, y)`` pairs, one per domain, into seeded train/test sets.

    Examples
    --------
    >>> d = from_arrays([(np.zeros((8, 2)), np.zeros(8))], names=["a"], test_size=0.25)
    >>> d["a"]
    DomainData('a', train=6, test=2)
    """
    if not 0 < test_size < 1:
        raise FederationError("test_size is a fraction", where="test_size",
                              expected="0 < test_size < 1", found=repr(test_size))
    names = list(names) if names is not None else [f"domain_{i}" for i in range(len(parts))]
    out = {}
    for i, (name, (X, y)) in enumerate(zip(names, parts)):
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if len(X) < 2:
            raise FederationError("a domain needs at least two rows to split", where=f"domain {name!r}",
                                  expected=">= 2 rows", found=f"{len(X)}")
        tr, te = _split(len(X), test_size, seed, i)
        out[name] = DomainData(name, X[tr], y[tr], X[te], y[te])
    return out


def training_data(frame, name: str, *, features, target: str, test_size: float = 0.25, seed: int = 0,
                  index: int = 0, standardize: bool = False, scaling=None,
                  provenance: dict | None = None) -> DomainData:
    """One domain's :class:`DomainData` from a product frame (as its reader was allowed to see it).

    The split is :func:`from_arrays`' for the domain at position ``index`` (the same rows go
    to test for the same frame, seed and position, whichever engine trains). With
    ``standardize`` the features are standardized with the domain's own training mean and
    deviation (nothing is shared). With ``scaling``, the federation's ``(mean, std)`` (what
    :func:`federated_standardize` returns from every domain's sufficient statistics), they are
    standardized with those: the domain then trains on what :func:`federated_standardize`
    gives it.

    Raises
    ------
    FederationError
        A feature or the target is not in the frame (e.g. hidden from the reader), a feature
        is masked into text, or ``scaling`` is not one finite mean and one positive deviation
        per feature (or comes with ``standardize``).

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]})
    >>> training_data(frame, "a", features=["x"], target="y")
    DomainData('a', train=3, test=1)
    """
    features = list(features)
    if scaling is not None:
        if standardize:
            raise FederationError("standardize with the domain's own statistics or the federation's, not both",
                                  where=f"domain {name!r}", expected="standardize=False with scaling",
                                  found="standardize=True and scaling")
        scaling = check_scaling(scaling, len(features), where=f"domain {name!r}")
    missing = [c for c in [*features, target] if c not in frame.columns]
    if missing:
        raise FederationError("the product the domain may read lacks the task's columns",
                              where=f"domain {name!r}", expected=", ".join([*features, target]),
                              found=f"no {', '.join(missing)} among {', '.join(frame.columns) or 'no columns'}")
    try:
        X = frame.select(features).to_numpy().astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise FederationError("a feature is not numeric as read (masked?)", where=f"domain {name!r}",
                              expected="numeric features", found=str(exc).split("\n")[0]) from None
    y = frame[target].to_numpy()
    y = y.astype(np.int64) if np.issubdtype(y.dtype, np.integer) or y.dtype == bool else y.astype(np.float64)
    if len(X) < 2:
        raise FederationError("a domain needs at least two rows to split", where=f"domain {name!r}",
                              expected=">= 2 rows", found=f"{len(X)}")
    tr, te = _split(len(X), test_size, seed, index)
    data = DomainData(name, X[tr], y[tr], X[te], y[te], dict(provenance or {}))
    if standardize:
        mean, std = data.X_train.mean(0), data.X_train.std(0)
        std[std == 0] = 1.0
        data.X_train, data.X_test = (data.X_train - mean) / std, (data.X_test - mean) / std
    elif scaling is not None:
        mean, std = scaling
        data.X_train, data.X_test = (data.X_train - mean) / std, (data.X_test - mean) / std
    return data


def check_scaling(scaling, n_features: int, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``scaling`` as two float arrays ``(mean, std)`` of ``n_features`` each (finite means,
    finite positive deviations), or a :class:`FederationError` naming ``where``."""
    try:
        mean, std = (np.asarray(v, dtype=np.float64) for v in scaling)
    except (TypeError, ValueError):
        raise FederationError("scaling is the federation's (mean, std)", where=where,
                              expected=f"two sequences of {n_features} numbers", found=repr(scaling)[:200]) from None
    if mean.shape != (n_features,) or std.shape != (n_features,):
        raise FederationError("scaling has one mean and one deviation per feature", where=where,
                              expected=f"{n_features} of each", found=f"shapes {mean.shape} and {std.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise FederationError("scaling needs finite means and finite positive deviations", where=where,
                              expected="std > 0, all finite", found=f"mean {mean.tolist()}, std {std.tolist()}")
    return mean, std


def federated_standardize(datasets: dict[str, DomainData]) -> tuple[np.ndarray, np.ndarray]:
    """Standardize every domain with the pooled mean and deviation of the training sets.

    Each domain shares only ``(n, sum, sum of squares)`` per feature, the sufficient
    statistics a server needs; raw rows never leave the domain. Modifies ``datasets`` in
    place and returns ``(mean, std)``.
    """
    stats = np.array([[d.n_train, *d.X_train.sum(0), *(d.X_train ** 2).sum(0)] for d in datasets.values()])
    n = stats[:, 0].sum()
    k = (stats.shape[1] - 1) // 2
    mean = stats[:, 1:1 + k].sum(0) / n
    std = np.sqrt(np.maximum(stats[:, 1 + k:].sum(0) / n - mean ** 2, 0.0))
    std[std == 0] = 1.0
    for d in datasets.values():
        d.X_train = (d.X_train - mean) / std
        d.X_test = (d.X_test - mean) / std
    return mean, std


def pool(datasets: dict[str, DomainData]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate every domain's training data: the centralized reference.

    Examples
    --------
    >>> d = from_arrays([(np.ones((4, 1)), np.ones(4)), (np.zeros((4, 1)), np.zeros(4))])
    >>> pool(d)[0].shape
    (6, 1)
    """
    return (np.concatenate([d.X_train for d in datasets.values()]),
            np.concatenate([d.y_train for d in datasets.values()]))
