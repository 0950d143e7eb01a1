"""The ServerApp and the ClientApp that run a meshkit job on Flower's Deployment Engine.

* The **ServerApp** reads the job (model, strategy, rounds...) named by the run config, asks
  every SuperNode which domain it serves (a ``query`` message), and runs meshkit's round loop
  (:func:`~meshkit._federation.rounds.run_rounds`) over a :class:`FlowerFleet`: each
  ``fit``/``evaluate`` of the loop becomes one ``train``/``evaluate`` message per domain, sent
  together. The strategy, its DP wrapper and robust rules therefore run unchanged.
* The **ClientApp** serves the domain its node config names; it keeps that domain's model
  (and its random state) in the node's context across rounds, so that a job gives the same
  numbers as the local engine.

This module imports ``flwr``; only the Flower processes load it.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import traceback
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from meshkit._errors import FederationError, NotEnoughDomainsError
from meshkit._federation._base import clone
from meshkit._federation.data import DomainData
from meshkit._federation.flower import domain_data, secagg_wire
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from meshkit._federation.secagg import crypto
from meshkit._federation.secagg import SecAggDomain, SecAggServer, SecureAggregation
from meshkit._federation.secagg.strategy import _flat, domain_input
from meshkit._federation.strategies import Strategy
from meshkit._federation.flower.wire import model_from_spec, model_spec
from meshkit._federation.rounds import run_rounds

__all__ = ["server_app", "client_app", "FlowerFleet"]

server_app = ServerApp()
client_app = ClientApp()

#: seconds between two pulls of the replies (Flower's own ``Grid.send_and_receive`` waits 3 s)
REPLY_POLL = 0.2


def send_and_receive(grid: Grid, messages: list, timeout: float, poll: float = REPLY_POLL) -> list:
    """Push ``messages`` and pull their replies until all are in or ``timeout`` seconds passed.

    What ``Grid.send_and_receive`` does, polling every ``poll`` seconds instead of every 3 s
    (Flower 1.42 ``superlink/grid/http_grid.py``): an exchange no longer waits up to 3 s after
    its last reply has arrived."""
    waiting = set(grid.push_messages(messages))
    deadline = time.monotonic() + timeout
    replies = []
    while waiting:
        got = list(grid.pull_messages(waiting))
        replies.extend(got)
        waiting -= {m.metadata.reply_to_message_id for m in got}
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    return replies


class FlowerFleet:
    """The round loop's fleet on Flower: one message per domain, sent together, answers matched.

    A domain whose node sends no reply within ``timeout`` seconds, or replies with an error,
    answers with a :class:`FederationError` naming the reason; the round loop leaves it out
    as it leaves out a failing domain on the local engine.
    """

    def __init__(self, grid: Grid, nodes: dict, model: str, seeds: dict, timeout: float) -> None:
        self.grid, self.nodes, self.model, self.seeds, self.timeout = grid, nodes, model, seeds, timeout
        self.names = list(nodes)
        self.server_round = 0
        self.provenances = {}
        #: per round, the longest time a domain's node spent training (seconds, as it reports)
        self.training_seconds = []
        #: True under secure aggregation: domains keep their trained parameters for the secure sum
        self.holds_parameters = False

    def _exchange(self, kind: str, names, content_of) -> dict:
        messages = {name: Message(content_of(name), dst_node_id=self.nodes[name], message_type=kind)
                    for name in names}
        replies = {}
        by_node = {self.nodes[n]: n for n in names}
        received = send_and_receive(self.grid, list(messages.values()), self.timeout)
        # matched by the message answered: the SuperLink itself answers for a node gone away
        # (an error reply from its own node id)
        by_message = {m.metadata.message_id: n for n, m in messages.items()}
        for reply in received:
            name = by_message.get(reply.metadata.reply_to_message_id, by_node.get(reply.metadata.src_node_id))
            if name is not None:
                replies[name] = reply
        out = {}
        for name in names:
            reply = replies.get(name)
            if reply is None:
                out[name] = FederationError("no reply from the domain's node", where=f"domain {name!r}, {kind}",
                                            expected=f"a reply within {self.timeout:g} s", found="none")
            elif reply.has_error():
                out[name] = FederationError("the domain's node replied with an error",
                                            where=f"domain {name!r}, {kind}", expected="a result",
                                            found=f"{reply.error.code}: {reply.error.reason}")
            elif "error" in reply.content.config_records:
                out[name] = FederationError(str(reply.content.config_records["error"]["reason"]),
                                            where=f"domain {name!r}, {kind}", expected="a result",
                                            found=str(reply.content.config_records["error"]["type"]))
            else:
                out[name] = reply.content
        return out

    def _content(self, parameters, config: dict):
        def content(name):
            cfg = {"model": self.model, "seed": int(self.seeds[name]), "server-round": self.server_round,
                   "hold": bool(self.holds_parameters)}
            cfg.update({k: v for k, v in config.items() if v is not None})
            return RecordDict({"arrays": ArrayRecord([np.asarray(p) for p in parameters]),
                               "config": ConfigRecord(cfg)})
        return content

    def fit(self, names, parameters, config) -> dict:
        self.server_round += 1
        out, seconds = {}, [0.0]
        for name, answer in self._exchange("train", names, self._content(parameters, config)).items():
            if isinstance(answer, Exception):
                out[name] = answer
            else:
                arrays = answer.array_records.get("arrays")
                metrics = answer.metric_records["metrics"]
                out[name] = (None if arrays is None else arrays.to_numpy_ndarrays(), int(metrics["num-examples"]))
                seconds.append(float(metrics.get("train-seconds", 0.0)))
        self.training_seconds.append(max(seconds))
        return out

    def _step(self, action: str, requests: dict, expected: str, extra=None) -> list:
        """One secure-aggregation step: each domain's request out, the answers of those that replied.

        A domain that does not answer is a drop-out at that step (the protocol tolerates up to
        its threshold); its reason is kept in ``dropped_``."""
        def content(name):
            records = secagg_wire.to_records(requests[name])
            if extra is not None:
                records.update(extra(name))
            return RecordDict(records)

        answers = []
        for name, answer in self._exchange(f"train.{action}", list(requests), content).items():
            if isinstance(answer, Exception):
                self.dropped_[name] = f"{type(answer).__name__}: {answer}"
            else:
                answers.append(secagg_wire.from_records(answer, expected))
        return answers

    def secure_round(self, secure, server_round: int, current, names, weights):
        """One round of secure aggregation over messages: the domains' parameters never leave
        them unmasked; returns what ``secure`` (a SecureAggregation) makes of the sum."""
        shapes = [np.shape(c) for c in current]
        dtypes = [np.asarray(c).dtype for c in current]
        size = int(sum(np.size(c) for c in current))
        scales, clip_range, clip_norm = secure.plan(names, weights, current)
        server = SecAggServer(names, size, scales=scales, neighbours=secure.neighbours, threshold=secure.threshold,
                              ring_bits=secure.ring_bits, frac_bits=secure.frac_bits, clip_range=clip_range,
                              server_round=server_round)
        self.dropped_ = {}
        adverts = self._step("secagg_keys", server.setup(), "KeyAdvert")
        bundles = self._step("secagg_shares", server.route_keys(adverts), "ShareBundle")
        extra = None if clip_norm is None else (lambda name: {"clip": ConfigRecord({"clip-norm": float(clip_norm)})})
        masked = self._step("secagg_masked", server.route_shares(bundles), "MaskedInput", extra=extra)
        replies = self._step("secagg_unmask", server.collect_masked(masked), "UnmaskShares")
        try:
            result = server.finish(replies)
        except FederationError as exc:
            if self.dropped_:
                exc.add_note("domains that dropped out: " + "; ".join(f"{k}: {v}" for k, v in self.dropped_.items()))
            raise
        return secure.conclude(server_round, current, result, names, weights, shapes, dtypes)

    def evaluate(self, parameters) -> dict:
        out = {}
        for name, answer in self._exchange("evaluate", self.names, self._content(parameters, {})).items():
            if isinstance(answer, Exception):
                out[name] = answer
            else:
                metrics = dict(answer.metric_records["metrics"])
                n = int(metrics.pop("num-examples"))
                out[name] = (n, {k: float(v) for k, v in metrics.items()})
        return out

    def provenance(self, name: str) -> dict:
        return dict(self.provenances.get(name, {}))


class SecureOverFleet(Strategy):
    """A :class:`~meshkit._federation.secagg.SecureAggregation` whose secure sum runs as
    messages between the ServerApp and the domains (:meth:`FlowerFleet.secure_round`)."""

    stateful = True

    def __init__(self, secure, fleet) -> None:
        self.secure, self.fleet = secure, fleet

    @property
    def epsilon_(self):
        return self.secure.epsilon_

    def reset(self) -> None:
        self.secure.reset()

    def configure_fit(self, server_round: int) -> dict:
        return self.secure.configure_fit(server_round)

    def aggregate_fit(self, server_round, current, results, *, names=None):
        if len(results) < 2:
            return self.secure.aggregate_fit(server_round, current, results, names=names)  # its clear refusal
        return self.fleet.secure_round(self.secure, server_round, current, list(names), [n for _, n in results])

    def __repr__(self) -> str:
        return repr(self.secure)


def _discover(grid: Grid, domains: list, timeout: float, seed: int) -> tuple[dict, dict]:
    """``{domain: node id}`` and ``{domain: description}``, from one ``query`` per node.

    The query carries the job's seed and domains: each node reads its domain's data then
    (through the governed path when its node config names a product) and splits it as the
    local engine does. A node of one of ``domains`` that cannot read its data stops the job,
    naming the domain and the reason (e.g. the grant refused the token's purpose)."""
    deadline = time.monotonic() + timeout
    nodes, described = {}, {}
    job = ConfigRecord({"seed": int(seed), "domains": list(domains)})
    while True:
        ids = [i for i in grid.get_node_ids() if i not in nodes.values()]
        if ids:
            messages = [Message(RecordDict({"job": job}), dst_node_id=i, message_type="query.describe")
                        for i in ids]
            for reply in send_and_receive(grid, messages, max(1.0, deadline - time.monotonic())):
                if reply.has_error():
                    continue
                error = reply.content.config_records.get("error")
                if error is not None and str(error.get("domain", "")) in domains:
                    raise FederationError("a domain's node cannot read its training data",
                                          where=f"domain {error['domain']!r}, Flower node",
                                          expected="its product, read through the governed path",
                                          found=f"{error['type']}: {error['reason']}")
                if "domain" not in reply.content.config_records:
                    continue
                info = dict(reply.content.config_records["domain"])
                nodes[info["name"]] = reply.metadata.src_node_id
                described[info["name"]] = info
        if all(d in nodes for d in domains) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    missing = [d for d in domains if d not in nodes]
    if missing:
        raise NotEnoughDomainsError("a domain's SuperNode did not connect", where="Flower federation",
                                    expected=f"a SuperNode for each of {', '.join(domains)}",
                                    found=f"none for {', '.join(missing)} within {timeout:g} s")
    return {d: nodes[d] for d in domains}, described


@server_app.main()
def _server_main(grid: Grid, context: Context) -> None:
    result_file = Path(str(context.run_config["result-file"]))
    started = time.perf_counter()
    try:
        with open(str(context.run_config["job-file"]), "rb") as fh:
            job = pickle.load(fh)  # written by the caller's own process (run_on_flower)
        domains = list(job["domains"])
        nodes, described = _discover(grid, domains, job["connect_timeout"], job["seed"])
        timing = {"discovery": time.perf_counter() - started, "rounds": []}
        prototype = clone(job["model"])
        if prototype.get_params().get("n_classes", 0) is None:
            top = max(float(described[d]["max-label"]) for d in domains)
            prototype.set_params(n_classes=max(2, int(top) + 1))
        seed, n = job["seed"], len(domains)
        seeds = {d: int(np.random.default_rng([seed, i]).integers(2**31)) for i, d in enumerate(domains)}
        server = clone(prototype).set_params(seed=int(np.random.default_rng([seed, n]).integers(2**31)))
        server.init_parameters(int(described[domains[0]]["n-features"]), server.get_params().get("n_classes") or 1)
        fleet = FlowerFleet(grid, nodes, model_spec(prototype), seeds, job["round_timeout"])
        fleet.provenances = {d: json.loads(str(described[d].get("provenance", "{}"))) for d in domains}
        strategy = job["strategy"]
        if isinstance(strategy, SecureAggregation):
            fleet.holds_parameters = True
            strategy = SecureOverFleet(strategy, fleet)
        progress = result_file.with_suffix(".progress.json")

        def report(history):  # the caller follows the rounds in this file
            timing["rounds"].append(time.perf_counter() - started - timing["discovery"] - sum(timing["rounds"]))
            row = history.rounds[-1]
            tmp = progress.with_suffix(".tmp")
            tmp.write_text(json.dumps({"round": row["round"], "answered": row["answered"],
                                       "failed": row["failed"]}))
            os.replace(tmp, progress)

        history = run_rounds(fleet, server.get_parameters(), strategy, rounds=job["rounds"],
                             per_round=job["per_round"], local_epochs=job["local_epochs"],
                             min_available=job["min_available"], seed=seed, on_round=report)
        history.timing = {**timing, "training": list(fleet.training_seconds)}
        outcome = {"history": history, "strategy": job["strategy"]}
    except Exception as exc:
        outcome = {"error": exc, "traceback": traceback.format_exc()}
    tmp = result_file.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(outcome, fh)
    os.replace(tmp, result_file)
    if "error" in outcome:
        raise outcome["error"]


# --- the domain's side -----------------------------------------------------------------------

def _error_reply(message: Message, exc: Exception, context: Context | None = None) -> Message:
    record = {"type": type(exc).__name__, "reason": str(exc)}
    if context is not None and "domain" in context.node_config:
        record["domain"] = str(context.node_config["domain"])
    return Message(RecordDict({"error": ConfigRecord(record)}), reply_to=message)


def _data(context: Context):
    """The domain data this node read for the run (at the ``describe`` query)."""
    arrays = context.state.array_records.get("data")
    if arrays is None:
        raise FederationError("the node has not read its data for this run", where="ClientApp",
                              expected="the describe query first", found="no data in the node's state")
    name = str(context.node_config.get("domain", "?"))
    return DomainData(name, *arrays.to_numpy_ndarrays())


def _model(context: Context, config) -> object:
    """The domain's own model: built on the first round, kept (with its random state) in the node's state."""
    state = context.state.config_records.get("meshkit")
    if state is not None:
        return pickle.loads(state["model"])  # written by this node itself, never received
    return model_from_spec(str(config["model"])).set_params(seed=int(config["seed"]))


def _keep(context: Context, model) -> None:
    context.state.config_records["meshkit"] = ConfigRecord({"model": pickle.dumps(model)})


@client_app.query("describe")
def _describe(message: Message, context: Context) -> Message:
    """Read the domain's data once for the run (governed read: audited in the domain's home)."""
    try:
        job = message.content.config_records.get("job")
        seed = int(job["seed"]) if job is not None else 0
        domains = list(job["domains"]) if job is not None else []
        data = domain_data.load(context.node_config, seed=seed, domains=domains)
        context.state.array_records["data"] = ArrayRecord(
            [np.asarray(data.X_train), np.asarray(data.y_train), np.asarray(data.X_test), np.asarray(data.y_test)])
        y = np.asarray(data.y_train).reshape(-1)
        info = {"name": data.name,
                "n-features": int(data.X_train.shape[1] if np.ndim(data.X_train) == 2 else 1),
                "max-label": float(y.max()) if y.size else -1.0,
                "provenance": json.dumps(data.provenance)}
    except Exception as exc:
        return _error_reply(message, exc, context)
    return Message(RecordDict({"domain": ConfigRecord(info)}), reply_to=message)


@client_app.train()
def _train(message: Message, context: Context) -> Message:
    try:
        config = message.content.config_records["config"]
        data = _data(context)
        model = _model(context, config)
        parameters = message.content.array_records["arrays"].to_numpy_ndarrays()
        model.set_parameters(parameters)
        started = time.perf_counter()
        model.fit(data.X_train, data.y_train, epochs=int(config["epochs"]), anchor=parameters,
                  mu=config.get("mu"))
        seconds = time.perf_counter() - started
        _keep(context, model)
        metrics = MetricRecord({"num-examples": int(data.n_train), "train-seconds": float(seconds)})
        if bool(config.get("hold", False)):  # secure aggregation: the parameters stay here until masked
            context.state.array_records["held"] = ArrayRecord(model.get_parameters())
            context.state.array_records["anchor"] = ArrayRecord(parameters)
            content = RecordDict({"metrics": metrics})
        else:
            content = RecordDict({"arrays": ArrayRecord(model.get_parameters()), "metrics": metrics})
    except Exception as exc:
        return _error_reply(message, exc)
    return Message(content, reply_to=message)


@client_app.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    try:
        config = message.content.config_records["config"]
        data = _data(context)
        model = _model(context, config)
        model.set_parameters(message.content.array_records["arrays"].to_numpy_ndarrays())
        metrics = model.evaluate(data.X_test, data.y_test)
        _keep(context, model)
        content = RecordDict({"metrics": MetricRecord({"num-examples": int(data.n_test),
                                                       **{k: float(v) for k, v in metrics.items()}})})
    except Exception as exc:
        return _error_reply(message, exc)
    return Message(content, reply_to=message)


# --- secure aggregation, the domain's side: one handler per step --------------------------------

def _party(context: Context, name: str) -> SecAggDomain:
    """The domain's party of the round in progress, from the node's own state.

    Between steps its secrets (the self-mask seed, the mask-key seed, the share private key)
    live in the node's state on the domain's own machine; they are never sent."""
    state = context.state.config_records.get("secagg")
    if state is None:
        raise FederationError("no secure-aggregation round in progress", where=f"domain {name!r}",
                              expected="the key step first", found="none")
    fields = pickle.loads(state["party"])  # written by this node itself, never received
    private = fields.pop("_share_private", None)
    party = SecAggDomain.__new__(SecAggDomain)
    party.__dict__.update(fields)
    if "_mask_seed" in fields:
        party._mask_key = crypto.mask_key_from_seed(fields["_mask_seed"])
    if private is not None:
        pair = crypto.KeyPair.__new__(crypto.KeyPair)
        pair.private = X25519PrivateKey.from_private_bytes(private)
        pair.public = crypto.KeyPair.public_of(pair.private)
        party._share_pair = pair
    return party


def _keep_party(context: Context, party: SecAggDomain) -> None:
    fields = dict(party.__dict__)
    fields.pop("_mask_key", None)  # derived again from its seed
    pair = fields.pop("_share_pair", None)
    if pair is not None:
        fields["_share_private"] = pair.private.private_bytes_raw()
    context.state.config_records["secagg"] = ConfigRecord({"party": pickle.dumps(fields)})


def _secagg_step(message: Message, context: Context, expected: str, step) -> Message:
    try:
        name = str(context.node_config["domain"])
        request = secagg_wire.from_records(message.content, expected)
        party = SecAggDomain(name) if expected == "Setup" else _party(context, name)
        answer = step(party, request)
        _keep_party(context, party)
    except Exception as exc:
        return _error_reply(message, exc)
    return Message(RecordDict(secagg_wire.to_records(answer)), reply_to=message)


@client_app.train("secagg_keys")
def _secagg_keys(message: Message, context: Context) -> Message:
    return _secagg_step(message, context, "Setup", lambda party, m: party.advertise_keys(m))


@client_app.train("secagg_shares")
def _secagg_shares(message: Message, context: Context) -> Message:
    return _secagg_step(message, context, "NeighbourKeys", lambda party, m: party.share_keys(m))


@client_app.train("secagg_masked")
def _secagg_masked(message: Message, context: Context) -> Message:
    clip = message.content.config_records.get("clip")
    clip_norm = None if clip is None or "clip-norm" not in clip else float(clip["clip-norm"])

    def step(party, request):
        held = _flat(context.state.array_records["held"].to_numpy_ndarrays())
        anchor = _flat(context.state.array_records["anchor"].to_numpy_ndarrays())
        return party.masked_input(request, domain_input(held, anchor, clip_norm))

    return _secagg_step(message, context, "ForwardedShares", step)


@client_app.train("secagg_unmask")
def _secagg_unmask(message: Message, context: Context) -> Message:
    return _secagg_step(message, context, "UnmaskRequest", lambda party, m: party.unmask(m))
