"""What crosses the wire between the ServerApp and a domain's ClientApp.

Parameters travel as Flower array records; the model as a JSON description (its class,
which must be one of meshkit's, and its hyper-parameters), never as a pickle: a domain
does not run code the aggregator sends it.
"""

from __future__ import annotations

import importlib
import json

from meshkit._errors import FederationError
from meshkit._federation._base import Params

__all__ = ["model_spec", "model_from_spec"]

_TRUSTED = "meshkit._federation."


def _encode(value):
    if isinstance(value, Params):
        cls = type(value)
        return {"__params__": f"{cls.__module__}:{cls.__qualname__}",
                "params": {k: _encode(v) for k, v in value.get_params().items()}}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    raise FederationError("a model parameter the Flower engine cannot send", where="model",
                          expected="numbers, strings, None or meshkit parameter objects", found=repr(value))


def _decode(value):
    if isinstance(value, dict) and "__params__" in value:
        module, _, name = value["__params__"].partition(":")
        if not module.startswith(_TRUSTED):
            raise FederationError("refused a model class from outside meshkit", where="model spec",
                                  expected=f"a class of {_TRUSTED.rstrip('.')}", found=value["__params__"])
        cls = getattr(importlib.import_module(module), name)
        return cls(**{k: _decode(v) for k, v in value["params"].items()})
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def model_spec(model: Params) -> str:
    """The JSON description of ``model`` (class and hyper-parameters).

    Examples
    --------
    >>> from meshkit._federation.models import LogisticRegression
    >>> model_from_spec(model_spec(LogisticRegression(lr=0.3, seed=4)))
    ... # doctest: +NORMALIZE_WHITESPACE
    LogisticRegression(n_classes=None, lr=0.3, epochs=1, batch_size=32, l2=0.0, mu=0.0, seed=4, dp=None)
    """
    return json.dumps(_encode(model))


def model_from_spec(spec: str) -> Params:
    """A new model from :func:`model_spec`'s description (meshkit's classes only)."""
    return _decode(json.loads(spec))
