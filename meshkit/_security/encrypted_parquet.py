"""Encrypted data files: Parquet Modular Encryption with data keys wrapped by a domain keyset.

A protected product's data files are Parquet files encrypted with Parquet Modular
Encryption (PME, ``AES_GCM_V1``: every page and the footer authenticated, page and row-group
ordinals in the associated data, so a flipped bit, a cut file or reordered pages fail). Each
file has

* a **footer key** (``meshkit|<domain>|<product>|footer``): it encrypts the footer, which
  holds the schema and the *binding* (domain, product, file name, publish id, protected
  columns and their modes, dtypes, rows): everything that changes what a reader gets;
* a **data key** (``...|data``) for the columns that are not PII;
* one **column key** per PII column (``...|pii.<name>``), so a reader that may not see a
  PII column never unwraps its key, and still reads the columns it may see.

pyarrow generates each data key and hands it to :class:`KeysetKmsClient`, meshkit's KMS
client, which wraps it with the owning domain's :class:`~meshkit._security.keys.Keyset`
(AES-256-GCM, bound to the key's identifier). The wrapped keys live in the file's key
material (``_KEY_MATERIAL_FOR_<file>.json`` beside it), so rotating the domain key re-wraps
them without touching the data file (:func:`rotate_file_keys`).

Nothing is ever written in clear: pyarrow encrypts each column chunk before it reaches the
file, and reads decrypt in memory.

Examples
--------
>>> import tempfile, pathlib, polars as pl
>>> from meshkit._security.keys import Keyset, SeededKeySource
>>> ks = Keyset.generate("crm", source=SeededKeySource(0))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "part-0.parquet"
>>> frame = pl.DataFrame({"id": [1, 2], "email": ["a@x.io", None]})
>>> binding = {"domain": "crm", "product": "customers", "file": path.name,
...            "protected": {"email": "randomized"}, "dtypes": {"id": "Int64", "email": "String"}}
>>> write_encrypted(path, [frame.to_arrow()], frame.to_arrow().schema, ks, "customers",
...                 pii=["email"], binding=binding)
2
>>> b"a@x.io" in path.read_bytes()
False
>>> bound, table = read_encrypted(path, ks, "customers", columns=["id"],
...                               allowed={"footer", "data"})
>>> bound["protected"], table.column("id").to_pylist()
({'email': 'randomized'}, [1, 2])
"""

from __future__ import annotations

import atexit
import base64
import binascii
import gc
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

from meshkit._errors import IntegrityError, SecurityError
from meshkit._security.keys import WrappedKey

__all__ = ["FORMAT", "CIPHER", "KeysetKmsClient", "master_key_id", "pii_role", "key_material_path",
           "write_encrypted", "read_encrypted", "tail_digest",
           "rotate_file_keys", "wrapping_key_ids"]

FORMAT = "meshkit-pme-v1"
CIPHER = "Parquet Modular Encryption (AES_GCM_V1, 256-bit data keys)"
_BINDING = "meshkit.binding"
_KEY_MATERIAL_PREFIX = "_KEY_MATERIAL_FOR_"
_MAGIC = b"PARE"

# pyarrow's decryption keeps our Python KMS client in a reference cycle; freed during
# interpreter teardown its C++ side aborts the process. Collect cycles while Python is whole.
atexit.register(gc.collect)


def master_key_id(domain: str, product: str, role: str) -> str:
    """The identifier a data key is wrapped under: ``meshkit|<domain>|<product>|<role>``.

    ``role`` is ``footer``, ``data`` or ``pii.<column>`` (:func:`pii_role`); names are
    percent-encoded, since pyarrow's key-to-columns list reserves ``:``, ``,`` and ``;``.

    Examples
    --------
    >>> master_key_id("crm", "customers", pii_role("e-mail: work"))
    'meshkit|crm|customers|pii.e-mail%3A%20work'
    """
    return f"meshkit|{quote(domain, safe='')}|{quote(product, safe='')}|{role}"


def pii_role(column: str) -> str:
    """The key role of PII column ``column``."""
    return "pii." + quote(column, safe="")


def key_material_path(path: str | os.PathLike) -> Path:
    """Where pyarrow keeps the wrapped keys of data file ``path``."""
    path = Path(path)
    return path.with_name(_KEY_MATERIAL_PREFIX + path.name + ".json")


class _NotAllowed(SecurityError):
    """A key this reader may not unwrap (a PII column outside its access)."""


class KeysetKmsClient(pe.KmsClient):
    """pyarrow's KMS client over a domain :class:`~meshkit._security.keys.Keyset`.

    Wraps data keys under the keyset's primary key, bound to the master key identifier, and
    unwraps only keys of ``product`` whose role is in ``allowed`` (``None``: every role).
    A key of another product or domain is an :class:`IntegrityError`.
    """

    def __init__(self, keyset, product: str, *, allowed=None) -> None:
        super().__init__()
        self.keyset = keyset
        self.prefix = master_key_id(keyset.domain, product, "")
        self.allowed = None if allowed is None else set(allowed)

    def _role(self, identifier: str) -> str:
        if not identifier.startswith(self.prefix):
            raise IntegrityError("encrypted file belongs to another product or domain",
                                 where="key material", expected=self.prefix + "...",
                                 found=identifier)
        return identifier[len(self.prefix):]

    @staticmethod
    def _context(identifier: str) -> bytes:
        return b"meshkit pme key v1|" + identifier.encode()

    def wrap_key(self, key_bytes, master_key_identifier):
        self._role(master_key_identifier)
        wrapped = self.keyset.wrap(bytes(key_bytes),
                                   context=self._context(master_key_identifier))
        return base64.b64encode(json.dumps(wrapped.to_dict()).encode()).decode()

    def unwrap_key(self, wrapped_key, master_key_identifier):
        role = self._role(master_key_identifier)
        if self.allowed is not None and role not in self.allowed:
            raise _NotAllowed("this read may not unwrap the key", where=master_key_identifier,
                              expected=f"one of {sorted(self.allowed)}", found=role)
        wrapped = _parse_wrapped(wrapped_key, master_key_identifier)
        return self.keyset.unwrap(wrapped, context=self._context(master_key_identifier),
                                  where=master_key_identifier)


def _parse_wrapped(text, where: str) -> WrappedKey:
    try:
        return WrappedKey.from_dict(json.loads(base64.b64decode(text, validate=True)),
                                    where=where)
    except (ValueError, TypeError, binascii.Error):
        raise IntegrityError("wrapped data key is malformed", where=where,
                             expected="base64 JSON of a wrapped key", found=repr(text)[:40]) \
            from None


def _factory(keyset, product: str, allowed=None) -> pe.CryptoFactory:
    return pe.CryptoFactory(lambda _config: KeysetKmsClient(keyset, product, allowed=allowed))


def _leaf_paths(schema: pa.Schema) -> dict[str, list[str]]:
    """Parquet leaf column paths of each top-level field (``tags.list.element``...)."""
    import io

    buf = io.BytesIO()
    pq.write_table(schema.empty_table(), buf)
    leaves: dict[str, list[str]] = {name: [] for name in schema.names}
    parquet_schema = pq.ParquetFile(pa.BufferReader(buf.getvalue())).schema
    for i in range(len(parquet_schema)):
        path = parquet_schema.column(i).path
        leaves[path.split(".")[0]].append(path)
    return leaves


def write_encrypted(path: str | os.PathLike, tables, schema: pa.Schema, keyset, product: str,
                    *, pii, binding: dict, row_group_size: int | None = None) -> int:
    """Write ``tables`` (Arrow tables of ``schema``) to one encrypted file; returns the rows.

    ``binding`` goes into the encrypted, authenticated footer with the final row count.
    A file that fails half way is removed with its key material.
    """
    path = Path(path)
    leaves = _leaf_paths(schema)
    domain = keyset.domain
    column_keys: dict[str, list[str]] = {}
    plain = [leaf for name in schema.names if name not in pii for leaf in leaves[name]]
    if plain:
        column_keys[master_key_id(domain, product, "data")] = plain
    for name in pii:
        column_keys[master_key_id(domain, product, pii_role(name))] = leaves[name]
    config = pe.EncryptionConfiguration(
        footer_key=master_key_id(domain, product, "footer"), column_keys=column_keys,
        encryption_algorithm="AES_GCM_V1", plaintext_footer=False, double_wrapping=False,
        internal_key_material=False, data_key_length_bits=256)
    rows = 0
    try:
        props = _factory(keyset, product).file_encryption_properties(
            pe.KmsConnectionConfig(), config, parquet_file_path=str(path))
        with pq.ParquetWriter(str(path), schema, encryption_properties=props,
                              store_schema=True) as writer:
            for table in tables:
                if table.schema != schema:
                    table = table.cast(schema)
                writer.write_table(table, row_group_size=row_group_size)
                rows += table.num_rows
            writer.add_key_value_metadata(
                {_BINDING: json.dumps({**binding, "rows": rows}, sort_keys=True)})
    except BaseException:
        path.unlink(missing_ok=True)
        key_material_path(path).unlink(missing_ok=True)
        raise
    return rows


def _integrity(where: str, exc: BaseException) -> IntegrityError:
    return IntegrityError("encrypted data file failed authentication: tampered, truncated, "
                          "reordered, or moved from another product or file", where=where,
                          expected="an intact file encrypted for this product",
                          found=f"{type(exc).__name__}: {exc}".split("\n")[0][:200])


def read_encrypted(path: str | os.PathLike, keyset, product: str, *, columns=None,
                   allowed=None, check=None, tail_sha256: str | None = None,
                   where: str | None = None) -> tuple[dict, pa.Table]:
    """Decrypt file ``path``: its authenticated binding and ``columns`` (all when ``None``).

    Only keys whose role is in ``allowed`` are unwrapped (``None``: all). ``check(binding)``
    runs after the footer authenticates and before any column is decrypted; ``tail_sha256``
    (:func:`tail_digest` at write time) is checked first when given. Raises
    :class:`IntegrityError` when the footer, a page or a key fails to authenticate, or the
    file or its key material is missing. Everything is decrypted in memory; the file handle
    and the keys are released before returning.
    """
    where = where or Path(path).name
    factory = _factory(keyset, product, allowed)
    pf = None
    try:
        _check_magic(path, where)
        if tail_sha256 is not None and tail_digest(path, where=where) != tail_sha256:
            raise IntegrityError("encrypted data file failed authentication: its footer "
                                 "framing differs from the one recorded at publish",
                                 where=where, expected=f"tail sha256 {tail_sha256[:16]}...",
                                 found="another digest")
        props = factory.file_decryption_properties(pe.KmsConnectionConfig(),
                                                   parquet_file_path=str(path))
        pf = pq.ParquetFile(str(path), decryption_properties=props)
        binding = _binding(pf, where)
        if check is not None:
            check(binding)
        return binding, pf.read(columns=columns)
    except (IntegrityError, _NotAllowed):
        raise
    except FileNotFoundError as exc:
        raise IntegrityError("a data file or its key material is missing", where=where,
                             expected="the file the Delta log lists",
                             found=f"{type(exc).__name__}: {exc}"[:200]) from None
    except Exception as exc:  # pyarrow reports failed authentication as OSError or ArrowException
        raise _integrity(where, exc) from None
    finally:
        if pf is not None:
            pf.close()
        del pf
        factory.remove_cache_entries_for_all_tokens()


def tail_digest(path: str | os.PathLike, *, where: str | None = None) -> str:
    """SHA-256 (hex) of the file's tail: the plaintext ``FileCryptoMetaData``, the encrypted
    footer, their length and the magic.

    PME authenticates every page and the footer, but not the Thrift framing of the
    plaintext ``FileCryptoMetaData``, where a few flipped bits are parsed leniently. The
    store records this digest in the Delta log at publish and checks it on every read, so
    every bit of the file is covered without hashing the (large) column data.
    """
    where = where or Path(path).name
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size < 12:
            raise IntegrityError("encrypted data file is too short", where=where,
                                 expected="at least 12 bytes", found=f"{size} bytes")
        fh.seek(size - 8)
        length = int.from_bytes(fh.read(4), "little")
        if length + 12 > size:
            raise IntegrityError("encrypted data file failed authentication: footer length "
                                 "out of range", where=where, expected=f"< {size - 12}",
                                 found=length)
        fh.seek(size - 8 - length)
        return hashlib.sha256(fh.read(length + 8)).hexdigest()


def _check_magic(path, where: str) -> None:
    """An encrypted-footer Parquet file starts and ends with ``PARE`` (the magic bytes are
    the only bytes PME does not authenticate)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if head != _MAGIC or tail != _MAGIC or size < 12:
        raise IntegrityError("encrypted data file failed authentication: not an encrypted-"
                             "footer Parquet file", where=where,
                             expected="PARE at both ends", found=f"{head!r} ... {tail!r}")


def _binding(pf: pq.ParquetFile, where: str) -> dict:
    """The authenticated binding stored in the encrypted footer."""
    meta = pf.metadata.metadata or {}
    raw = meta.get(_BINDING.encode())
    try:
        binding = json.loads(raw) if raw is not None else None
    except ValueError:
        binding = None
    if not isinstance(binding, dict):
        raise IntegrityError("encrypted file has no meshkit binding", where=where,
                             expected=f"a {FORMAT} file", found="no binding in its footer")
    return binding


def rotate_file_keys(path: str | os.PathLike, keyset, product: str) -> None:
    """Re-wrap every key of the file under the keyset's primary; the data file is untouched."""
    try:
        _factory(keyset, product).rotate_master_keys(pe.KmsConnectionConfig(), str(path),
                                                     double_wrapping=False)
    except IntegrityError:
        raise
    except Exception as exc:
        raise _integrity(Path(path).name, exc) from None


def wrapping_key_ids(path: str | os.PathLike) -> dict[str, str]:
    """Which domain key wraps each data key of ``path``: role -> key id (from key material)."""
    material_path = key_material_path(path)
    try:
        material = json.loads(material_path.read_text())
        out = {}
        for text in material.values():
            item = json.loads(text)
            identifier = item["masterKeyID"]
            wrapped = _parse_wrapped(item["wrappedDEK"], identifier)
            out[identifier.split("|", 3)[-1]] = wrapped.key_id
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError("key material is missing or malformed", where=material_path.name,
                             expected="pyarrow key material JSON",
                             found=f"{type(exc).__name__}") from None
