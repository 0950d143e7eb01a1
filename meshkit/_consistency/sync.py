"""``sync``: bring a target product in line with a source through one Delta MERGE.

The plan (inserts, updates, deletes, conflicts) is computed first with polars; nothing is
written when the inputs are bad or, under ``policy="stop"``, when any row conflicts. What is
written is one MERGE: one new version of the target, atomic, so a sync never half-applies.
A second run with the same inputs finds nothing to do and writes nothing.

Repeated syncs from a product in the store read only what changed in the source since the
last sync (Delta's change data feed, which :meth:`ProductStore.publish` enables): each sync
records in its commit the source version it brought in, and the next one reads the feed from
there on, collapsed to the last change per key. An incremental sync leaves the target exactly
as a full one would; it runs when the target's latest commit is a sync from the same source
with the same keys, policy and ``delete_missing`` (so the target has not been written since),
and the feed covers the versions in between. Otherwise the sync reads the whole source and the
result says why (``SyncResult.mode``, ``SyncResult.reason``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError

from meshkit._consistency._frames import as_frame, as_keys, check_keys
from meshkit._display import Displayable, Heading
from meshkit._errors import ConcurrentWriteError, ConsistencyError, DataError, SyncConflictError

__all__ = ["POLICIES", "SyncResult", "sync", "plan_sync"]

#: conflict policies: who wins when a key exists on both sides with different values.
POLICIES = ("source_wins", "target_wins", "latest", "stop")
_ACTION = "__meshkit_action"
_META_KEY = "meshkit.sync"


@dataclass(repr=False)
class SyncResult(Displayable):
    """What :func:`sync` did.

    Attributes
    ----------
    inserted, updated, deleted, conflicting : int
        Rows inserted into / updated in / deleted from the target; rows whose key exists on
        both sides with different values (whatever the policy did with them).
    version_before, version : int
        Target version before and after (equal when nothing was written).
    conflicts : polars.DataFrame
        The conflicting keys and, per key, which columns differ.
    mode : str
        ``"incremental"`` (the source's change feed since the last sync was read) or
        ``"full"`` (the whole source was read).
    source_version : int or None
        The source version brought in (recorded in the target's commit); None for a frame.
    source_rows_read : int
        Source rows read: the whole source, or the change feed's rows.
    reason : str
        Why a sync from a stored product read the whole source.
    """

    source: str
    target: str
    policy: str
    inserted: int
    updated: int
    deleted: int
    conflicting: int
    version_before: int
    version: int
    conflicts: pl.DataFrame
    mode: str = "full"
    source_version: int | None = None
    source_rows_read: int = 0
    reason: str = ""

    @property
    def written(self) -> bool:
        """Whether a new version was committed."""
        return self.version != self.version_before

    def to_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "policy": self.policy,
                "inserted": self.inserted, "updated": self.updated, "deleted": self.deleted,
                "conflicting": self.conflicting, "version_before": self.version_before,
                "version": self.version, "mode": self.mode,
                "source_version": self.source_version,
                "source_rows_read": self.source_rows_read, "reason": self.reason}

    def _render(self) -> list:
        what = f"v{self.version_before} -> v{self.version}" if self.written else \
            f"unchanged at v{self.version}"
        return [Heading(f"sync {self.source} -> {self.target} ({self.policy}): inserted "
                        f"{self.inserted}, updated {self.updated}, deleted {self.deleted}, "
                        f"conflicting {self.conflicting}; {what}; {self.mode}, "
                        f"{self.source_rows_read} source row(s) read"
                        + (f" ({self.reason})" if self.reason else ""))]

    def __repr__(self) -> str:
        return str(self)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plan_sync(source: pl.DataFrame, target: pl.DataFrame, keys: list[str], *, policy: str,
              timestamp: str | None = None,
              names: tuple[str, str] = ("source", "target")) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Compute what a sync would do, without writing.

    Returns ``(plan, conflicts)``: ``plan`` is the source (cast to the target's types, target
    columns only) with an action column (``insert``, ``update`` or null), ``conflicts`` one
    row per conflicting key with the differing columns. Raises on bad input.
    """
    if policy not in POLICIES:
        raise ConsistencyError("unknown sync policy", where="policy", expected=f"one of {POLICIES}",
                               found=repr(policy))
    check_keys(source, keys, where=names[0])
    check_keys(target, keys, where=names[1])
    missing = [c for c in target.columns if c not in source.columns]
    if missing:
        raise ConsistencyError("the source lacks columns of the target", where=names[0],
                               expected=f"columns {target.columns}", found=f"missing {missing}")
    if policy == "latest":
        if timestamp is None or timestamp not in target.columns:
            raise ConsistencyError("policy 'latest' needs a timestamp column on both sides",
                                   where="timestamp", expected=f"one of {target.columns}",
                                   found=repr(timestamp))
        if not (target.schema[timestamp].is_temporal() or target.schema[timestamp].is_numeric()):
            raise ConsistencyError("the timestamp column is not a time", where=f"{names[1]}.{timestamp}",
                                   expected="a date, datetime or number",
                                   found=str(target.schema[timestamp]))
        s_type, t_type = source.schema.get(timestamp), target.schema[timestamp]
        if isinstance(s_type, pl.Datetime) and isinstance(t_type, pl.Datetime) \
                and (s_type.time_zone is None) != (t_type.time_zone is None):
            # a naive time against an aware one: which instant it means is a guess
            raise ConsistencyError("the timestamp columns mix naive and time-zone-aware times",
                                   where=f"{names[0]}.{timestamp}",
                                   expected=f"{t_type} (the target's), or both naive or both aware",
                                   found=str(s_type))
    src = source.select(target.columns)
    bad = []
    casts = []
    for c, t in target.schema.items():
        if src.schema[c] != t:
            try:
                cast = src.get_column(c).cast(t, strict=True)
            except Exception:  # noqa: BLE001 - polars raises several error types for casts
                bad.append(f"{c} ({src.schema[c]} -> {t})")
                continue
            # a key must survive the cast exactly: polars truncates 1.5 to 1, which would
            # match (and overwrite) another entity's row
            if c in keys and not cast.cast(src.schema[c]).eq_missing(src.get_column(c)).all():
                bad.append(f"key {c} ({src.schema[c]} -> {t} changes values)")
                continue
            casts.append(pl.col(c).cast(t, strict=True))
    if bad:
        raise ConsistencyError("source columns cannot take the target's types", where=names[0],
                               expected="values castable to the target's types",
                               found=", ".join(bad))
    src = src.with_columns(casts)
    values = [c for c in target.columns if c not in keys]
    tgt = target.select([*keys, *[pl.col(c).alias(f"{c}__t") for c in values]])
    joined = src.join(tgt.with_columns(pl.lit(True).alias("__in_t")), on=keys, how="left")
    in_t = pl.col("__in_t").fill_null(False)
    diffs = [~pl.col(c).eq_missing(pl.col(f"{c}__t")) for c in values]
    differs = pl.any_horizontal(diffs) if diffs else pl.lit(False)
    joined = joined.with_columns((in_t & differs).alias("__conflict"),
                                 pl.concat_list([pl.when(d).then(pl.lit(c)) for c, d in zip(values, diffs)])
                                 .list.drop_nulls().alias("__changed") if diffs
                                 else pl.lit([], pl.List(pl.Utf8)).alias("__changed"))
    if policy == "source_wins":
        update = pl.col("__conflict")
    elif policy == "latest":
        s_ts, t_ts = pl.col(timestamp), pl.col(f"{timestamp}__t")
        newer = s_ts.is_not_null() & (t_ts.is_null() | (s_ts > t_ts))
        update = pl.col("__conflict") & newer.fill_null(False)
    else:
        update = pl.lit(False)
    joined = joined.with_columns(
        pl.when(~in_t).then(pl.lit("insert")).when(update).then(pl.lit("update"))
        .otherwise(pl.lit(None, pl.Utf8)).alias(_ACTION))
    conflicts = joined.filter(pl.col("__conflict")).select(
        [*keys, pl.col("__changed").list.join(", ").alias("columns"),
         pl.col(_ACTION).eq("update").fill_null(False).alias("source_applied")]).sort(keys)
    plan = joined.select([*target.columns, _ACTION])
    return plan, conflicts


def sync(store, source, target: str, *, keys, policy: str = "source_wins",
         timestamp: str | None = None, delete_missing: bool = False,
         incremental: bool = True) -> SyncResult:
    """Bring ``target`` in line with ``source`` through one Delta MERGE.

    Parameters
    ----------
    store : ProductStore
        Holds the target (and the source when it is a name).
    source : str or polars.DataFrame
        The source product's name in ``store``, or its rows.
    target : str
        The target product's name in ``store``.
    keys : str or list of str
        Entity keys (present, non-null and unique on both sides).
    policy : {"source_wins", "target_wins", "latest", "stop"}
        For keys on both sides with different values: take the source row; keep the target
        row; take the row with the later ``timestamp`` (ties keep the target); or raise
        :class:`~meshkit._errors.SyncConflictError` listing the conflicts, writing nothing.
        Source keys missing from the target are inserted under every policy.
    timestamp : str, optional
        The column ``"latest"`` compares.
    delete_missing : bool
        Also delete target rows whose key is not in the source.
    incremental : bool
        Read only the source's change feed since the last sync when that gives the same
        result (see the module notes); ``False`` always reads the whole source.

    Returns
    -------
    SyncResult
        Counts, conflicts, the target version before and after, the source version brought
        in and how much of the source was read.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> from meshkit._store import ProductStore
    >>> store = ProductStore(tempfile.mkdtemp())
    >>> _ = store.publish("src", pl.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]}))
    >>> _ = store.publish("copy", pl.DataFrame({"id": [1, 2], "v": ["a", "x"]}))
    >>> r = sync(store, "src", "copy", keys="id")
    >>> r.inserted, r.updated, r.conflicting, r.version, r.source_version
    (1, 1, 1, 1, 0)
    >>> sync(store, "src", "copy", keys="id").written
    False
    """
    keys = as_keys(keys)
    src_name = source if isinstance(source, str) else "source"
    before = store.latest_version(target)
    table = DeltaTable(store.table_uri(target), version=before)
    settings = {"source": src_name, "policy": policy, "keys": keys,
                "delete_missing": bool(delete_missing)}
    if not isinstance(source, str):
        src = as_frame(source, where=src_name)
        return _apply(store, table, target, src, keys, policy, timestamp, delete_missing,
                      settings, None, "full", src.height, "")
    source_version = store.latest_version(source)
    reason = "incremental=False" if not incremental else ""
    if incremental:
        since, reason = _last_sync(table, before, settings)
        if since is not None:
            changes = _changes(store, source, since, source_version, keys)
            if isinstance(changes, str):
                reason = changes
            else:
                upserts, deleted, rows_read = changes
                if not _row_count(store, source, source_version):  # as a full read refuses it
                    raise DataError("the product is empty", where=src_name,
                                    expected="at least one row", found="0 rows")
                return _apply(store, table, target, upserts, keys, policy, timestamp,
                              delete_missing, settings, source_version, "incremental",
                              rows_read, "", deleted=deleted)
    src = as_frame(store.read(source, version=source_version), where=src_name)
    return _apply(store, table, target, src, keys, policy, timestamp, delete_missing, settings,
                  source_version, "full", src.height, reason)


def _row_count(store, name: str, version: int) -> int:
    """Rows of a product version, from the Delta log's file statistics (no data read)."""
    # polars reads the Arrow table directly (pa.table() here would import pandas)
    actions = pl.DataFrame(DeltaTable(store.table_uri(name), version=version)
                           .get_add_actions(flatten=True))
    return int(actions["num_records"].sum()) if actions.height else 0


def _last_sync(table: DeltaTable, version: int, settings: dict) -> tuple[int | None, str]:
    """The source version the target's latest commit brought in, if it was a like sync."""
    entry = table.history(1)[0] if version is not None else {}
    meta = entry.get(_META_KEY)
    if meta is None:
        return None, "the target's latest commit is not a sync"
    meta = json.loads(meta) if isinstance(meta, str) else meta
    if meta.get("source_version") is None:
        return None, "the target's latest sync recorded no source version"
    if any(meta.get(k) != v for k, v in settings.items()):
        return None, "the target's latest sync had another source, keys, policy or delete_missing"
    return int(meta["source_version"]), ""


def _changes(store, source: str, since: int, version: int, keys: list[str]):
    """The source's changes after version ``since`` up to ``version``, one row per key.

    Returns ``(upserts, deleted_keys, rows_read)``, or the reason the feed cannot be used.
    Within a version an insert or update post-image is the key's state (an overwrite deletes
    and re-inserts every row in one version); across versions the latest one wins.
    """
    empty = pl.scan_delta(DeltaTable(store.table_uri(source), version=version)).head(0) \
        .collect() if version <= since else None
    if version < since:
        return "the source is older than the version the last sync brought in"
    if empty is not None:  # nothing changed since: nothing to read
        return empty, empty.select(keys), 0
    schema = pl.scan_delta(DeltaTable(store.table_uri(source), version=version)).collect_schema()
    columns = list(schema.names())
    try:
        reader = DeltaTable(store.table_uri(source)).load_cdf(starting_version=since + 1,
                                                               ending_version=version)
        # through pyarrow's stream reader: pa.table() on the reader would import pandas
        feed = pl.from_arrow(pa.RecordBatchReader.from_stream(reader).read_all())
    except Exception as exc:  # noqa: BLE001 - delta-rs raises several types for a missing feed
        return f"the source's change feed cannot be read from version {since + 1} " \
               f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    if isinstance(feed, pl.Series):
        feed = feed.to_frame()
    rows_read = feed.height
    feed = feed.filter(pl.col("_change_type") != "update_preimage")
    if list(feed.drop("_change_type", "_commit_version", "_commit_timestamp").columns) != columns:
        return "the source's columns changed since the last sync"
    rank = pl.when(pl.col("_change_type") == "delete").then(0).otherwise(1)
    last = feed.with_columns(rank.alias("__rank")) \
        .sort(["_commit_version", "__rank"]) \
        .group_by(keys, maintain_order=True).last()
    upserts = last.filter(pl.col("_change_type") != "delete").select(columns).cast(dict(schema))
    deleted = last.filter(pl.col("_change_type") == "delete").select(keys)
    return upserts, deleted, rows_read


def _apply(store, table: DeltaTable, target: str, src: pl.DataFrame, keys, policy, timestamp,
           delete_missing, settings, source_version, mode, rows_read, reason, *,
           deleted: pl.DataFrame | None = None) -> SyncResult:
    """Plan and write one sync (full: ``src`` is the whole source; incremental: its changes)."""
    src_name = settings["source"]
    before = table.version()
    if deleted is None:
        tgt = pl.read_delta(table)
    else:  # only the target rows of the changed keys take part
        touched = pl.concat([src.select(keys), deleted.cast(src.select(keys).schema)])
        tgt = pl.scan_delta(table).join(touched.lazy(), on=keys, how="semi").collect() \
            if touched.height else pl.read_delta(table).head(0)
    plan, conflicts = plan_sync(src, tgt, keys, policy=policy, timestamp=timestamp,
                                names=(src_name, target))
    if policy == "stop" and conflicts.height:
        raise SyncConflictError(f"{conflicts.height} conflicting row(s); nothing was written",
                                where=f"sync {src_name} -> {target}",
                                expected="no key with different values on both sides",
                                found=f"{conflicts.height} conflict(s), e.g. "
                                      f"{conflicts.row(0, named=True)}",
                                conflicts=conflicts)
    counts = plan.group_by(_ACTION).len()
    count = dict(zip(counts[_ACTION].to_list(), counts["len"].to_list()))
    inserted, updated = int(count.get("insert", 0)), int(count.get("update", 0))
    gone = None
    if delete_missing and deleted is None:
        deleted_n = tgt.join(plan.select(keys), on=keys, how="anti").height
    elif delete_missing:
        gone = tgt.join(deleted.cast(tgt.select(keys).schema), on=keys, how="semi")
        deleted_n = gone.height
    else:
        deleted_n = 0
    result = SyncResult(src_name, target, policy, inserted, updated, deleted_n,
                        conflicts.height, before, before, conflicts, mode, source_version,
                        rows_read, reason)
    if inserted + updated + deleted_n == 0:
        return result
    if not delete_missing or deleted is not None:  # unchanged rows are not needed by the MERGE
        plan = plan.filter(pl.col(_ACTION).is_not_null())
    if gone is not None and gone.height:
        plan = pl.concat([plan, gone.with_columns(pl.lit("delete").alias(_ACTION))])
    predicate = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in keys)
    columns = {_quote(c): f"s.{_quote(c)}" for c in tgt.columns}
    meta = {_META_KEY: json.dumps(settings | {"source_version": source_version, "mode": mode})}
    merger = table.merge(
        source=plan.to_arrow(), predicate=predicate, source_alias="s", target_alias="t",
        commit_properties=CommitProperties(custom_metadata=meta, max_commit_retries=0),
    ).when_matched_update(updates=columns, predicate=f"s.{_ACTION} = 'update'") \
     .when_not_matched_insert(updates=columns, predicate=f"s.{_ACTION} = 'insert'")
    if delete_missing and deleted is None:
        merger = merger.when_not_matched_by_source_delete()
    elif gone is not None and gone.height:
        merger = merger.when_matched_delete(predicate=f"s.{_ACTION} = 'delete'")
    try:
        merger.execute()
    except CommitFailedError as exc:
        raise ConcurrentWriteError("another writer committed to the target during the sync; "
                                   "nothing was changed", where=f"product {target!r}",
                                   expected=f"version {before} to still be the latest",
                                   found=str(exc).split("\n")[0]) from exc
    result.version = store.latest_version(target)
    return result
