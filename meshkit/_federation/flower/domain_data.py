"""A SuperNode's domain data, named by its node config.

The node config names the domain's **product** and where its governed store lives; the
ClientApp reads it with :meth:`~meshkit._security.store.SecureStore.read` and the training
service's token, so the domain's own grants, masks and row filters decide what training
sees (:class:`ProductSource`). Node config keys:

``domain``
    The domain's name (what the ServerApp knows it by).
``product``
    The product to train on, in the domain's governed store.
``home``
    The domain's home on the node's machine
    (:func:`~meshkit._security.domain_home.export_domain_home`: policy, directory, sealed keys,
    the store's location, the home's audit log).
``master-key``
    The file holding the domain's master key (owner-only), which unseals its keys.
``token``
    The file holding the training service's signed token; its ``purpose`` claim is what the
    grant is checked against (``"federated training"``).
``features``, ``target``, ``test-size``, ``standardize``
    The task: feature columns (a JSON list), the label column, the test fraction, and
    whether the domain standardizes its features with its own statistics.
``scaling`` (optional)
    The federation's standardization, a JSON list ``[mean, std]`` (one number per feature
    each, from every domain's sufficient statistics, :func:`~meshkit._federation.data.federated_standardize`),
    applied after the governed read and the split.

Arrays that are not a product (synthetic data, tests) may instead be named by ``data``: a
``.npz`` file with ``X_train``, ``y_train``, ``X_test`` and ``y_test`` (:func:`save`); no
governance applies to them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.data import DomainData, check_scaling, training_data

__all__ = ["ProductSource", "save", "load"]

_FIELDS = ("X_train", "y_train", "X_test", "y_test")
_PRODUCT_KEYS = ("domain", "product", "home", "master-key", "token", "features", "target")


@dataclass(frozen=True)
class ProductSource:
    """Where a domain's node reads its training data: a product in the domain's governed store.

    Parameters
    ----------
    product : str
    home : path
        The domain's home (:func:`~meshkit.export_domain_home`).
    master_key : path
        The file with the domain's master key (:func:`~meshkit.new_master_key`).
    token : path
        The file with the training service's signed token, read at each job (so a new token
        takes effect without restarting the node).
    features : tuple of str
    target : str
    test_size : float, default 0.25
    standardize : bool, default False
        Standardize with the domain's own training statistics (:func:`~meshkit.training_data`).
    scaling : (mean, std), optional
        Standardize with the federation's statistics instead (one mean and one deviation per
        feature; kept as tuples of floats). The domain then trains on exactly what
        :func:`~meshkit.federated_standardize` gives it in one process.

    Examples
    --------
    >>> src = ProductSource("orders", "/srv/home", "/srv/master.key", "/srv/token.jwt", ("x",), "y")
    >>> ProductSource.from_node_config(src.node_config("sales")) == src
    True
    """

    product: str
    home: str | os.PathLike
    master_key: str | os.PathLike
    token: str | os.PathLike
    features: tuple
    target: str
    test_size: float = 0.25
    standardize: bool = False
    scaling: tuple | None = None

    def __post_init__(self) -> None:
        if self.scaling is not None:
            if self.standardize:
                raise FederationError("standardize with the domain's own statistics or the federation's, not both",
                                      where=f"product {self.product!r}", expected="standardize=False with scaling",
                                      found="standardize=True and scaling")
            mean, std = check_scaling(self.scaling, len(self.features), where=f"product {self.product!r}")
            object.__setattr__(self, "scaling", (tuple(mean.tolist()), tuple(std.tolist())))

    def node_config(self, domain: str) -> dict:
        """The SuperNode's node config for ``domain`` (paths made absolute: the node does not
        run in this process's folder)."""
        config = {"domain": domain, "product": self.product, "home": os.path.abspath(self.home),
                  "master-key": os.path.abspath(self.master_key), "token": os.path.abspath(self.token),
                  "features": json.dumps(list(self.features)), "target": self.target,
                  "test-size": float(self.test_size), "standardize": bool(self.standardize)}
        if self.scaling is not None:  # JSON floats round-trip exactly
            config["scaling"] = json.dumps([list(self.scaling[0]), list(self.scaling[1])])
        return config

    @classmethod
    def from_node_config(cls, config) -> ProductSource:
        missing = [k for k in _PRODUCT_KEYS if k not in config]
        if missing:
            raise FederationError("the SuperNode's node config does not name its domain's product",
                                  where="node config", expected=", ".join(_PRODUCT_KEYS),
                                  found=f"no {', '.join(missing)}")
        scaling = None
        if "scaling" in config:
            try:
                scaling = json.loads(str(config["scaling"]))
            except ValueError:
                raise FederationError("the node config's scaling is not JSON", where="node config",
                                      expected="[mean, std] as a JSON list of two lists",
                                      found=str(config["scaling"])[:200]) from None
        return cls(str(config["product"]), str(config["home"]), str(config["master-key"]), str(config["token"]),
                   tuple(json.loads(str(config["features"]))), str(config["target"]),
                   float(config.get("test-size", 0.25)), bool(config.get("standardize", False)), scaling)

    def read(self, domain: str, *, seed: int = 0, index: int = 0) -> DomainData:
        """Read the product through the governed path and split it as the local engine does.

        Opens the domain's home with its master key, reads the product with the token
        (authenticate, authorize by the grant and the token's purpose, decrypt, mask, filter,
        audit), then :func:`~meshkit.training_data` (split ``seed`` at position ``index``,
        then standardized as ``standardize`` or ``scaling`` say).

        Raises
        ------
        AuthenticationError, AuthorizationError
            The token is not valid, or no grant allows this read (e.g. another purpose).
        """
        from meshkit._security.domain_home import open_domain_home

        store = open_domain_home(self.home, self.master_key)
        token = Path(self.token).read_text().strip()
        frame = store.read(self.product, token, columns=[*self.features, self.target])
        version = store.versions(self.product)[-1]
        return training_data(frame, domain, features=self.features, target=self.target, test_size=self.test_size,
                             seed=seed, index=index, standardize=self.standardize, scaling=self.scaling,
                             provenance={"product": self.product, "product_version": version})


def save(data: DomainData, path) -> Path:
    """Write ``data`` for a SuperNode (atomically); returns the path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, **{f: np.asarray(getattr(data, f)) for f in _FIELDS})
    os.replace(tmp, path)
    return path


def load(node_config, *, seed: int = 0, domains=()) -> DomainData:
    """The domain data the node config names: its product read through the governed path
    (split with ``seed`` at the domain's position in ``domains``), or a ``.npz`` file."""
    if "product" in node_config:
        source = ProductSource.from_node_config(node_config)
        name = str(node_config["domain"])
        index = list(domains).index(name) if name in domains else 0
        return source.read(name, seed=seed, index=index)
    missing = [k for k in ("domain", "data") if k not in node_config]
    if missing:
        raise FederationError("the SuperNode's node config does not name its domain's data",
                              where="node config", expected="keys domain and product (or data)",
                              found=", ".join(sorted(node_config)) or "no keys")
    with np.load(str(node_config["data"]), allow_pickle=False) as arrays:
        return DomainData(str(node_config["domain"]), *(arrays[f] for f in _FIELDS))
