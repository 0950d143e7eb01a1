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
from meshkit._federation.flower import domain_data
from meshkit._federation.flower.wire import model_from_spec, model_spec
from meshkit._federation.rounds import run_rounds

__all__ = ["server_app", "client_app", "FlowerFleet"]

server_app = ServerApp()
client_app = ClientApp()


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

    def _exchange(self, kind: str, names, content_of) -> dict:
        messages = {name: Message(content_of(name), dst_node_id=self.nodes[name], message_type=kind)
                    for name in names}
        replies = {}
        by_node = {self.nodes[n]: n for n in names}
        for reply in self.grid.send_and_receive(list(messages.values()), timeout=self.timeout):
            replies[by_node[reply.metadata.src_node_id]] = reply
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
            cfg = {"model": self.model, "seed": int(self.seeds[name]), "server-round": self.server_round}
            cfg.update({k: v for k, v in config.items() if v is not None})
            return RecordDict({"arrays": ArrayRecord([np.asarray(p) for p in parameters]),
                               "config": ConfigRecord(cfg)})
        return content

    def fit(self, names, parameters, config) -> dict:
        self.server_round += 1
        out = {}
        for name, answer in self._exchange("train", names, self._content(parameters, config)).items():
            if isinstance(answer, Exception):
                out[name] = answer
            else:
                out[name] = (answer.array_records["arrays"].to_numpy_ndarrays(),
                             int(answer.metric_records["metrics"]["num-examples"]))
        return out

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


def _discover(grid: Grid, domains: list, timeout: float) -> tuple[dict, dict]:
    """``{domain: node id}`` and ``{domain: description}``, from one ``query`` per node."""
    deadline = time.monotonic() + timeout
    nodes, described = {}, {}
    while True:
        ids = [i for i in grid.get_node_ids() if i not in nodes.values()]
        if ids:
            messages = [Message(RecordDict(), dst_node_id=i, message_type="query.describe") for i in ids]
            for reply in grid.send_and_receive(messages, timeout=max(1.0, deadline - time.monotonic())):
                if reply.has_error() or "domain" not in reply.content.config_records:
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
    try:
        with open(str(context.run_config["job-file"]), "rb") as fh:
            job = pickle.load(fh)  # written by the caller's own process (run_on_flower)
        domains = list(job["domains"])
        nodes, described = _discover(grid, domains, job["connect_timeout"])
        prototype = clone(job["model"])
        if prototype.get_params().get("n_classes", 0) is None:
            top = max(float(described[d]["max-label"]) for d in domains)
            prototype.set_params(n_classes=max(2, int(top) + 1))
        seed, n = job["seed"], len(domains)
        seeds = {d: int(np.random.default_rng([seed, i]).integers(2**31)) for i, d in enumerate(domains)}
        server = clone(prototype).set_params(seed=int(np.random.default_rng([seed, n]).integers(2**31)))
        server.init_parameters(int(described[domains[0]]["n-features"]), server.get_params().get("n_classes") or 1)
        fleet = FlowerFleet(grid, nodes, model_spec(prototype), seeds, job["round_timeout"])
        progress = result_file.with_suffix(".progress.json")

        def report(row):  # the caller follows the rounds in this file
            tmp = progress.with_suffix(".tmp")
            tmp.write_text(json.dumps({"round": row["round"], "answered": row["answered"],
                                       "failed": row["failed"]}))
            os.replace(tmp, progress)

        history = run_rounds(fleet, server.get_parameters(), job["strategy"], rounds=job["rounds"],
                             per_round=job["per_round"], local_epochs=job["local_epochs"],
                             min_available=job["min_available"], seed=seed, on_round=report)
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

def _error_reply(message: Message, exc: Exception) -> Message:
    return Message(RecordDict({"error": ConfigRecord({"type": type(exc).__name__, "reason": str(exc)})}),
                   reply_to=message)


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
    try:
        data = domain_data.load(context.node_config)
        y = np.asarray(data.y_train).reshape(-1)
        info = {"name": data.name,
                "n-features": int(data.X_train.shape[1] if np.ndim(data.X_train) == 2 else 1),
                "max-label": float(y.max()) if y.size else -1.0}
    except Exception as exc:
        return _error_reply(message, exc)
    return Message(RecordDict({"domain": ConfigRecord(info)}), reply_to=message)


@client_app.train()
def _train(message: Message, context: Context) -> Message:
    try:
        config = message.content.config_records["config"]
        data = domain_data.load(context.node_config)
        model = _model(context, config)
        parameters = message.content.array_records["arrays"].to_numpy_ndarrays()
        model.set_parameters(parameters)
        model.fit(data.X_train, data.y_train, epochs=int(config["epochs"]), anchor=parameters,
                  mu=config.get("mu"))
        _keep(context, model)
        content = RecordDict({"arrays": ArrayRecord(model.get_parameters()),
                              "metrics": MetricRecord({"num-examples": int(data.n_train)})})
    except Exception as exc:
        return _error_reply(message, exc)
    return Message(content, reply_to=message)


@client_app.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    try:
        config = message.content.config_records["config"]
        data = domain_data.load(context.node_config)
        model = _model(context, config)
        model.set_parameters(message.content.array_records["arrays"].to_numpy_ndarrays())
        metrics = model.evaluate(data.X_test, data.y_test)
        _keep(context, model)
        content = RecordDict({"metrics": MetricRecord({"num-examples": int(data.n_test),
                                                       **{k: float(v) for k, v in metrics.items()}})})
    except Exception as exc:
        return _error_reply(message, exc)
    return Message(content, reply_to=message)
