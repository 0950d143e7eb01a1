"""Secure-aggregation messages (:mod:`~meshkit._federation.secagg.messages`) as Flower records.

Each message becomes a config record holding its kind and its fields as JSON (bytes as hex),
and, for :class:`~meshkit._federation.secagg.messages.MaskedInput`, an array record holding
the masked ring elements. Nothing is pickled: a domain decodes only these eight kinds.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.secagg import messages

__all__ = ["to_records", "from_records"]

_KINDS = {name: getattr(messages, name) for name in messages.__all__}


def _encode(value):
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return bytes.fromhex(value["__bytes__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def to_records(message) -> dict:
    """``{"secagg": ConfigRecord, ["masked": ArrayRecord]}`` for one secure-aggregation message."""
    from flwr.app import ArrayRecord, ConfigRecord

    fields = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
    out = {}
    if isinstance(message, messages.MaskedInput):
        out["masked"] = ArrayRecord([np.asarray(fields.pop("masked"))])
    out["secagg"] = ConfigRecord({"kind": type(message).__name__, "fields": json.dumps(_encode(fields))})
    return out


def from_records(content, expected: str):
    """The message of kind ``expected`` carried by a Flower record dict."""
    record = content.config_records.get("secagg")
    kind = None if record is None else str(record["kind"])
    if kind != expected or kind not in _KINDS:
        raise FederationError("an unexpected secure-aggregation message", where="secure aggregation over Flower",
                              expected=expected, found=repr(kind))
    fields = _decode(json.loads(str(record["fields"])))
    if kind == "MaskedInput":
        fields["masked"] = content.array_records["masked"].to_numpy_ndarrays()[0]
    return _KINDS[kind](**fields)
