"""Column protection for PII: deterministic AES-SIV where joins must work, AES-GCM otherwise.

* ``"deterministic"``: AES-SIV under a per-domain, per-column key
  (:meth:`Keyset.join_key`). Equal plaintexts give equal tokens, so equality joins and
  group-bys still work on the protected column, across products and versions of a domain.
  It leaks equality (by design) and nothing else.
* ``"randomized"``: AES-256-GCM under a key derived from the version's data key, random
  nonce, bound to the version context and column name. Equal plaintexts look unrelated.

Values are stored as text ``"siv:<base64>"`` / ``"gcm:<base64>"``; nulls stay null. The
original dtype is restored on :func:`unprotect_frame`.

Examples
--------
>>> import polars as pl
>>> from meshkit._security.keys import Keyset, SeededKeySource
>>> ks = Keyset.generate("crm", source=SeededKeySource(0))
>>> df = pl.DataFrame({"email": ["a@x.io", "a@x.io", None]})
>>> prot = protect_frame(df, {"email": "deterministic"}, keyset=ks,
...                      data_key=bytes(16), context=b"c")
>>> prot["email"][0] == prot["email"][1], prot["email"][2] is None
(True, True)
>>> unprotect_frame(prot, {"email": "deterministic"}, keyset=ks, data_key=bytes(16),
...                 context=b"c", dtypes={"email": "String"}).equals(df)
True
"""

from __future__ import annotations

import base64
import os

import polars as pl
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshkit._errors import IntegrityError, SecurityError

__all__ = ["MODES", "tokenize_values", "protect_frame", "protect_lazy", "unprotect_frame",
           "is_protected"]

MODES = ("deterministic", "randomized")


_NONCE = 12  # AES-GCM nonce bytes, stored before each randomized token's ciphertext
_TAG = 16


def _siv(keyset, column: str) -> tuple[AESSIV, list[bytes]]:
    """The AES-SIV cipher of ``column`` in the keyset's domain, and its associated data."""
    ad = [f"meshkit column v1|domain={keyset.domain}|column={column}".encode()]
    return AESSIV(keyset.join_key(column)), ad


def _gcm(data_key: bytes, context: bytes, column: str) -> tuple[AESGCM, bytes]:
    """The AES-GCM cipher of ``column`` in one product version, and its associated data."""
    ad = context + b"|column=" + column.encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"meshkit column gcm v1",
               info=ad).derive(data_key)
    return AESGCM(key), ad


def tokenize_values(values: list, *, keyset, column: str) -> list:
    """Deterministic tokens (AES-SIV) for a list of values; ``None`` stays ``None``."""
    siv, ad = _siv(keyset, column)
    return [None if v is None else
            "siv:" + base64.b64encode(siv.encrypt(str(v).encode(), ad)).decode()
            for v in values]


def _encrypt_gcm(values: list, aead: AESGCM, ad: bytes) -> list:
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        nonce = os.urandom(_NONCE)
        out.append("gcm:" + base64.b64encode(nonce + aead.encrypt(nonce, str(v).encode(), ad))
                   .decode())
    return out


def _check_modes(modes: dict[str, str], names: list[str]) -> None:
    """:class:`SecurityError` for a column to protect that the frame lacks, or an unknown mode."""
    for column, mode in modes.items():
        if column not in names:
            raise SecurityError("PII column to protect is missing from the frame",
                                where=f"column {column!r}", expected=f"one of {names}",
                                found="no such column")
        if mode not in MODES:
            raise SecurityError("unknown column protection mode", where=f"column {column!r}",
                                expected=" or ".join(MODES), found=repr(mode))


def protect_frame(frame: pl.DataFrame, modes: dict[str, str], *, keyset, data_key: bytes,
                  context: bytes) -> pl.DataFrame:
    """Encrypt the columns named in ``modes`` (column -> ``"deterministic"``/``"randomized"``)."""
    _check_modes(modes, frame.columns)
    columns = {}
    for column, mode in modes.items():
        values = frame[column].cast(pl.String).to_list()
        if mode == "deterministic":
            columns[column] = tokenize_values(values, keyset=keyset, column=column)
        else:
            columns[column] = _encrypt_gcm(values, *_gcm(data_key, context, column))
    return frame.with_columns(pl.Series(c, v, dtype=pl.String) for c, v in columns.items())


def protect_lazy(frame: pl.LazyFrame, modes: dict[str, str], *, keyset, data_key: bytes,
                 context: bytes) -> pl.LazyFrame:
    """Like :func:`protect_frame` on a LazyFrame, batch by batch (element-wise), so a
    streaming ``sink_parquet`` protects a product larger than memory without collecting it."""
    _check_modes(modes, frame.collect_schema().names())
    exprs = []
    for column, mode in modes.items():

        def encrypt(series: pl.Series, column=column, mode=mode) -> pl.Series:
            one = protect_frame(pl.DataFrame({column: series}), {column: mode}, keyset=keyset,
                                data_key=data_key, context=context)
            return one[column]

        exprs.append(pl.col(column).map_batches(encrypt, return_dtype=pl.String,
                                                is_elementwise=True))
    return frame.with_columns(exprs)


def _decode(token: str, prefix: str, where: str) -> bytes:
    if not isinstance(token, str) or not token.startswith(prefix):
        raise IntegrityError("protected value has the wrong form", where=where,
                             expected=f"'{prefix}<base64>'", found=repr(token)[:40])
    try:
        return base64.b64decode(token[len(prefix):], validate=True)
    except ValueError:
        raise IntegrityError("protected value is not base64", where=where,
                             expected="base64", found=repr(token)[:40]) from None


def unprotect_frame(frame: pl.DataFrame, modes: dict[str, str], *, keyset, data_key: bytes,
                    context: bytes, dtypes: dict[str, str] | None = None) -> pl.DataFrame:
    """Decrypt protected columns present in ``frame`` and cast back to their ``dtypes``."""
    dtypes = dtypes or {}
    out = []
    for column, mode in modes.items():
        if column not in frame.columns:
            continue
        where = f"column {column!r}"
        values = frame[column].to_list()
        plain = []
        try:
            if mode == "deterministic":
                siv, ad = _siv(keyset, column)
                for v in values:
                    plain.append(None if v is None else
                                 siv.decrypt(_decode(v, "siv:", where), ad).decode())
            else:
                aead, ad = _gcm(data_key, context, column)
                for v in values:
                    if v is None:
                        plain.append(None)
                        continue
                    raw = _decode(v, "gcm:", where)
                    if len(raw) < _NONCE + _TAG:
                        raise InvalidTag  # truncated: too short to hold a nonce and a tag
                    plain.append(aead.decrypt(raw[:_NONCE], raw[_NONCE:], ad).decode())
        except InvalidTag:
            raise IntegrityError("protected column value failed authentication", where=where,
                                 expected="a value encrypted for this product version",
                                 found="authentication failure") from None
        series = pl.Series(column, plain, dtype=pl.String)
        dtype = dtypes.get(column)
        if dtype and dtype != "String":
            series = series.cast(_dtype(dtype))
        out.append(series)
    return frame.with_columns(out) if out else frame


def _dtype(name: str):
    """A polars dtype from its string form (the simple types products use)."""
    simple = {"Int64": pl.Int64, "Int32": pl.Int32, "Float64": pl.Float64, "Float32": pl.Float32,
              "Boolean": pl.Boolean, "Date": pl.Date, "String": pl.String, "Utf8": pl.String,
              "Int16": pl.Int16, "Int8": pl.Int8, "UInt32": pl.UInt32, "UInt64": pl.UInt64}
    if name in simple:
        return simple[name]
    if name.startswith("Datetime"):
        return pl.Datetime("us")
    return pl.String


def is_protected(series: pl.Series) -> bool:
    """True when every non-null value of ``series`` looks like a protected token."""
    if series.dtype != pl.String:
        return False
    vals = series.drop_nulls()
    return bool(len(vals)) and bool(vals.str.contains(r"^(siv|gcm):").all())
