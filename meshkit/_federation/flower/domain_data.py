"""A SuperNode's domain data, named by its node config.

Node config keys:

``domain``
    The domain's name (what the ServerApp knows it by).
``data``
    A ``.npz`` file on the node's machine with the domain's ``X_train``, ``y_train``,
    ``X_test`` and ``y_test`` (:func:`save`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.data import DomainData

__all__ = ["save", "load"]

_FIELDS = ("X_train", "y_train", "X_test", "y_test")


def save(data: DomainData, path) -> Path:
    """Write ``data`` for a SuperNode (atomically); returns the path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, **{f: np.asarray(getattr(data, f)) for f in _FIELDS})
    os.replace(tmp, path)
    return path


def load(node_config) -> DomainData:
    """The domain data the node config names."""
    missing = [k for k in ("domain", "data") if k not in node_config]
    if missing:
        raise FederationError("the SuperNode's node config does not name its domain's data",
                              where="node config", expected="keys domain and data",
                              found=", ".join(sorted(node_config)) or "no keys")
    with np.load(str(node_config["data"]), allow_pickle=False) as arrays:
        return DomainData(str(node_config["domain"]), *(arrays[f] for f in _FIELDS))
