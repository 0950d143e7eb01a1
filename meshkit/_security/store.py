"""The secure read path: encrypted product versions behind authn, authz and the audit log.

:class:`SecureStore` keeps each product version as a Cobblestone-encrypted Parquet blob
(``<root>/<domain>/<product>/v<version>.parquet.cbl``) next to a manifest
(``v<version>.json``) holding the envelope (context fields and wrapped data key) and the
PII column modes. PII columns are column-protected *before* the file is encrypted, so a
reader granted the product but only a ``tokenize`` mask on ``email`` gets the deterministic
token, never the address.

Reading goes authentication -> authorization -> decryption -> masks and row filters. A denied
read raises and returns no data; an allowed read returns only what the grants allow, row by
row: a row is returned when some grant admits it, and each of its cells as the most revealing
of the grants admitting that row allow (never one grant's masks on another grant's rows).
Every decision, and every integrity failure, is audited.

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
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from meshkit._errors import IntegrityError, StoreError
from meshkit._security.columns import (protect_frame, protect_lazy, tokenize_values,
                                       unprotect_frame)
from meshkit._security.envelope import Envelope, product_context, schema_hash
from meshkit._security.model import Decision, Layer, SecurityModel
from meshkit._security.policy import apply_access, _filter_columns
from meshkit._security.streaming import CHUNK_SIZE, decrypt_file, encrypt_file, new_data_key

__all__ = ["SecureStore", "SecurePublication"]


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
        return (f"{self.product} v{self.version}: {self.rows} rows encrypted; key wrapped by "
                f"{self.key_id}; PII protected: {prot}")


class SecureStore:
    """Encrypted product versions, read only through :class:`SecurityModel` decisions.

    Parameters
    ----------
    root : path
        Where blobs and manifests live.
    model : SecurityModel
        Decides and audits every publish and read (the store registers itself on it).
    deterministic : iterable of str, optional
        PII columns protected with AES-SIV so equality joins work; other PII columns use
        randomized AES-GCM. Default: PII columns whose name appears in more than one product.
    reset : bool
        Remove versions this model's products already have under ``root`` (re-runs).
    """

    def __init__(self, root: str | os.PathLike, model: SecurityModel, *, deterministic=None,
                 chunk_size: int = CHUNK_SIZE, reset: bool = False) -> None:
        self.root = Path(root)
        if reset and self.root.exists():
            for info in model.products.values():
                shutil.rmtree(self.root / info.domain / info.name, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = model
        model.store = self
        self.chunk_size = chunk_size
        if deterministic is None:
            seen: dict[str, int] = {}
            for info in model.products.values():
                for c in info.columns:
                    seen[c] = seen.get(c, 0) + 1
            deterministic = {c for info in model.products.values() for c in info.pii_columns
                             if seen.get(c, 0) > 1}
        self.deterministic = set(deterministic)

    def __repr__(self) -> str:
        return f"SecureStore(products={sum(1 for _ in self._all_manifests())})"

    # -- layout --------------------------------------------------------------------
    def _dir(self, info) -> Path:
        return self.root / info.domain / info.name

    def blob_path(self, product, version: int) -> Path:
        info = self._info(product)
        return self._dir(info) / f"v{version}.parquet.cbl"

    def manifest_path(self, product, version: int) -> Path:
        info = self._info(product)
        return self._dir(info) / f"v{version}.json"

    def _info(self, product):
        info = self.model.product_info(product)
        if info is None:
            raise StoreError("unknown product", where=f"product {product!r}",
                             expected=f"one of {sorted(self.model.products)}", found=repr(product))
        return info

    def versions(self, product) -> list[int]:
        d = self._dir(self._info(product))
        if not d.exists():
            return []
        return sorted(int(p.stem[1:]) for p in d.glob("v*.json"))

    def manifest(self, product, version: int) -> dict:
        path = self.manifest_path(product, version)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise StoreError("no such version", where=f"product {product!r}",
                             expected=f"one of {self.versions(product)}",
                             found=version) from None
        except ValueError as exc:
            raise IntegrityError("manifest is not valid JSON", where=path.name,
                                 expected="JSON", found=str(exc)) from None

    def _all_manifests(self):
        for info in self.model.products.values():
            for v in self.versions(info.name):
                yield info, v

    def _encryption_layer(self, info, version) -> Layer:
        versions = self.versions(info.name)
        if not versions:
            return Layer("encryption", False, "no encrypted version published")
        v = versions[-1] if version is None else version
        if v not in versions:
            return Layer("encryption", False, f"no version {v} (have {versions})")
        m = self.manifest(info.name, v)
        pii = ", ".join(f"{c} ({mode})" for c, mode in m["protected"].items()) or "no PII"
        return Layer("encryption", True,
                     f"v{v} encrypted (Cobblestone-128, data key wrapped by "
                     f"{m['envelope']['wrapped_key']['key_id']}); PII protected: {pii}")

    # -- publish -------------------------------------------------------------------
    def publish(self, product, frame, who) -> SecurePublication:
        """Encrypt and store a new version; needs ``publish`` permission.

        ``frame`` may be a DataFrame or a LazyFrame. A LazyFrame is protected batch by batch,
        written with a streaming ``sink_parquet`` and encrypted as a stream, so memory stays
        flat for products larger than memory.
        """
        info = self._info(product)
        decision = self.model.decide(info.name, who, "publish")
        decision.raise_if_denied()
        keyset = self.model.keysets[info.domain]
        lazy = frame if isinstance(frame, pl.LazyFrame) else frame.lazy()
        schema = lazy.collect_schema()
        version = (self.versions(info.name) or [-1])[-1] + 1
        sh = schema_hash(schema)
        context = product_context(info.domain, info.name, version, sh)
        data_key = new_data_key(self.model.source)  # os.urandom unless a demo source is set
        pii = [c for c in info.pii_columns if c in schema]
        modes = {c: ("deterministic" if c in self.deterministic else "randomized") for c in pii}
        dtypes = {c: str(schema[c]) for c in pii}
        target = self._dir(info)
        target.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=".publish-", dir=self.root))
        try:
            plain = tmpdir / "plain.parquet"
            if modes and isinstance(frame, pl.LazyFrame):
                protect_lazy(lazy, modes, keyset=keyset, data_key=data_key,
                             context=context).sink_parquet(plain)
                rows = pl.scan_parquet(plain).select(pl.len()).collect().item()
            elif modes:
                df = lazy.collect()
                df = protect_frame(df, modes, keyset=keyset, data_key=data_key, context=context)
                df.write_parquet(plain)
                rows = df.height
            else:
                lazy.sink_parquet(plain)
                rows = pl.scan_parquet(plain).select(pl.len()).collect().item()
            encrypt_file(plain, tmpdir / "blob", data_key, context, chunk_size=self.chunk_size)
            envelope = Envelope(info.domain, info.name, version, sh,
                                keyset.wrap(data_key, context=context))
            manifest = {"format": "meshkit-secure-v1", "cipher": "Cobblestone-128",
                        "envelope": envelope.to_dict(), "protected": modes, "dtypes": dtypes,
                        "columns": list(schema), "rows": rows}
            shutil.move(tmpdir / "blob", self.blob_path(info.name, version))
            tmp_manifest = tmpdir / "manifest.json"
            tmp_manifest.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            shutil.move(tmp_manifest, self.manifest_path(info.name, version))
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return SecurePublication(info.name, version, rows, modes,
                                 envelope.wrapped_key.key_id, decision)

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
        """Authenticate, authorize, decrypt, then mask and filter.

        Raises :class:`~meshkit._errors.AuthenticationError` or
        :class:`~meshkit._errors.AuthorizationError` (with the decision) when denied, and
        :class:`~meshkit._errors.IntegrityError` when a ciphertext, manifest or wrapped key
        was tampered with or moved. Returns no data in every one of those cases.
        """
        decision = self.model.decide(product, who, "read", columns=columns, version=version)
        decision.raise_if_denied()
        info = self._info(product)
        v = self.versions(info.name)[-1] if version is None else version
        try:
            frame = self._decrypt(info, v, decision)
        except IntegrityError as exc:
            self.model.record("integrity_failure", product=info.name, version=v,
                              principal=decision.principal, reason=str(exc))
            raise
        return frame

    def _decrypt(self, info, version: int, decision: Decision) -> pl.DataFrame:
        where = f"{info.name} v{version}"
        manifest = self.manifest(info.name, version)
        envelope = Envelope.from_dict(manifest.get("envelope", {}), where=f"{where} manifest")
        if (envelope.domain, envelope.product, envelope.version) != (info.domain, info.name,
                                                                     version):
            raise IntegrityError("manifest belongs to another product or version", where=where,
                                 expected=f"{info.domain}/{info.name}/v{version}",
                                 found=f"{envelope.domain}/{envelope.product}/v{envelope.version}")
        keyset = self.model.keysets[info.domain]
        context = envelope.context
        data_key = keyset.unwrap(envelope.wrapped_key, context=context, where=where)
        access = decision.access
        tmpdir = Path(tempfile.mkdtemp(prefix=".read-", dir=self.root))
        try:
            plain = tmpdir / "plain.parquet"
            decrypt_file(self.blob_path(info.name, version), plain, data_key, context,
                         chunk_size=self.chunk_size, where=where)
            lazy = pl.scan_parquet(plain)
            available = lazy.collect_schema().names()
            wanted = list(access.columns) if access.columns is not None else available
            parts = access.effective_parts()
            in_filters: set[str] = set()
            for p in parts:
                if p.row_filter is not None:
                    in_filters |= _filter_columns(p.row_filter)
            wanted += [c for c in sorted(in_filters) if c not in wanted]
            df = lazy.select([c for c in wanted if c in available]).collect()
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        modes = manifest.get("protected", {})
        dtypes = manifest.get("dtypes") or {}
        # decrypt the PII the grants show (in clear, partially, or to filter rows on); a
        # deterministic column only ever tokenized stays the stored AES-SIV token
        raw_tokens, as_text, typed = set(), {}, {}
        for c, mode in modes.items():
            if c not in df.columns:
                continue
            levels = {p.level(c) for p in parts}
            tokenized = 2 in levels and c not in in_filters
            if tokenized and mode == "deterministic" and levels <= {0, 2}:
                raw_tokens.add(c)
            elif tokenized:
                as_text[c] = mode  # tokenized in some rows: the column is text anyway
            else:
                typed[c] = mode
        df = unprotect_frame(df, typed, keyset=keyset, data_key=data_key, context=context,
                             dtypes=dtypes)
        df = unprotect_frame(df, as_text, keyset=keyset, data_key=data_key, context=context,
                             dtypes=None)

        def tokenizer(column, series):
            if column in raw_tokens:
                return series  # already the deterministic AES-SIV token
            return pl.Series(column, tokenize_values(series.cast(pl.String).to_list(),
                                                     keyset=keyset, column=column),
                             dtype=pl.String)

        df = apply_access(df, access, tokenizer=tokenizer)
        return df

    # -- keys ----------------------------------------------------------------------
    def rotate(self, domain: str) -> dict:
        """New primary key for ``domain``; re-wrap every data key of its products.

        The encrypted blobs are not touched. Returns ``{"key_id", "rewrapped"}``.
        """
        keyset = self.model.keysets[domain]
        t = self.model.now()
        key = keyset.rotate(now=datetime.fromtimestamp(t, timezone.utc))
        count = 0
        for info, v in list(self._all_manifests()):
            if info.domain != domain:
                continue
            path = self.manifest_path(info.name, v)
            manifest = self.manifest(info.name, v)
            env = Envelope.from_dict(manifest["envelope"], where=path.name)
            rewrapped = keyset.rewrap(env.wrapped_key, context=env.context)
            manifest["envelope"]["wrapped_key"] = rewrapped.to_dict()
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            tmp.replace(path)
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
