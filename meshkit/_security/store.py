"""The secure read path: one governed Delta table per product, encrypted, read only through decisions.

:class:`SecureStore` keeps each protected product as **one Delta table**
(``<root>/<domain>/<product>``): versions, history, restore, concurrency and ``vacuum``
come from the Delta log. Its data files are Parquet Modular Encryption files
(:mod:`meshkit._security.encrypted_parquet`): a footer key, a data key for the other
columns and one key per PII column, each wrapped by the owning domain's keyset through
meshkit's KMS client. Files are written encrypted (nothing in clear ever reaches disk),
committed with deltalake's transaction API and read back from the file list of a version.

Everything that changes what a reader gets (the product, the file, the protected columns
and their modes, the dtypes, the row count) is in the file's encrypted, authenticated
footer, and must agree with the publish recorded in the Delta log: an edited or moved field
is an :class:`~meshkit._errors.IntegrityError`. A missing data file, or a Delta log that
ends before the newest version this store has published (a deleted newest version), is
an integrity failure too: a read never silently serves an older version.

Reading goes authentication -> authorization -> decryption -> masks and row filters. Only
the keys of the columns the decision shows are unwrapped. A denied read raises and returns
no data; an allowed read returns only what the grants allow, row by row: a row is returned
when some grant admits it, and each of its cells as the most revealing of the grants
admitting that row allow. Every decision, and every integrity failure, is audited.

Examples
--------
>>> import tempfile, polars as pl
>>> from meshkit._security.keys import SeededKeySource
>>> from meshkit._security.tokens import Identity, Principal
>>> from meshkit._security.policy import ProductInfo
>>> from meshkit._security.model import SecurityModel
>>> src = SeededKeySource(0)
>>> crm = ProductInfo("customers", "crm", owner="cleo", columns=("id", "email"),
...                   pii_columns=("email",))
>>> cleo = Identity.generate(Principal("cleo", domain="crm"), source=src)
>>> model = SecurityModel.build([crm], identities=[cleo], source=src, clock=lambda: 1_800_000_000)
>>> store = SecureStore(tempfile.mkdtemp(), model)
>>> store.publish("customers", pl.DataFrame({"id": [1], "email": ["c@x.io"]}), cleo).version
0
>>> store.read("customers", cleo)["email"].to_list()
['c@x.io']
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, create_table_with_add_actions

from meshkit._errors import DataError, IntegrityError, MeshkitError, StoreError
from meshkit._names import check_product_name
from meshkit._security.columns import tokenize_values
from meshkit._security.encrypted_parquet import (CIPHER, FORMAT, key_material_path, pii_role,
                                                 read_encrypted, rotate_file_keys, tail_digest,
                                                 wrapping_key_ids, write_encrypted)
from meshkit._security.model import Decision, Layer, SecurityModel
from meshkit._security.policy import _filter_columns, apply_access

__all__ = ["SecureStore", "SecurePublication"]

_PUBLISH_KEY = "meshkit.publish"
_COMMIT_ATTEMPTS = 200  # a publish retries its commit onto newer versions this many times
_DAY_HOURS = 24
_STALE_CREATE = 30  # seconds after which a creation marker left by a killed publisher is taken over


@dataclass(frozen=True)
class SecurePublication:
    """What :meth:`SecureStore.publish` returns."""

    product: str
    version: int
    rows: int
    protected: dict
    key_id: str
    decision: Decision

    def __str__(self) -> str:
        prot = ", ".join(f"{c} ({m})" for c, m in self.protected.items()) or "none"
        return (f"{self.product} v{self.version}: {self.rows} rows encrypted; keys wrapped by "
                f"{self.key_id}; PII protected: {prot}")


def _delta_schema(schema: pl.Schema, name: str) -> DeltaSchema:
    """The Delta log's schema for a frame (the types Delta stores; the files keep the exact
    Arrow types, bound in their footer)."""
    from meshkit._store import _storable_dtype

    storable = {c: _storable_dtype(t, f"product {name!r}, column {c!r}")
                for c, t in schema.items()}
    return DeltaSchema.from_arrow(pl.DataFrame(schema=storable).to_arrow().schema)


class SecureStore:
    """Protected products as encrypted Delta tables, read only through :class:`SecurityModel`.

    Parameters
    ----------
    root : path
        Holds one Delta table per product, ``<root>/<domain>/<product>``.
    model : SecurityModel
        Decides and audits every publish and read (the store registers itself on it).
    deterministic : iterable of str, optional
        PII columns whose ``tokenize`` mask is meant for joins across products (the token is
        AES-SIV under a per-domain column key either way; the mode is recorded and bound).
        Default: PII columns whose name appears in more than one product.
    row_group_size : int, optional
        Rows per Parquet row group of the encrypted files (pyarrow's default when None).
    reset : bool
        Remove the tables this model's products already have under ``root`` (re-runs).
    """

    def __init__(self, root: str | os.PathLike, model: SecurityModel, *, deterministic=None,
                 row_group_size: int | None = None, reset: bool = False) -> None:
        self.root = Path(root)
        for info in model.products.values():
            check_product_name(info.name)
        if reset and self.root.exists():
            for info in model.products.values():
                shutil.rmtree(self.root / info.domain / info.name, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = model
        model.store = self
        self.row_group_size = row_group_size
        if deterministic is None:
            seen: dict[str, int] = {}
            for info in model.products.values():
                for c in info.columns:
                    seen[c] = seen.get(c, 0) + 1
            deterministic = {c for info in model.products.values() for c in info.pii_columns
                             if seen.get(c, 0) > 1}
        self.deterministic = set(deterministic)
        self._newest: dict[str, int] | None = None  # newest published version, per product

    def __repr__(self) -> str:
        listed = ", ".join(f"{i.name}@v{v[-1]}" for i in self.model.products.values()
                           if (v := self.versions(i.name)))
        return f"SecureStore({listed or 'empty'})"

    # -- layout --------------------------------------------------------------------
    def _info(self, product):
        info = self.model.product_info(product)
        if info is None:
            raise StoreError("unknown product", where=f"product {product!r}",
                             expected=f"one of {sorted(self.model.products)}", found=repr(product))
        check_product_name(info.name)
        return info

    def table_path(self, product) -> Path:
        """The product's Delta table folder."""
        info = self._info(product)
        return self.root / info.domain / info.name

    def _table(self, info, version: int | None = None) -> DeltaTable | None:
        path = self.root / info.domain / info.name
        if not DeltaTable.is_deltatable(str(path)):
            return None
        try:
            return DeltaTable(str(path), version=version)
        except Exception as exc:
            raise IntegrityError("the product's Delta log cannot be read at this version",
                                 where=f"{info.name} v{version}", expected="an intact log",
                                 found=f"{type(exc).__name__}: {exc}".split("\n")[0]) from None

    def _commits(self, info) -> list[dict]:
        table = self._table(info)
        return [] if table is None else sorted(table.history(), key=lambda e: e["version"])

    def versions(self, product) -> list[int]:
        """Every version still in the product's Delta log, oldest first."""
        return [e["version"] for e in self._commits(self._info(product))]

    def _files(self, info, version: int) -> list[dict]:
        table = self._table(info, version)
        return pa.table(table.get_add_actions(flatten=True)).to_pylist()

    def files(self, product, version: int | None = None) -> list[Path]:
        """The data files of a version (the latest by default), as the Delta log lists them."""
        info = self._info(product)
        v = self._latest(info) if version is None else self._check_version(info, version)
        return [self.root / info.domain / info.name / f["path"] for f in self._files(info, v)]

    def blob_path(self, product, version: int) -> Path:
        """The (first) encrypted data file of ``version``."""
        return self.files(product, version)[0]

    def manifest_path(self, product, version: int) -> Path:
        """The Delta log entry (commit JSON) of ``version``."""
        info = self._info(product)
        self._check_version(info, version)
        return self.root / info.domain / info.name / "_delta_log" / f"{version:020d}.json"

    def _publishes(self, info) -> dict[str, dict]:
        """Publish id -> what the Delta log recorded for that publish."""
        out = {}
        for entry in self._commits(info):
            raw = entry.get(_PUBLISH_KEY)
            if raw is None:
                continue
            try:
                record = json.loads(raw) if isinstance(raw, str) else dict(raw)
                out[str(record["publish_id"])] = record
            except (ValueError, TypeError, KeyError):
                raise IntegrityError("malformed publish record in the Delta log",
                                     where=f"{info.name} v{entry['version']}",
                                     expected="a meshkit publish record",
                                     found=repr(raw)[:60]) from None
        return out

    @staticmethod
    def _publish_id(file_name: str, where: str) -> str:
        parts = file_name.split("-")
        if len(parts) != 3 or not parts[0] == "part" or not file_name.endswith(".parquet"):
            raise IntegrityError("a data file meshkit did not write is in the Delta log",
                                 where=where, expected="part-<publish id>-<n>.parquet",
                                 found=file_name)
        return parts[1]

    def manifest(self, product, version: int) -> dict:
        """What the Delta log records for ``version``: format, cipher, protected columns and
        their modes, dtypes, rows, files, and which domain key wraps the file keys now."""
        info = self._info(product)
        self._check_version(info, version)
        where = f"{info.name} v{version}"
        files = self._files(info, version)
        publishes = self._publishes(info)
        ids = {self._publish_id(f["path"], where) for f in files}
        if len(ids) != 1 or next(iter(ids)) not in publishes:
            raise IntegrityError("the version's files do not belong to one recorded publish",
                                 where=where, expected="files of one publish",
                                 found=sorted(ids))
        record = dict(publishes[next(iter(ids))])
        if (record.get("domain"), record.get("product")) != (info.domain, info.name):
            raise IntegrityError("publish record belongs to another product", where=where,
                                 expected=f"{info.domain}/{info.name}",
                                 found=f"{record.get('domain')}/{record.get('product')}")
        path = self.root / info.domain / info.name / files[0]["path"]
        key_ids = wrapping_key_ids(path) if path.exists() else {}
        record["envelope"] = {"wrapped_key": {"domain": info.domain,
                                              "key_id": key_ids.get("footer", "missing")}}
        return record

    def _check_version(self, info, version) -> int:
        known = self.versions(info.name)
        if isinstance(version, bool) or not isinstance(version, int) or version not in known:
            raise StoreError("no such version", where=f"product {info.name!r}",
                             expected=f"one of {known}", found=repr(version))
        return version

    def _latest(self, info) -> int:
        """The newest version; an :class:`IntegrityError` when the log ends before a version
        this store published (the newest version was deleted)."""
        known = self.versions(info.name)
        if not known:
            raise StoreError("no version published", where=f"product {info.name!r}",
                             expected="a published version", found="none")
        newest = self._newest_known().get(info.name, -1)
        if known[-1] < newest:
            raise IntegrityError("the Delta log ends before the newest version published: "
                                 "the newest version was deleted", where=f"product {info.name!r}",
                                 expected=f"version {newest}", found=f"log ends at v{known[-1]}")
        return known[-1]

    def _newest_known(self) -> dict[str, int]:
        """The newest version of each product that the audit log (and this store) saw
        published or restored: a Delta log ending before it lost its newest version."""
        if self._newest is None:
            newest: dict[str, int] = {}
            for r in self.model.audit.records():
                if r.get("event") in ("published", "restored") and "product" in r:
                    v = r.get("version")
                    if isinstance(v, int):
                        newest[r["product"]] = max(newest.get(r["product"], -1), v)
            self._newest = newest
        return self._newest

    def _saw(self, name: str, version: int) -> None:
        newest = self._newest_known()
        newest[name] = max(newest.get(name, -1), version)

    def _encryption_layer(self, info, version) -> Layer:
        if not self.versions(info.name):
            return Layer("encryption", False, "no encrypted version published")
        try:
            v = self._latest(info) if version is None else self._check_version(info, version)
            m = self.manifest(info.name, v)
        except MeshkitError as exc:
            return Layer("encryption", False, str(exc))
        pii = ", ".join(f"{c} ({mode})" for c, mode in m["protected"].items()) or "no PII"
        return Layer("encryption", True,
                     f"v{v} encrypted ({CIPHER}; keys wrapped by "
                     f"{m['envelope']['wrapped_key']['key_id']}); PII protected: {pii}")

    def _decide(self, product, who, action, **kwargs) -> Decision:
        # the purpose comes from the token and the time from the model's clock, never from here
        return self.model.decide(product, who, action, **kwargs)

    # -- publish -------------------------------------------------------------------
    def publish(self, product, frame, who) -> SecurePublication:
        """Encrypt ``frame`` and commit it as the product's next version; needs ``publish``.

        ``frame`` may be a DataFrame or a LazyFrame (written batch by batch, so memory stays
        bounded by a batch). Concurrent publishers each get their own version: a commit that
        loses a race is retried onto the newer version (a publish replaces the whole
        product). A publish that fails or is killed leaves only encrypted, uncommitted files
        (:meth:`reclaimable`, :meth:`vacuum`).
        """
        info = self._info(product)
        decision = self._decide(info.name, who, "publish")
        decision.raise_if_denied()
        where = f"product {info.name!r}"
        if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
            raise DataError("cannot publish this object", where=where,
                            expected="a polars DataFrame or LazyFrame", found=type(frame).__name__)
        lazy = frame if isinstance(frame, pl.LazyFrame) else frame.lazy()
        try:
            schema = lazy.collect_schema()
        except Exception as exc:
            raise DataError("could not compute the frame to publish; nothing was written",
                            where=where, found=f"{type(exc).__name__}: {exc}") from exc
        if not schema:
            raise DataError("a product needs at least one column", where=where,
                            expected="a frame with columns", found="no columns")
        delta_schema = _delta_schema(schema, info.name)  # DataError for types Delta refuses
        arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
        keyset = self.model.keysets[info.domain]
        pii = [c for c in info.pii_columns if c in schema]
        modes = {c: ("deterministic" if c in self.deterministic else "randomized") for c in pii}
        publish_id = uuid.uuid4().hex
        name = f"part-{publish_id}-0.parquet"
        binding = {"format": FORMAT, "domain": info.domain, "product": info.name,
                   "file": name, "publish_id": publish_id, "protected": modes,
                   "columns": list(schema), "dtypes": {c: str(t) for c, t in schema.items()}}
        table_dir = self.root / info.domain / info.name
        table_dir.mkdir(parents=True, exist_ok=True)
        path = table_dir / name
        if isinstance(frame, pl.DataFrame):
            batches = iter([frame.to_arrow()])
        else:
            batches = (batch.to_arrow() for batch in lazy.collect_batches())
        try:
            rows = write_encrypted(path, batches, arrow_schema, keyset, info.name, pii=pii,
                                   binding=binding, row_group_size=self.row_group_size)
        except MeshkitError:
            raise
        except Exception as exc:
            raise DataError("could not write the product; nothing was published", where=where,
                            found=f"{type(exc).__name__}: {exc}".split("\n")[0]) from exc
        record = {**binding, "rows": rows, "cipher": CIPHER}
        del record["file"]
        record["files"] = [name]
        record["tail_sha256"] = {name: tail_digest(path)}
        try:
            version = self._commit(info, path, rows, delta_schema, record)
        except BaseException:
            path.unlink(missing_ok=True)
            key_material_path(path).unlink(missing_ok=True)
            raise
        self._saw(info.name, version)
        self.model.record("published", product=info.name, version=version,
                          publish_id=publish_id, rows=rows, principal=decision.principal)
        return SecurePublication(info.name, version, rows, modes, keyset.primary.key_id,
                                 decision)

    def _commit(self, info, path: Path, rows: int, schema: DeltaSchema, record: dict) -> int:
        """Commit the file as a new version (retrying onto newer ones); return its version."""
        stat = path.stat()
        add = AddAction(path.name, stat.st_size, {}, int(stat.st_mtime * 1000), True,
                        json.dumps({"numRecords": rows}))  # no min/max: they would leak values
        props = CommitProperties(custom_metadata={_PUBLISH_KEY: json.dumps(record,
                                                                           sort_keys=True)},
                                 max_commit_retries=0)
        uri = str(path.parent)
        last = None
        for _ in range(_COMMIT_ATTEMPTS):
            try:
                if not DeltaTable.is_deltatable(uri):
                    if not self._create(uri, schema, add, props):
                        continue  # another publisher created it: commit on top of theirs
                else:
                    DeltaTable(uri).create_write_transaction([add], "overwrite", schema,
                                                             commit_properties=props)
                break
            except CommitFailedError as exc:
                last = exc
            except Exception as exc:  # a lost creation race: the table exists now
                if not DeltaTable.is_deltatable(uri):
                    raise StoreError("publish failed; nothing was published",
                                     where=f"product {info.name!r}",
                                     found=f"{type(exc).__name__}: {exc}".split("\n")[0]) from exc
                last = exc
            time.sleep(random.uniform(0.005, 0.05))
        else:
            raise StoreError("publish could not commit: other writers kept winning",
                             where=f"product {info.name!r}",
                             expected=f"a commit within {_COMMIT_ATTEMPTS} attempts",
                             found=str(last).split("\n")[0])
        # the commit's own log entry says its version (deltalake's history() numbers
        # entries from a snapshot that a concurrent commit can shift)
        log = path.parent / "_delta_log"
        commits = sorted((p for p in log.glob("*.json") if p.stem.isdigit()),
                         key=lambda p: -int(p.stem))
        for entry in commits:
            for line in entry.read_text().splitlines():
                info = json.loads(line).get("commitInfo") or {}
                raw = info.get(_PUBLISH_KEY)
                if raw and json.loads(raw).get("publish_id") == record["publish_id"]:
                    return int(entry.stem)
        raise IntegrityError("the committed publish is not in the Delta log",
                             where=f"product {info.name!r}", expected=record["publish_id"],
                             found="no such commit")

    @staticmethod
    def _create(uri: str, schema: DeltaSchema, add: AddAction, props) -> bool:
        """Create the table with ``add`` as version 0; False when another publisher did.

        deltalake's table creation is not atomic against a concurrent creation (both
        succeed and the second commit replaces the first), so creators take an exclusive
        marker file first (``O_EXCL``); the others wait for the table. A marker older than
        ``_STALE_CREATE`` seconds (its creator was killed) is taken over.
        """
        marker = Path(uri) / ".meshkit-creating"
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            deadline = time.monotonic() + _STALE_CREATE
            while time.monotonic() < deadline:
                if DeltaTable.is_deltatable(uri):
                    return False
                time.sleep(0.02)
            try:
                if time.time() - marker.stat().st_mtime > _STALE_CREATE:
                    marker.unlink()
            except FileNotFoundError:
                pass
            return False
        os.close(fd)
        try:
            if DeltaTable.is_deltatable(uri):
                return False
            create_table_with_add_actions(uri, schema, [add], mode="error",
                                          commit_properties=props)
            return True
        finally:
            marker.unlink(missing_ok=True)

    def protect(self, source, identities: dict) -> pl.DataFrame:
        """Publish the latest version of every product, each as its owner.

        ``source``: a :class:`~meshkit._store.ProductStore` (``.read(name)``) or a mapping
        name -> frame; ``identities``: name -> :class:`Identity` (owners included). Returns
        one row per product with the new version and what was protected.
        """
        rows = []
        for info in self.model.products.values():
            frame = source[info.name] if isinstance(source, dict) else source.read(info.name)
            who = identities.get(info.owner)
            if who is None:
                raise StoreError("no identity for the product owner", where=f"product {info.name!r}",
                                 expected=f"an identity named {info.owner!r}", found="none")
            pub = self.publish(info.name, frame, who)
            rows.append({"domain": info.domain, "product": info.name, "version": pub.version,
                         "rows": pub.rows, "key_id": pub.key_id,
                         "pii_protected": ", ".join(f"{c} ({m})" for c, m in pub.protected.items())})
        return pl.DataFrame(rows).sort("domain", "product")

    # -- read ----------------------------------------------------------------------
    def read(self, product, who, *, version: int | None = None, columns=None) -> pl.DataFrame:
        """Authenticate, authorize, decrypt (only the columns shown), then mask and filter.

        Raises :class:`~meshkit._errors.AuthenticationError` or
        :class:`~meshkit._errors.AuthorizationError` (with the decision) when denied, and
        :class:`~meshkit._errors.IntegrityError` when a file, its keys, the binding or the
        Delta log was tampered with, moved or deleted. Returns no data in every one of those
        cases.
        """
        decision = self._decide(product, who, "read", columns=columns, version=version)
        info = self.model.product_info(product)
        v = version
        if (info is not None and not decision.allowed
                and decision.layer("authentication").passed
                and decision.layer("authorization").passed):
            try:  # only the encryption layer refused: say what failed its integrity check
                v = self._latest(info) if version is None else self._check_version(info, version)
                self.manifest(info.name, v)
            except IntegrityError as exc:
                self.model.record("integrity_failure", product=info.name, version=v,
                                  principal=decision.principal, reason=str(exc))
                raise
        decision.raise_if_denied()
        info = self._info(product)
        try:
            v = self._latest(info) if version is None else self._check_version(info, version)
            frame = self._decrypt(info, v, decision)
        except IntegrityError as exc:
            self.model.record("integrity_failure", product=info.name, version=v,
                              principal=decision.principal, reason=str(exc))
            raise
        return frame

    def _decrypt(self, info, version: int, decision: Decision) -> pl.DataFrame:
        where = f"{info.name} v{version}"
        manifest = self.manifest(info.name, version)
        modes = manifest["protected"]
        available = list(manifest["columns"])
        access = decision.access
        wanted = list(access.columns) if access.columns is not None else list(available)
        parts = access.effective_parts()
        in_filters: set[str] = set()
        for p in parts:
            if p.row_filter is not None:
                in_filters |= _filter_columns(p.row_filter)
        wanted += [c for c in sorted(in_filters) if c not in wanted]
        select = [c for c in available if c in wanted]
        # a PII column no grant shows (and no filter needs) keeps its key wrapped
        allowed = {"footer", "data"} | {pii_role(c) for c in select if c in modes}
        keyset = self.model.keysets[info.domain]
        frames = []
        for number, f in enumerate(self._files(info, version)):
            path = self.root / info.domain / info.name / f["path"]
            fwhere = f"{where} file {number}"  # not its random name: messages stay stable
            if not path.exists():
                raise IntegrityError("a data file the Delta log lists is missing (deleted?)",
                                     where=fwhere, expected="the file", found="nothing")
            if path.stat().st_size != f["size_bytes"]:
                raise IntegrityError("encrypted data file failed authentication: its size "
                                     "differs from the Delta log's", where=fwhere,
                                     expected=f"{f['size_bytes']} bytes",
                                     found=f"{path.stat().st_size} bytes")
            binding, table = read_encrypted(
                path, keyset, info.name, columns=select, allowed=allowed, where=fwhere,
                tail_sha256=(manifest.get("tail_sha256") or {}).get(f["path"], "missing"),
                check=lambda b, f=f, w=fwhere: self._check_binding(b, info, f, manifest, w))
            frame = pl.from_arrow(table)
            if not isinstance(frame, pl.DataFrame):
                frame = frame.to_frame()
            found = {c: str(t) for c, t in frame.schema.items()}
            bound = {c: manifest["dtypes"][c] for c in select}
            if found != bound:
                raise IntegrityError("decrypted columns do not have their bound types",
                                     where=fwhere, expected=bound, found=found)
            frames.append(frame)
        df = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]

        def tokenizer(column, series):
            return pl.Series(column, tokenize_values(series.cast(pl.String).to_list(),
                                                     keyset=keyset, column=column),
                             dtype=pl.String)

        return apply_access(df, access, tokenizer=tokenizer)

    @staticmethod
    def _check_binding(binding: dict, info, add: dict, manifest: dict, where: str) -> None:
        """The file's authenticated binding must agree with the Delta log, field by field."""
        expected = {"format": FORMAT, "domain": info.domain, "product": info.name,
                    "file": add["path"], "publish_id": manifest.get("publish_id"),
                    "protected": manifest.get("protected"), "columns": manifest.get("columns"),
                    "dtypes": manifest.get("dtypes"), "rows": add.get("num_records")}
        for field, value in expected.items():
            if binding.get(field) != value:
                what = ("belongs to another product" if field in ("domain", "product")
                        else f"disagrees with the Delta log on {field!r}")
                raise IntegrityError(f"encrypted file {what}", where=where,
                                     expected=f"{field} = {binding.get(field)!r} (bound in the "
                                              "file)" if field not in ("domain", "product")
                                     else f"{info.domain}/{info.name}",
                                     found=repr(value) if field not in ("domain", "product")
                                     else f"{binding.get('domain')}/{binding.get('product')}")

    # -- history, restore, vacuum ------------------------------------------------------
    def history(self, product) -> pl.DataFrame:
        """The product's versions, newest first: version, timestamp, operation, rows and
        protected columns (from the publish records in the Delta log)."""
        info = self._info(product)
        rows = []
        for e in self._commits(info)[::-1]:
            raw = e.get(_PUBLISH_KEY)
            record = json.loads(raw) if raw else {}
            rows.append({"version": e["version"],
                         "timestamp": datetime.fromtimestamp(e["timestamp"] / 1000, timezone.utc),
                         "operation": e.get("operation"), "rows": record.get("rows"),
                         "protected": ", ".join(f"{c} ({m})" for c, m in
                                                record.get("protected", {}).items()) or None})
        return pl.DataFrame(rows, schema={"version": pl.Int64,
                                          "timestamp": pl.Datetime("us", "UTC"),
                                          "operation": pl.String, "rows": pl.Int64,
                                          "protected": pl.String})

    def restore(self, product, version: int, who) -> int:
        """Commit ``version`` again as the newest version (needs ``publish``); returns it."""
        info = self._info(product)
        decision = self._decide(info.name, who, "publish")
        decision.raise_if_denied()
        self._check_version(info, version)
        self.manifest(info.name, version)  # its files and publish record must be intact
        table = self._table(info)
        try:
            table.restore(version, commit_properties=CommitProperties(max_commit_retries=0))
        except CommitFailedError as exc:
            from meshkit._errors import ConcurrentWriteError

            raise ConcurrentWriteError("another writer committed during the restore; nothing "
                                       "was changed", where=f"product {info.name!r}",
                                       found=str(exc).split("\n")[0]) from exc
        new = self._table(info).version()
        self._saw(info.name, new)
        self.model.record("restored", product=info.name, version=new, restored=version,
                          principal=decision.principal)
        return new

    def reclaimable(self, product=None) -> pl.DataFrame:
        """Files that take space without being in the newest version, one row each:
        ``unreferenced`` (left by a failed or killed publish; no version lists it) or
        ``history`` (only older versions list it; :meth:`vacuum` past the retention
        removes it and those versions can no longer be read)."""
        infos = ([self._info(product)] if product is not None
                 else list(self.model.products.values()))
        rows = []
        for info in infos:
            versions = self.versions(info.name)
            if not versions:
                continue
            table_dir = self.root / info.domain / info.name
            current = {f["path"] for f in self._files(info, versions[-1])}
            anywhere = set(current)
            for v in versions[:-1]:
                try:
                    anywhere |= {f["path"] for f in self._files(info, v)}
                except IntegrityError:
                    continue
            for p in sorted(table_dir.iterdir()):
                if not p.is_file() or p.name.startswith(("_", ".")) or p.name in current:
                    continue
                reason = "history" if p.name in anywhere else "unreferenced"
                size = p.stat().st_size
                km = key_material_path(p)
                size += km.stat().st_size if km.exists() else 0
                rows.append({"domain": info.domain, "product": info.name, "file": p.name,
                             "bytes": size, "reason": reason})
        return pl.DataFrame(rows, schema={"domain": pl.String, "product": pl.String,
                                          "file": pl.String, "bytes": pl.Int64,
                                          "reason": pl.String})

    def vacuum(self, product, who, *, retention_hours: float = 7 * _DAY_HOURS,
               dry_run: bool = False) -> list[str]:
        """Delta's ``vacuum`` (full: also files no version lists) plus their key material.

        Needs ``publish``. Files younger than ``retention_hours`` stay (a publish in flight
        may not have committed yet; versions within the retention stay readable). Returns
        the files removed (or that would be, with ``dry_run``).
        """
        info = self._info(product)
        decision = self._decide(info.name, who, "publish")
        decision.raise_if_denied()
        table = self._table(info)
        if table is None:
            return []
        removed = table.vacuum(retention_hours=int(retention_hours), dry_run=dry_run,
                               enforce_retention_duration=False, full=True)
        table_dir = self.root / info.domain / info.name
        if not dry_run:
            for name in removed:
                key_material_path(table_dir / name).unlink(missing_ok=True)
            self.model.record("vacuum", product=info.name, removed=len(removed),
                              principal=decision.principal)
        return sorted(removed)

    # -- keys ----------------------------------------------------------------------
    def rotate(self, domain: str) -> dict:
        """New primary key for ``domain``; re-wrap the keys of every data file of its products
        that a version in the log still lists. The data files are not touched.
        Returns ``{"key_id", "rewrapped"}`` (files re-wrapped)."""
        keyset = self.model.keysets[domain]
        t = self.model.now()
        key = keyset.rotate(now=datetime.fromtimestamp(t, timezone.utc))
        count = 0
        for info in self.model.products.values():
            if info.domain != domain:
                continue
            names: set[str] = set()
            for v in self.versions(info.name):
                names |= {f["path"] for f in self._files(info, v)}
            for name in sorted(names):
                path = self.root / info.domain / info.name / name
                if path.exists():
                    rotate_file_keys(path, keyset, info.name)
                    count += 1
        self.model.record("key_rotation", domain=domain, key_id=key.key_id, rewrapped=count)
        return {"key_id": key.key_id, "rewrapped": count}

    def status(self) -> pl.DataFrame:
        """One row per product: versions, encrypted, PII columns and how they are protected."""
        rows = []
        for info in self.model.products.values():
            versions = self.versions(info.name)
            protected = self.manifest(info.name, versions[-1])["protected"] if versions else {}
            rows.append({"domain": info.domain, "product": info.name,
                         "versions": len(versions), "encrypted": bool(versions),
                         "pii_columns": len(info.pii_columns),
                         "pii_protected": sum(1 for c in info.pii_columns if c in protected)})
        return pl.DataFrame(rows).sort("domain", "product") if rows else pl.DataFrame()
