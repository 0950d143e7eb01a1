"""The provenance of every round: what each round appends to the mesh's audit log, and a
saved model that names the round and the log checkpoint that produced it.

Each round of :func:`~meshkit._federation.rounds.run_federated` given an ``audit`` log appends
one record (:func:`round_record`): the strategy and its parameters, which domains were
selected, answered or failed (and why), the product and contract versions each domain trained
on when its :class:`~meshkit._federation.data.DomainData` knows them, the attack simulated if
any, the ε spent so far when the strategy accounts privacy (a strategy that does sets
``epsilon_`` after each aggregation; ``None`` otherwise), and the SHA-256 digest of the new
global parameters. :func:`save_model` writes the parameters with the round, the record's
index and the log checkpoint covering it; :func:`verify_model` checks a saved model against
the log: the log verifies against its signed checkpoints, the record at that index is this
round's and carries this model's digest, and the checkpoint named is the log's at that size.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np

from meshkit._errors import FederationError, IntegrityError
from meshkit._files import atomic_write_text

__all__ = ["ROUND_EVENT", "MODEL_FORMAT", "parameters_digest", "round_record", "save_model",
           "load_model", "verify_model", "checkpoint_of"]

#: the ``event`` of a round's audit record
ROUND_EVENT = "federated_round"
#: the ``format`` of a saved model file
MODEL_FORMAT = "meshkit-model/1"


def parameters_digest(parameters) -> str:
    """SHA-256 (hex) over each array's dtype, shape and little-endian C-order bytes.

    Examples
    --------
    >>> parameters_digest([np.zeros(2)]) == parameters_digest([np.zeros(2)])
    True
    >>> parameters_digest([np.zeros(2)]) == parameters_digest([np.zeros((1, 2))])
    False
    """
    h = hashlib.sha256()
    for a in parameters:
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _jsonable(value):
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def round_record(*, server_round: int, strategy, selected, answered, failed, eval_failed,
                 domains, parameters, attack=None, attacked=()) -> dict:
    """The audit record of one round (JSON-safe).

    ``domains`` maps each selected domain to its ``DomainData.provenance`` (product and
    contract versions; empty when unknown).
    """
    epsilon = getattr(strategy, "epsilon_", None)
    return {
        "event": ROUND_EVENT,
        "round": int(server_round),
        "strategy": type(strategy).__name__,
        "strategy_params": _jsonable(strategy.get_params() if hasattr(strategy, "get_params") else {}),
        "selected": list(selected),
        "answered": list(answered),
        "failed": {k: str(v) for k, v in failed.items()},
        "eval_failed": {k: str(v) for k, v in eval_failed.items()},
        "products": _jsonable(domains),
        "attack": None if attack is None else repr(attack),
        "attacked": list(attacked),
        "epsilon": None if epsilon is None else float(epsilon),
        "parameters_sha256": parameters_digest(parameters),
    }


def save_model(path, parameters, *, server_round: int, strategy: str, audit_index: int | None,
               checkpoint: dict | None) -> Path:
    """Write the parameters and their provenance as one JSON file, atomically."""
    doc = {
        "format": MODEL_FORMAT,
        "round": int(server_round),
        "strategy": strategy,
        "parameters_sha256": parameters_digest(parameters),
        "audit": None if audit_index is None else {"index": int(audit_index), **(checkpoint or {})},
        "parameters": [{"dtype": np.asarray(a).dtype.newbyteorder("<").str, "shape": list(np.shape(a)),
                        "data": base64.b64encode(np.ascontiguousarray(a).astype(
                            np.asarray(a).dtype.newbyteorder("<"), copy=False).tobytes()).decode()}
                       for a in parameters],
    }
    return atomic_write_text(path, json.dumps(doc, indent=1))


def load_model(path) -> tuple[list[np.ndarray], dict]:
    """Read a saved model: ``(parameters, provenance)``; the digest is checked on the way.

    Raises
    ------
    IntegrityError
        The parameters do not match the digest written with them.
    FederationError
        Not a meshkit model file.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError(doc.get("format"))
        params = [np.frombuffer(base64.b64decode(p["data"]), dtype=np.dtype(p["dtype"])).reshape(p["shape"]).copy()
                  for p in doc["parameters"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FederationError("not a saved meshkit model", where=str(path),
                              expected=f"a {MODEL_FORMAT} JSON file", found=str(exc)) from None
    if parameters_digest(params) != doc["parameters_sha256"]:
        raise IntegrityError("the saved parameters do not match their digest", where=str(path),
                             expected=doc["parameters_sha256"], found=parameters_digest(params))
    return params, {k: v for k, v in doc.items() if k != "parameters"}


def verify_model(path, log) -> dict:
    """Check a saved model against the audit log that recorded its training.

    Returns the round's audit record when every check holds.

    Raises
    ------
    IntegrityError
        The log does not verify against its signed checkpoints; the model names no log
        entry, or an entry that is not its round or carries another digest; the checkpoint
        it names is not the log's at that size.
    """
    params, meta = load_model(path)
    where = str(Path(path))
    audit = meta.get("audit")
    if not audit:
        raise IntegrityError("the model names no audit log entry", where=where,
                             expected="a model saved from a run with an audit log", found="none")
    check = log.verify()
    if not check.ok:
        raise IntegrityError("the audit log does not verify", where=where,
                             expected="a log consistent with its signed checkpoints", found=str(check))
    records = log.records()
    index = audit["index"]
    record = records[index] if 0 <= index < len(records) else None
    if record is None or record.get("event") != ROUND_EVENT or record.get("round") != meta["round"]:
        raise IntegrityError("the log entry named by the model is not its round", where=f"{where}: audit.index",
                             expected=f"a {ROUND_EVENT} record of round {meta['round']}",
                             found=repr(None if record is None else {k: record.get(k) for k in ("event", "round")}))
    if record.get("parameters_sha256") != meta["parameters_sha256"]:
        raise IntegrityError("the model is not the one the log recorded", where=f"{where}: parameters",
                             expected=record.get("parameters_sha256"), found=meta["parameters_sha256"])
    size, root = audit.get("checkpoint_size"), audit.get("checkpoint_root")
    if size is None or not index < size <= len(records) or log.root(size).hex() != root:
        raise IntegrityError("the checkpoint named by the model is not the log's", where=f"{where}: audit",
                             expected=f"the log's root at size {size}", found=repr(root))
    return record


def checkpoint_of(log) -> dict:
    """``{"log_id", "checkpoint_size", "checkpoint_root"}`` of a fresh checkpoint of ``log``."""
    cp = log.checkpoint()
    return {"log_id": cp.log_id, "checkpoint_size": int(cp.size), "checkpoint_root": cp.root.hex()}
