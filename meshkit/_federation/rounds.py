"""The round loop: sample domains, send the global model, train locally, aggregate, evaluate.

Each domain is a :class:`DomainClient` (its data never leaves it; only parameters and
example counts do). :func:`run_federated` returns a :class:`History` of per-round metrics.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from meshkit._display import Code, Details, Displayable, Heading, Table
from meshkit._errors import FederationError, NotEnoughDomainsError
from meshkit._federation.data import DomainData
from meshkit._federation.models import Model
from meshkit._federation.strategies import FedAvg, Strategy

__all__ = ["DomainClient", "History", "run_federated", "weighted_metrics"]


class DomainClient:
    """One domain taking part in federated training, like Flower's ``NumPyClient``.

    Parameters
    ----------
    data : DomainData
        The domain's local train/test data.
    model : Model
        The domain's own model instance (its private state, e.g. MF user factors, stays here).
    """

    def __init__(self, data: DomainData, model: Model) -> None:
        self.data, self.model = data, model

    @property
    def name(self) -> str:
        return self.data.name

    def fit(self, parameters, config: dict) -> tuple[list[np.ndarray], int]:
        """Train ``config["epochs"]`` local epochs from ``parameters``; return new ones and n."""
        self.model.set_parameters(parameters)
        self.model.fit(self.data.X_train, self.data.y_train, epochs=config.get("epochs"),
                       anchor=parameters, mu=config.get("mu"))
        return self.model.get_parameters(), self.data.n_train

    def evaluate(self, parameters) -> tuple[int, dict[str, float]]:
        """Metrics of ``parameters`` on the local test set, with its size."""
        self.model.set_parameters(parameters)
        return self.data.n_test, self.model.evaluate(self.data.X_test, self.data.y_test)

    def __repr__(self) -> str:
        return f"DomainClient({self.name!r})"


def weighted_metrics(results: list[tuple[int, dict]]) -> dict[str, float]:
    """Example-weighted mean of each metric over ``(n, metrics)`` pairs (NaN-aware).

    Examples
    --------
    >>> weighted_metrics([(1, {"accuracy": 1.0}), (3, {"accuracy": 0.5})])
    {'accuracy': 0.625}
    """
    out = {}
    for key in results[0][1]:
        vals = np.array([m[key] for _, m in results], dtype=np.float64)
        ns = np.array([n for n, _ in results], dtype=np.float64)
        ok = np.isfinite(vals)
        out[key] = float((vals[ok] * ns[ok]).sum() / ns[ok].sum()) if ok.any() else float("nan")
    return out


@dataclass(repr=False)
class History(Displayable):
    """Per-round record of a federated run.

    Attributes
    ----------
    rounds : list of dict
        One row per round: ``round``, ``selected`` and ``answered`` domains, ``failed``
        (domain -> reason), the weighted ``metrics`` and ``per_domain`` metrics.
    parameters : list of ndarray
        The final global parameters.
    strategy : str
        ``repr`` of the strategy used.
    """

    rounds: list[dict] = field(default_factory=list)
    parameters: list[np.ndarray] = field(default_factory=list)
    strategy: str = ""

    def metric(self, name: str) -> np.ndarray:
        """One metric per round (weighted over domains)."""
        return np.array([r["metrics"][name] for r in self.rounds])

    @property
    def final(self) -> dict[str, float]:
        """The last round's weighted metrics."""
        return dict(self.rounds[-1]["metrics"]) if self.rounds else {}

    @property
    def failures(self) -> list[tuple[int, str, str]]:
        """``(round, domain, reason)`` for every domain that failed."""
        return [(r["round"], d, why) for r in self.rounds for d, why in r["failed"].items()]

    def to_frame(self):
        """A polars DataFrame, one row per round, one column per metric."""
        import polars as pl

        return pl.DataFrame([{"round": r["round"], "answered": len(r["answered"]),
                              "failed": len(r["failed"]), **r["metrics"]} for r in self.rounds])

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v:.4f}" for k, v in self.final.items())
        return f"History({self.strategy}, rounds={len(self.rounds)}, final: {last})"

    def to_dict(self) -> dict:
        """JSON-ready: the strategy, each round's domains, failures and metrics, the final
        metrics (not the parameters)."""
        def metrics(m: dict) -> dict:
            return {k: float(v) for k, v in m.items()}

        return {"strategy": self.strategy, "final": metrics(self.final),
                "rounds": [{"round": r["round"], "selected": list(r["selected"]),
                            "answered": list(r["answered"]), "failed": dict(r["failed"]),
                            "metrics": metrics(r["metrics"]),
                            "per_domain": {d: metrics(m) for d, m in r["per_domain"].items()}}
                           for r in self.rounds]}

    def _render(self) -> list:
        failures = self.failures
        note = f", {len(failures)} domain failure(s) recorded" if failures else ""
        out = [Heading("History ", Code(self.strategy), f": {len(self.rounds)} rounds{note}")]
        frame = self.to_frame()
        if frame.height:
            out.append(Table.from_frame(frame, max_rows=50))
        if failures:
            out.append(Details(f"{len(failures)} domain failure(s)",
                               [Table(["round", "domain", "reason"], failures)]))
        return out


def _n_outputs(model: Model, datasets) -> int:
    y = np.concatenate([np.asarray(d.y_train).reshape(-1) for d in datasets])
    return model._n_outputs(y) if y.size else 1


def run_federated(model: Model, datasets, strategy: Strategy | None = None, *, rounds: int = 10,
                  fraction: float = 1.0, local_epochs: int = 1, min_available: int = 1,
                  seed: int = 0, progress: bool = True, clients=None) -> History:
    """Run federated training and return its :class:`History`.

    Parameters
    ----------
    model : Model
        A prototype; every domain gets its own copy, and the server draws the initial global
        parameters from it.
    datasets : dict of str to DomainData
        The domains' local data.
    strategy : Strategy, default FedAvg()
    rounds : int, default 10
    fraction : float, default 1.0
        Fraction of domains sampled per round (at least ``min_available`` of them).
    local_epochs : int, default 1
    min_available : int, default 1
        Fewest answering domains a round accepts; below it :class:`NotEnoughDomainsError`.
    seed : int, default 0
        Seeds sampling, initialisation and local batch order: same seed, same history.
    progress : bool, default True
        Show a ``tqdm.auto`` bar over rounds.
    clients : dict of str to DomainClient, optional
        Use these clients instead of building them from ``datasets`` (e.g. to inject a
        failing domain in a test).

    Returns
    -------
    History

    Raises
    ------
    FederationError
        Bad arguments, or no domains.
    NotEnoughDomainsError
        Fewer than ``min_available`` domains answered a round.

    Examples
    --------
    >>> from meshkit._federation import LogisticRegression, from_arrays
    >>> rng = np.random.default_rng(0)
    >>> parts = [(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(3, 40, 2))]
    >>> h = run_federated(LogisticRegression(lr=0.5), from_arrays(parts), rounds=3, progress=False)
    >>> len(h.rounds), h.final["accuracy"] > 0.7
    (3, True)
    """
    from tqdm.auto import tqdm

    strategy = FedAvg() if strategy is None else strategy
    if clients is None:
        if not datasets:
            raise FederationError("no domains to train", where="datasets", expected="at least one domain",
                                  found="0")
        clients = {}
        for i, (name, data) in enumerate(datasets.items()):
            local = copy.deepcopy(model)
            local.seed = int(np.random.default_rng([seed, i]).integers(2**31))
            clients[name] = DomainClient(data, local)
    n = len(clients)
    for arg, value, ok in (("rounds", rounds, isinstance(rounds, int) and rounds >= 1),
                           ("local_epochs", local_epochs, isinstance(local_epochs, int) and local_epochs >= 1),
                           ("fraction", fraction, isinstance(fraction, (int, float)) and 0 < fraction <= 1),
                           ("min_available", min_available,
                            isinstance(min_available, int) and 1 <= min_available <= n)):
        if not ok:
            raise FederationError("bad run_federated argument", where=arg,
                                  expected={"rounds": "an int >= 1", "local_epochs": "an int >= 1",
                                            "fraction": "0 < fraction <= 1",
                                            "min_available": f"an int in [1, {n}]"}[arg],
                                  found=repr(value))
    names = list(clients)
    server = copy.deepcopy(model)
    server.seed = int(np.random.default_rng([seed, n]).integers(2**31))
    first = next(iter(clients.values())).data
    n_features = first.X_train.shape[1] if np.ndim(first.X_train) == 2 else 1
    server.init_parameters(n_features, _n_outputs(server, [c.data for c in clients.values()]))
    current = server.get_parameters()
    strategy.reset()
    history = History(strategy=repr(strategy))
    per_round = max(min_available, math.ceil(fraction * n))
    bar = tqdm(range(1, rounds + 1), desc=f"{type(strategy).__name__}", disable=not progress, leave=False)
    for rnd in bar:
        rng = np.random.default_rng([seed, rnd, 7])
        selected = sorted(rng.choice(n, size=per_round, replace=False).tolist())
        config = {"epochs": local_epochs, **strategy.configure_fit(rnd)}
        results, answered, failed = [], [], {}
        for i in selected:
            name = names[i]
            try:
                params, n_ex = clients[name].fit([p.copy() for p in current], config)
                bad = [k for k, p in enumerate(params) if not np.isfinite(p).all()]
                if bad:
                    raise FederationError("non-finite parameters", where=f"domain {name!r}, array {bad[0]}",
                                          expected="finite values", found="NaN or infinity")
            except Exception as exc:  # a domain failing is recorded and left out
                failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            results.append((params, n_ex))
            answered.append(name)
        if len(results) < min_available:
            raise NotEnoughDomainsError(
                f"round {rnd}: too few domains answered", where=f"round {rnd}",
                expected=f"at least min_available={min_available}",
                found=f"{len(results)} answered; failed: {', '.join(failed) or 'none'}")
        current = strategy.aggregate_fit(rnd, current, results, names=answered)
        evals = {name: client.evaluate([p.copy() for p in current]) for name, client in clients.items()}
        metrics = weighted_metrics(list(evals.values()))
        history.rounds.append({"round": rnd, "selected": [names[i] for i in selected],
                               "answered": answered, "failed": failed, "metrics": metrics,
                               "per_domain": {k: m for k, (_, m) in evals.items()}})
        bar.set_postfix({k: round(v, 4) for k, v in list(metrics.items())[:2]})
    history.parameters = current
    return history
