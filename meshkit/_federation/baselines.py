"""The two references every federated result is compared with.

* centralized: one model on the pooled training data of all domains (the reference a mesh
  avoids in practice, since it moves raw data);
* local-only: each domain trains alone, evaluated on its own and on every other domain's
  test data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshkit._display import Details, Displayable, Heading, Table
from meshkit._federation._base import clone
from meshkit._federation.data import DomainData, pool
from meshkit._federation.models import Model
from meshkit._federation.rounds import _mesh_model, weighted_metrics

__all__ = ["LocalResult", "train_centralized", "train_local"]


def train_centralized(model: Model, datasets: dict[str, DomainData], *, epochs: int = 10,
                      seed: int = 0, eval_every: bool = False):
    """Train one model on the pooled training data; evaluate it on every domain's test set.

    Parameters
    ----------
    model : Model
        A prototype (copied, not changed).
    datasets : dict of str to DomainData
    epochs : int, default 10
        Epochs over the pooled data (use ``rounds * local_epochs`` to match a federated run).
    seed : int, default 0
    eval_every : bool, default False
        Also return the weighted metrics after each epoch (for convergence curves).

    Returns
    -------
    model : Model
        The trained copy.
    metrics : dict
        ``{"overall": weighted metrics, "per_domain": {domain: metrics}}``, plus ``"curve"``
        (list of per-epoch weighted metrics) when ``eval_every``.

    Examples
    --------
    >>> from meshkit._federation import LogisticRegression, from_arrays
    >>> rng = np.random.default_rng(0)
    >>> data = from_arrays([(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(2, 50, 2))])
    >>> _, m = train_centralized(LogisticRegression(lr=0.5), data, epochs=5)
    >>> m["overall"]["accuracy"] > 0.8
    True
    """
    central = _mesh_model(model, datasets.values()).set_params(seed=seed)
    X, y = pool(datasets)
    curve = []

    def evaluate():
        per = {}
        for name, d in datasets.items():
            per[name] = (d.n_test, central.evaluate(d.X_test, d.y_test))
        return per

    if eval_every:
        for _ in range(epochs):
            central.fit(X, y, epochs=1)
            curve.append(weighted_metrics(list(evaluate().values())))
    else:
        central.fit(X, y, epochs=epochs)
    per = evaluate()
    out = {"overall": weighted_metrics(list(per.values())), "per_domain": {k: m for k, (_, m) in per.items()}}
    if eval_every:
        out["curve"] = curve
    return central, out


@dataclass(repr=False)
class LocalResult(Displayable):
    """Local-only models and their cross-domain evaluation.

    Attributes
    ----------
    models : dict of str to Model
        Each domain's model, trained on its data alone.
    cross : dict of (str, str) to dict
        ``cross[(trained_on, tested_on)]`` -> metrics.
    sizes : dict of str to int
        Test set sizes.
    """

    models: dict
    cross: dict
    sizes: dict

    def matrix(self, metric: str) -> tuple[list[str], np.ndarray]:
        """``(names, M)`` with ``M[i, j]`` = metric of domain i's model on domain j's test set."""
        names = list(self.models)
        return names, np.array([[self.cross[(a, b)][metric] for b in names] for a in names])

    def own(self, metric: str) -> dict[str, float]:
        """Each local model on its own domain's test set."""
        return {n: self.cross[(n, n)][metric] for n in self.models}

    def mean_over_domains(self) -> dict[str, float]:
        """For every test domain, the example-weighted mean over all local models of their
        metrics there, then averaged over models: the expected score of "some domain's model"
        on the whole mesh."""
        names = list(self.models)
        per_model = [weighted_metrics([(self.sizes[b], self.cross[(a, b)]) for b in names]) for a in names]
        return {k: float(np.mean([m[k] for m in per_model])) for k in per_model[0]}

    def to_frame(self, metric: str):
        """A polars DataFrame: one row per trained-on domain, one column per tested-on domain."""
        import polars as pl

        names, M = self.matrix(metric)
        return pl.DataFrame({"trained_on": names, **{b: M[:, j] for j, b in enumerate(names)}})

    def to_dict(self) -> dict:
        """JSON-ready: test sizes and ``cross[trained_on][tested_on]`` metrics (no models)."""
        names = list(self.models)
        return {"domains": names, "sizes": {n: int(v) for n, v in self.sizes.items()},
                "cross": {a: {b: {k: float(v) for k, v in self.cross[(a, b)].items()}
                              for b in names} for a in names}}

    def _render(self) -> list:
        names = list(self.models)
        metrics = list(self.cross[(names[0], names[0])]) if names else []
        return [Heading(f"Local-only models of {len(names)} domains (row: trained on, "
                        "column: tested on)")] + [
            Details(metric, [Table.from_frame(self.to_frame(metric))], open=i == 0)
            for i, metric in enumerate(metrics)]

    def __repr__(self) -> str:
        return f"LocalResult(domains={list(self.models)})"


def train_local(model: Model, datasets: dict[str, DomainData], *, epochs: int = 10, seed: int = 0) -> LocalResult:
    """Train each domain's model on its own data only; evaluate it on every domain.

    Examples
    --------
    >>> from meshkit._federation import LogisticRegression, from_arrays
    >>> rng = np.random.default_rng(0)
    >>> data = from_arrays([(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(2, 50, 2))])
    >>> res = train_local(LogisticRegression(lr=0.5), data, epochs=5)
    >>> res.matrix("accuracy")[1].shape
    (2, 2)
    """
    prototype = _mesh_model(model, datasets.values())
    models, cross = {}, {}
    for i, (name, d) in enumerate(datasets.items()):
        local = clone(prototype).set_params(seed=int(np.random.default_rng([seed, i]).integers(2**31)))
        models[name] = local.fit(d.X_train, d.y_train, epochs=epochs)
    for a, m in models.items():
        for b, d in datasets.items():
            cross[(a, b)] = m.evaluate(d.X_test, d.y_test)
    return LocalResult(models, cross, {n: d.n_test for n, d in datasets.items()})
