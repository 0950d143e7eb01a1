"""Envelope encryption of product versions: one data key per version, wrapped by the domain.

Each published version gets its own random data key. The data is encrypted with it
(:mod:`meshkit._security.streaming`); the data key is stored only *wrapped* by the domain's
primary key (:class:`~meshkit._security.keys.Keyset`). Both the data and the wrapped key are
bound to a *context*: ``domain | product | version | schema hash``. A ciphertext copied to
another product or version therefore fails to decrypt.

Examples
--------
>>> ctx = product_context("sales", "orders", 3, "ab" * 32)
>>> ctx.startswith(b"meshkit product v1|domain=sales|product=orders|version=3")
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from meshkit._errors import IntegrityError
from meshkit._security.keys import WrappedKey

__all__ = ["schema_hash", "product_context", "Envelope"]


def schema_hash(schema) -> str:
    """SHA-256 (hex) of a schema: ordered ``(column, dtype)`` pairs.

    ``schema`` may be a polars ``Schema``/``DataFrame``/mapping of name -> dtype.

    Examples
    --------
    >>> len(schema_hash({"a": "Int64"}))
    64
    """
    if hasattr(schema, "schema") and not isinstance(schema, dict):
        schema = schema.schema
    pairs = [[str(name), str(dtype)] for name, dtype in dict(schema).items()]
    return hashlib.sha256(json.dumps(pairs, separators=(",", ":")).encode()).hexdigest()


def product_context(domain: str, product: str, version: int, schema_digest: str) -> bytes:
    """The bytes bound into a product version's ciphertext and its wrapped data key."""
    for name, value in (("domain", domain), ("product", product)):
        if "|" in value or "=" in value:
            raise IntegrityError("names bound into a context cannot contain '|' or '='",
                                 where=name, expected="a plain name", found=repr(value))
    return (f"meshkit product v1|domain={domain}|product={product}|version={int(version)}"
            f"|schema={schema_digest}").encode()


@dataclass(frozen=True)
class Envelope:
    """What is stored next to an encrypted version: its context fields and the wrapped key."""

    domain: str
    product: str
    version: int
    schema_hash: str
    wrapped_key: WrappedKey

    @property
    def context(self) -> bytes:
        return product_context(self.domain, self.product, self.version, self.schema_hash)

    def to_dict(self) -> dict:
        return {"domain": self.domain, "product": self.product, "version": self.version,
                "schema_hash": self.schema_hash, "wrapped_key": self.wrapped_key.to_dict()}

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "envelope") -> "Envelope":
        try:
            return cls(domain=str(d["domain"]), product=str(d["product"]),
                       version=int(d["version"]), schema_hash=str(d["schema_hash"]),
                       wrapped_key=WrappedKey.from_dict(d["wrapped_key"],
                                                        where=f"{where}.wrapped_key"))
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError("malformed envelope", where=where,
                                 expected="domain, product, version, schema_hash, wrapped_key",
                                 found=repr(exc)) from None
