"""The round loop: sample domains, send the global model, train locally, aggregate, evaluate.

Each domain is a :class:`DomainClient` (its data never leaves it; only parameters and
example counts do). :func:`run_federated` returns a :class:`History` of per-round metrics.
A domain that fails -- an exception in training or evaluation, non-finite parameters, arrays
of the wrong count or shape, no examples -- is left out of that round and recorded; it never
aborts the run. Byzantine domains can be simulated (``attack=``, ``attacked=``, see
:mod:`~meshkit._federation.byzantine`), and every round can be appended to an audit log
(:mod:`~meshkit._federation.provenance`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from meshkit._display import Code, Details, Displayable, Heading, Table
from meshkit._errors import FederationError, NotEnoughDomainsError
from meshkit._federation import provenance
from meshkit._federation._base import clone
from meshkit._federation.data import DomainData
from meshkit._federation.models import Model
from meshkit._federation.secagg.strategy import with_secure
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
        (domain -> reason its training answer was refused), ``eval_failed`` (domain ->
        reason its evaluation failed), ``attacked`` domains, the weighted ``metrics``,
        ``per_domain`` metrics, and ``audit_index`` (the round's entry in the audit log, or
        ``None``).
    parameters : list of ndarray
        The final global parameters.
    strategy : str
        ``repr`` of the strategy used.
    checkpoint : dict or None
        ``{"log_id", "checkpoint_size", "checkpoint_root"}``: the audit log checkpoint signed
        after the last round, when the run had an audit log.
    timing : dict or None
        Where the wall time went, when the engine measured it (the Flower engine, in seconds):
        ``submit`` (``flwr run`` until the run is accepted), ``discovery`` (the query to every
        node, each reading its data), ``rounds`` (each round: the train and evaluate
        exchanges and the aggregation), ``training`` (per round, the longest a domain's node
        spent in local training) and ``job`` (submit to result).
    """

    rounds: list[dict] = field(default_factory=list)
    parameters: list[np.ndarray] = field(default_factory=list)
    strategy: str = ""
    checkpoint: dict | None = None
    timing: dict | None = None

    def metric(self, name: str) -> np.ndarray:
        """One metric per round (weighted over domains)."""
        return np.array([r["metrics"][name] for r in self.rounds])

    @property
    def final(self) -> dict[str, float]:
        """The last round's weighted metrics."""
        return dict(self.rounds[-1]["metrics"]) if self.rounds else {}

    @property
    def failures(self) -> list[tuple[int, str, str]]:
        """``(round, domain, reason)`` for every domain that failed to train or to evaluate
        (the latter's reason starts with ``"evaluate: "``)."""
        return [(r["round"], d, why) for r in self.rounds for d, why in r["failed"].items()] + \
            [(r["round"], d, f"evaluate: {why}") for r in self.rounds for d, why in r.get("eval_failed", {}).items()]

    def save_model(self, path):
        """Save the final parameters with the round and the audit log checkpoint that produced
        them (a JSON file, written atomically); returns its path.

        :func:`verify_model` checks such a file against the log.
        """
        if not self.rounds:
            raise FederationError("nothing to save", where="History.save_model",
                                  expected="a history with at least one round", found="0 rounds")
        last = self.rounds[-1]
        return provenance.save_model(path, self.parameters, server_round=last["round"], strategy=self.strategy,
                                     audit_index=last.get("audit_index"), checkpoint=self.checkpoint)

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


def _mesh_model(model: Model, datasets) -> Model:
    """A clone of ``model`` whose class count (for a classifier left to infer it) is the
    mesh's, read from every domain's labels: each domain's copy then has the same shape."""
    local = clone(model)
    if local.get_params().get("n_classes", 0) is None:
        y = np.concatenate([np.asarray(d.y_train).reshape(-1) for d in datasets])
        local.set_params(n_classes=max(2, int(y.max()) + 1) if y.size else 2)
    return local


def _check_answer(name, params, n_examples, current) -> None:
    """Refuse an answer that cannot be aggregated, naming the domain and what is wrong."""
    where = f"domain {name!r}"
    if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)) or n_examples <= 0:
        raise FederationError("a domain must train on at least one example", where=where,
                              expected="a positive integer example count", found=repr(n_examples))
    if isinstance(params, np.ndarray) or len(params) != len(current):
        raise FederationError("wrong number of parameter arrays", where=where,
                              expected=f"{len(current)} arrays",
                              found="a bare array" if isinstance(params, np.ndarray) else f"{len(params)}")
    for k, (p, c) in enumerate(zip(params, current)):
        if np.shape(p) != np.shape(c):
            raise FederationError("parameter shape differs from the global model's", where=f"{where}, array {k}",
                                  expected=f"shape {np.shape(c)}", found=f"shape {np.shape(p)}")
        if not np.isfinite(p).all():
            raise FederationError("non-finite parameters", where=f"{where}, array {k}",
                                  expected="finite values", found="NaN or infinity")


def run_federated(model: Model, datasets, strategy: Strategy | None = None, *, rounds: int = 10,
                  fraction: float = 1.0, local_epochs: int = 1, min_available: int = 1,
                  seed: int = 0, progress: bool = True, clients=None, attack=None, attacked=(),
                  audit=None, secure=False, engine: str = "local", flower=None,
                  on_round=None) -> History:
    """Run federated training and return its :class:`History`.

    Parameters
    ----------
    model : Model
        A prototype (never changed); every domain gets its own clone, and the server draws
        the initial global parameters from another.
    datasets : dict of str to DomainData or ProductSource
        The domains' local data; a :class:`~meshkit.ProductSource` is the domain's product,
        read through its governed path (on the Flower engine by the domain's own node; on the
        local engine here, with the same token, split the same way).
    strategy : Strategy, default FedAvg()
    rounds : int, default 10
    fraction : float, default 1.0
        Fraction of domains sampled per round (at least ``min_available`` of them).
    local_epochs : int, default 1
    min_available : int, default 1
        Fewest answering domains a round accepts; below it :class:`NotEnoughDomainsError`.
    seed : int, default 0
        Seeds sampling, initialisation, local batch order and simulated attacks: same seed,
        same history.
    progress : bool, default True
        Show a ``tqdm.auto`` bar over rounds.
    clients : dict of str to DomainClient, optional
        Use these clients instead of building them from ``datasets`` (e.g. to inject a
        failing domain in a test).
    attack : Attack, optional
        Simulate Byzantine domains (:mod:`~meshkit._federation.byzantine`): the ``attacked``
        domains train on ``attack.poison``-ed data and send ``attack.corrupt``-ed updates.
    attacked : sequence of str
        The Byzantine domains (required with ``attack``).
    audit : AuditLog, optional
        The mesh's audit log: each round appends its provenance record
        (:func:`~meshkit._federation.provenance.round_record`), and a checkpoint is signed
        after the last round (``History.checkpoint``), so that :meth:`History.save_model`
        names it.
    secure : bool or SecureAggregation, default False
        ``True`` aggregates every round under secure aggregation
        (:class:`~meshkit._federation.secagg.SecureAggregation` around ``strategy``; pass an
        instance to choose its parameters): the server sees only the sum of the answers.
        ``strategy`` must then be FedAvg-like, a server optimizer or a fixed-clipping DP
        wrapper (the noise is then added centrally, after unmasking).
    engine : {"local", "flower"}, default "local"
        ``"local"`` runs every domain in this process; ``"flower"`` runs the same loop in a
        Flower ServerApp on the Message API, each domain a SuperNode of a federation started on
        loopback for the job and stopped after it (:mod:`~meshkit._federation.flower`; needs
        ``pip install 'meshkit[flower]'``). Same seed, same domains every round: the same
        parameters as the local engine. ``clients``, ``attack`` and ``audit`` are local only.
    flower : dict, optional
        Options of :func:`~meshkit._federation.flower.run_on_flower` (``round_timeout``,
        ``connect_timeout``, ``federation``...).
    on_round : callable, optional
        Called with the :class:`History` after each round (e.g. to redraw a live plot); an
        exception it raises (``KeyboardInterrupt`` included) stops the run there.

    Returns
    -------
    History

    Raises
    ------
    FederationError
        Bad arguments, or no domains.
    NotEnoughDomainsError
        Fewer than ``min_available`` domains answered a round, or none could evaluate.

    Examples
    --------
    >>> from meshkit._federation import LogisticRegression, from_arrays
    >>> rng = np.random.default_rng(0)
    >>> parts = [(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(3, 40, 2))]
    >>> h = run_federated(LogisticRegression(lr=0.5), from_arrays(parts), rounds=3, progress=False)
    >>> len(h.rounds), h.final["accuracy"] > 0.7
    (3, True)
    """
    strategy = FedAvg() if strategy is None else strategy
    if engine not in ("local", "flower"):
        raise FederationError("unknown engine", where="engine", expected="'local' or 'flower'", found=repr(engine))
    if engine == "flower":
        from meshkit._federation.flower import require_flower

        require_flower()
        local_only = (("clients", clients), ("attack", attack), ("audit", audit),
                      ("on_round", on_round))
        if any(v is not None for _, v in local_only):
            raise FederationError("option not available on the Flower engine", where="engine='flower'",
                                  expected="no clients, attack, audit or on_round (they need every "
                                           "domain in this process)",
                                  found=", ".join(k for k, v in local_only if v is not None))
    strategy = with_secure(strategy, secure)
    if clients is None:
        if not datasets:
            raise FederationError("no domains to train", where="datasets", expected="at least one domain",
                                  found="0")
    if engine == "flower":  # the data stays with the domains' nodes; only the names are needed here
        clients, prototype = {name: None for name in datasets}, model
    elif clients is None:
        from meshkit._federation.flower.domain_data import ProductSource

        datasets = {name: data.read(name, seed=seed, index=i) if isinstance(data, ProductSource) else data
                    for i, (name, data) in enumerate(datasets.items())}
        prototype = _mesh_model(model, datasets.values())
        clients = {}
        for i, (name, data) in enumerate(datasets.items()):
            local = clone(prototype).set_params(seed=int(np.random.default_rng([seed, i]).integers(2**31)))
            clients[name] = DomainClient(data, local)
    else:
        prototype = _mesh_model(model, [c.data for c in clients.values()])
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
    attacked = list(attacked or ())
    if (attack is None) != (not attacked) or [a for a in attacked if a not in clients]:
        raise FederationError("an attack needs the domains it controls", where="attack, attacked",
                              expected=f"an Attack with a non-empty subset of {', '.join(clients)}",
                              found=f"attack={attack!r}, attacked={attacked!r}")
    if attack is not None:
        n_classes = prototype.get_params().get("n_classes")
        clients = dict(clients)
        for name in attacked:
            poisoned = copy.copy(clients[name])
            poisoned.data = attack.poison(poisoned.data, n_classes=n_classes)
            clients[name] = poisoned
    if engine == "flower":
        from meshkit._federation.flower import run_on_flower

        return run_on_flower(model, datasets, strategy, domains=list(clients), rounds=rounds,
                             per_round=max(min_available, math.ceil(fraction * n)), local_epochs=local_epochs,
                             min_available=min_available, seed=seed, **dict(flower or {}))
    names = list(clients)
    server = clone(prototype).set_params(seed=int(np.random.default_rng([seed, n]).integers(2**31)))
    first = next(iter(clients.values())).data
    n_features = first.X_train.shape[1] if np.ndim(first.X_train) == 2 else 1
    server.init_parameters(n_features, server.get_params().get("n_classes") or 1)
    return run_rounds(LocalFleet(clients), server.get_parameters(), strategy, rounds=rounds,
                      per_round=max(min_available, math.ceil(fraction * n)), local_epochs=local_epochs,
                      min_available=min_available, seed=seed, progress=progress, attack=attack,
                      attacked=attacked, audit=audit, on_round=on_round)


class LocalFleet:
    """The domains of one process: each :class:`DomainClient` called in turn.

    A fleet is what the round loop talks to: ``names`` (in the mesh's order), ``fit`` and
    ``evaluate`` over several domains at once, each answer either a result or the exception
    the domain raised. The Flower engine's fleet sends the same requests as messages.
    """

    def __init__(self, clients: dict) -> None:
        self.clients = clients
        self.names = list(clients)

    def fit(self, names, parameters, config) -> dict:
        """``{name: (parameters, n) or exception}`` for each of ``names``."""
        out = {}
        for name in names:
            try:
                out[name] = self.clients[name].fit([p.copy() for p in parameters], config)
            except Exception as exc:  # the round loop records it
                out[name] = exc
        return out

    def evaluate(self, parameters) -> dict:
        """``{name: (n, metrics) or exception}`` for every domain."""
        out = {}
        for name, client in self.clients.items():
            try:
                out[name] = client.evaluate([p.copy() for p in parameters])
            except Exception as exc:  # the round loop records it
                out[name] = exc
        return out

    def provenance(self, name: str) -> dict:
        """What ``name`` trained on, for the audit record."""
        return dict(getattr(self.clients[name].data, "provenance", {}) or {})


def run_rounds(fleet, current, strategy: Strategy, *, rounds: int, per_round: int, local_epochs: int,
               min_available: int, seed: int, progress: bool = False, attack=None, attacked=(),
               audit=None, on_round=None) -> History:
    """The round loop over a fleet (:class:`LocalFleet`, or the Flower engine's), from the
    initial global parameters ``current``; arguments as :func:`run_federated`'s, checked there.
    ``on_round``, if given, is called with the :class:`History` after each finished round."""
    from tqdm.auto import tqdm

    names, n = list(fleet.names), len(fleet.names)
    attacked = list(attacked or ())
    strategy.reset()
    history = History(strategy=repr(strategy))
    bar = tqdm(range(1, rounds + 1), desc=f"{type(strategy).__name__}", disable=not progress, leave=False)
    for rnd in bar:
        rng = np.random.default_rng([seed, rnd, 7])
        selected = sorted(rng.choice(n, size=per_round, replace=False).tolist())
        config = {"epochs": local_epochs, **strategy.configure_fit(rnd)}
        results, answered, failed = [], [], {}
        answers = fleet.fit([names[i] for i in selected], current, config)
        for i in selected:
            name = names[i]
            try:
                answer = answers[name]
                if isinstance(answer, BaseException):
                    raise answer
                params, n_ex = answer
                if params is None and getattr(fleet, "holds_parameters", False):
                    # the domain keeps its parameters for secure aggregation; only its count is here
                    _check_answer(name, current, n_ex, current)
                else:
                    _check_answer(name, params, n_ex, current)
            except Exception as exc:  # a domain failing is recorded and left out
                failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            results.append((params, int(n_ex)))
            answered.append(name)
        byzantine = [k for k, name in enumerate(answered) if name in attacked]
        if byzantine:
            sent = attack.corrupt([results[k][0] for k in byzantine], current,
                                  np.random.default_rng([seed, rnd, 11]))
            for k, params in zip(byzantine, sent):
                results[k] = (params, results[k][1])
        if len(results) < min_available:
            raise NotEnoughDomainsError(
                f"round {rnd}: too few domains answered", where=f"round {rnd}",
                expected=f"at least min_available={min_available}",
                found=f"{len(results)} answered; failed: {', '.join(failed) or 'none'}"
                      + (f" ({'; '.join(f'{k}: {v}' for k, v in failed.items())})" if failed else ""))
        current = strategy.aggregate_fit(rnd, current, results, names=answered)
        evals, eval_failed = {}, {}
        for name, answer in fleet.evaluate(current).items():
            if isinstance(answer, BaseException):  # recorded and left out of the weighted metrics
                eval_failed[name] = f"{type(answer).__name__}: {answer}"
            else:
                evals[name] = answer
        if not evals:
            raise NotEnoughDomainsError(f"round {rnd}: no domain could evaluate the model", where=f"round {rnd}",
                                        expected="at least one evaluation",
                                        found="; ".join(f"{k}: {v}" for k, v in eval_failed.items()))
        metrics = weighted_metrics(list(evals.values()))
        audit_index = None
        if audit is not None:
            record = provenance.round_record(
                server_round=rnd, strategy=strategy, selected=[names[i] for i in selected], answered=answered,
                failed=failed, eval_failed=eval_failed, parameters=current, attack=attack,
                attacked=[a for a in attacked if a in answered],
                domains={names[i]: fleet.provenance(names[i]) for i in selected})
            audit_index = audit.append(record)
        history.rounds.append({"round": rnd, "selected": [names[i] for i in selected],
                               "answered": answered, "failed": failed, "eval_failed": eval_failed,
                               "attacked": [a for a in attacked if a in answered], "metrics": metrics,
                               "per_domain": {k: m for k, (_, m) in evals.items()},
                               "audit_index": audit_index})
        bar.set_postfix({k: round(v, 4) for k, v in list(metrics.items())[:2]})
        if on_round is not None:
            history.parameters = current
            on_round(history)
    history.parameters = current
    if audit is not None:
        history.checkpoint = provenance.checkpoint_of(audit)
    return history
