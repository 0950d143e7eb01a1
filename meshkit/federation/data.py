"""Per-domain datasets: the glue between scenarios and federated training.

A :class:`DomainData` holds one domain's train/test split; :func:`domain_datasets` builds
them from a supervised scenario (seeded splits, features standardized with federated
statistics), :func:`retail_interactions` from the retail scenario's interactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshkit.errors import FederationError

__all__ = ["DomainData", "domain_datasets", "federated_standardize", "pool", "from_arrays"]


@dataclass(repr=False)
class DomainData:
    """One domain's local data: train and test features and labels.

    For matrix factorization ``X_*`` are ``(user, item)`` pairs and ``y_test`` the sampled
    negatives of each held-out pair (``y_train`` is unused).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.X_train)

    @property
    def n_test(self) -> int:
        return len(self.X_test)

    def __repr__(self) -> str:
        return f"DomainData({self.name!r}, train={self.n_train}, test={self.n_test})"


def _split(n: int, test_size: float, rng) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
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
        tr, te = _split(len(X), test_size, np.random.default_rng([seed, i]))
        out[name] = DomainData(name, X[tr], y[tr], X[te], y[te])
    return out


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


def domain_datasets(scenario, *, test_size: float = 0.25, seed: int = 0,
                    standardize: bool = True, frames=None) -> dict[str, DomainData]:
    """Per-domain train/test splits of a supervised scenario, keyed by domain name.

    Parameters
    ----------
    scenario : meshkit.scenarios.Scenario or str
        A supervised scenario (``healthcare``, ``finance``, ``manufacturing``) or its name
        (then loaded with ``scale=1.0`` and ``seed``).
    test_size : float, default 0.25
    seed : int, default 0
        Seed of the splits.
    standardize : bool, default True
        Standardize features with :func:`federated_standardize`.
    frames : dict of str to polars.DataFrame, optional
        The training products as read elsewhere (e.g. from the run's product store);
        default ``scenario.frames``.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> data = domain_datasets(load_scenario("healthcare", scale=0.1), seed=0)
    >>> all(d.X_train.shape[1] == d.X_test.shape[1] for d in data.values())
    True
    """
    if isinstance(scenario, str):
        from meshkit.scenarios import load_scenario

        scenario = load_scenario(scenario, seed=seed)
    task = getattr(scenario, "task", None)
    if task is None or not scenario.training_products:
        raise FederationError("scenario has no supervised task", where=f"scenario {scenario.name!r}",
                              expected="a supervised scenario (healthcare, finance, manufacturing)",
                              found="task=None")
    names, parts = [], []
    for product in scenario.training_products:
        frame = (frames or scenario.frames)[product]
        try:
            domain = scenario.mesh.product(product).domain
            domain = getattr(domain, "name", domain)
        except Exception:  # a mesh without the product: fall back to the product name
            domain = product
        names.append(str(domain))
        parts.append((frame.select(task.features).to_numpy().astype(np.float64),
                      frame[task.target].to_numpy().astype(np.int64)))
    data = from_arrays(parts, names=names, test_size=test_size, seed=seed)
    if standardize:
        federated_standardize(data)
    return data


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
