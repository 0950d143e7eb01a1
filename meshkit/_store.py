"""Data products as Delta Lake tables: publish, read at a version or a time, history, restore.

Each product is one Delta table, ``<root>/<product name>``. Publishing overwrites the
product with a new frame as a new table version (written by polars ``write_delta``); the
Delta transaction log makes each publish atomic, so a publish that fails, whatever the
reason, leaves the previous version as it was. Old versions stay readable (time travel)
until someone vacuums the table.

Delta Lake has no categorical, fixed-size array or unsigned types and keeps times in
microseconds, in UTC: publishing stores ``Categorical``/``Enum`` as ``String``, ``Array`` as
``List``, unsigned integers as the next wider signed integer and nanosecond datetimes as
microseconds (a frame whose values would change is refused); datetimes with a time zone are
read back in UTC (the same instants). Types Delta cannot hold at all (``Object``, ``Null``,
``Time``, ``Duration``, 128-bit integers, ``Float16``, empty structs) are refused with a
:class:`~meshkit._errors.DataError` naming the column.

Examples
--------
>>> import tempfile, polars as pl
>>> store = ProductStore(tempfile.mkdtemp())
>>> store.publish("orders", pl.DataFrame({"id": [1, 2]})).version
0
>>> store.publish("orders", pl.DataFrame({"id": [1, 2, 3]})).version
1
>>> store.read("orders", version=0)["id"].to_list()
[1, 2]
>>> store.restore("orders", 0)
2
>>> store
ProductStore(orders@v2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError

from meshkit._contracts import validate
from meshkit._display import Displayable, Heading, Table
from meshkit._errors import ConcurrentWriteError, DataError, StoreError
from meshkit._time import EPOCH, epoch_ms
from meshkit._names import PRODUCT_NAME, check_product_name, requested_columns

__all__ = ["ProductStore", "Publication"]

_QUALITY_KEY = "meshkit.quality"
_REFUSED = {
    pl.Object: "Object",
    pl.Null: "Null (a column with no values; cast it to the type it should hold)",
    pl.Time: "Time",
    pl.Duration: "Duration",
    pl.Int128: "Int128",
    pl.UInt128: "UInt128",
    pl.Float16: "Float16",
}
_WIDER_SIGNED = {pl.UInt8: pl.Int16, pl.UInt16: pl.Int32, pl.UInt32: pl.Int64, pl.UInt64: pl.Int64}


@dataclass(frozen=True)
class Publication:
    """What :meth:`ProductStore.publish` did.

    Attributes
    ----------
    name : str
        The product name.
    version : int
        The Delta table version the publish created.
    report : QualityReport or None
        The contract check, or ``None`` when no contract was given.
    """

    name: str
    version: int
    report: Any = None

    @property
    def quality(self) -> str:
        """``"passed"``, ``"forced"`` (failed but published with ``force=True``) or ``"unchecked"``."""
        return _quality(self.report)


def _quality(report: Any) -> str:
    if report is None:
        return "unchecked"
    return "passed" if report.passed else "forced"


def _storable_dtype(dtype: pl.DataType, where: str) -> pl.DataType:
    """The dtype Delta Lake will store for ``dtype``; raise DataError when there is none."""
    for refused, label in _REFUSED.items():
        if isinstance(dtype, refused) or dtype == refused:
            raise DataError("column type cannot be stored in Delta Lake", where=where,
                            expected="a type Delta Lake stores (numbers, strings, booleans, "
                            "dates, datetimes, decimals, binary, lists, structs)",
                            found=label)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return pl.String()
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
        return pl.Datetime("us", dtype.time_zone)
    for unsigned, signed in _WIDER_SIGNED.items():
        if dtype == unsigned:
            return signed()
    if isinstance(dtype, (pl.List, pl.Array)):
        return pl.List(_storable_dtype(dtype.inner, f"{where}[]"))
    if isinstance(dtype, pl.Struct):
        if not dtype.fields:
            raise DataError("column type cannot be stored in Delta Lake", where=where,
                            expected="a struct with at least one field", found="an empty struct")
        return pl.Struct([pl.Field(f.name, _storable_dtype(f.dtype, f"{where}.{f.name}"))
                          for f in dtype.fields])
    return dtype


def _to_storable(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Cast ``frame`` to types Delta Lake stores; refuse frames that cannot be stored."""
    if frame.width == 0:
        raise DataError("a product needs at least one column", where=f"product {name!r}",
                        expected="a frame with columns (rows may be zero)",
                        found="a frame with no columns")
    casts = {}
    for column, dtype in frame.schema.items():
        target = _storable_dtype(dtype, f"product {name!r}, column {column!r}")
        if target != dtype:
            casts[column] = target
    if not casts:
        return frame
    try:
        stored = frame.cast(casts, strict=True)
    except pl.exceptions.PolarsError as exc:
        raise DataError("values do not fit the type Delta Lake stores", where=f"product {name!r}",
                        expected=", ".join(f"{c}: {t}" for c, t in casts.items()),
                        found=f"{type(exc).__name__}: {exc}") from exc
    for column, target in casts.items():  # a strict cast may still truncate (ns -> us)
        if not stored[column].cast(frame.schema[column]).equals(frame[column]):
            raise DataError("values would change when stored in Delta Lake",
                            where=f"product {name!r}, column {column!r}",
                            expected=f"values that {target} holds exactly (e.g. datetimes "
                                     "in whole microseconds)",
                            found=f"values of {frame.schema[column]} that it does not")
    return stored


def _utc_ms(as_of: datetime | date | str, name: str) -> int:
    """Milliseconds since the epoch for ``as_of`` (:func:`meshkit._time.to_utc`'s rules)."""
    return epoch_ms(as_of, error=StoreError, where=f"product {name!r}")


def _iso(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


class ProductStore(Displayable):
    """A folder of data products, each a versioned Delta Lake table.

    Parameters
    ----------
    root : str or Path
        The folder holding one Delta table per product; created on the first publish.
        A run keeps its store at ``<run>/store`` (:attr:`meshkit.tutorial.runs.RunDir.store`).
    target_file_size : int, optional
        Roughly how many bytes each data file of a publish holds (Delta's default when
        ``None``). Smaller files suit products that are read in parts.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> store = ProductStore(tempfile.mkdtemp())
    >>> _ = store.publish("customers", pl.DataFrame({"id": [1]}))
    >>> store.products(), store.latest_version("customers")
    (['customers'], 0)
    """

    def __init__(self, root: str | os.PathLike, *, target_file_size: int | None = None) -> None:
        self.root = Path(root)
        self.target_file_size = target_file_size

    # ----------------------------------------------------------------- naming and lookup
    def _path(self, name: str) -> Path:
        return self.root / check_product_name(name)

    def _table(self, name: str, version: int | None = None) -> DeltaTable:
        path = self._path(name)
        if not DeltaTable.is_deltatable(str(path)):
            known = ", ".join(self.products()) or "none"
            raise StoreError("unknown product", where=f"product {name!r}",
                             expected=f"one of the published products ({known})", found=repr(name))
        return DeltaTable(str(path), version=version)

    def exists(self, name: str) -> bool:
        """Whether ``name`` has been published here (raises StoreError for an invalid name)."""
        return DeltaTable.is_deltatable(str(self._path(name)))

    def products(self) -> list[str]:
        """The published product names, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if PRODUCT_NAME.match(p.name) and DeltaTable.is_deltatable(str(p)))

    def table_uri(self, name: str) -> str:
        """The location of the product's Delta table (for ``DeltaTable(...).merge``)."""
        return self._table(name).table_uri

    # ---------------------------------------------------------------------- versions
    def _log(self, name: str) -> list[dict]:
        """Delta commit infos, oldest first, each with ``version`` and ``timestamp`` (ms)."""
        return sorted(self._table(name).history(), key=lambda entry: entry["version"])

    def versions(self, name: str) -> list[int]:
        """Every version of the product still in its log, oldest first."""
        return [entry["version"] for entry in self._log(name)]

    def latest_version(self, name: str) -> int:
        """The product's current version."""
        return self._table(name).version()

    def _check_version(self, name: str, version: int) -> None:
        known = self.versions(name)
        if isinstance(version, bool) or not isinstance(version, int) or version not in known:
            raise StoreError("unknown version", where=f"product {name!r}",
                             expected=f"one of versions {known[0]}..{known[-1]}",
                             found=repr(version))

    def _version_at(self, name: str, as_of: datetime | date | str) -> int:
        wanted = _utc_ms(as_of, name)
        log = self._log(name)
        earlier = [entry["version"] for entry in log if entry["timestamp"] <= wanted]
        if not earlier:
            raise StoreError("no version of the product existed at that time",
                             where=f"product {name!r}",
                             expected=f"a time at or after {_iso(log[0]['timestamp'])} (version "
                                      f"{log[0]['version']})",
                             found=_iso(wanted))
        return max(earlier)

    # ------------------------------------------------------------------------ writing
    def publish(self, product_or_name: Any, frame: pl.DataFrame | pl.LazyFrame,
                contract: Any = None, *, force: bool = False,
                expected_version: int | None = None) -> Publication:
        """Publish ``frame`` as the product's next version.

        Parameters
        ----------
        product_or_name : DataProduct or str
            The product (its ``name`` and ``contract`` are used) or just its name.
        frame : polars.DataFrame or polars.LazyFrame
            The whole product; it replaces the previous version (the schema may change).
            Zero rows are fine, zero columns are not.
        contract : DataContract, optional
            Checked with :func:`meshkit._contracts.validate`; defaults to the product's own.
        force : bool, default False
            Publish even when the contract check fails (the history records it as forced).
        expected_version : int, optional
            Optimistic concurrency: publish only if the product is still at this version.

        Returns
        -------
        Publication
            The name, the new version and the quality report (``None`` without a contract).

        Raises
        ------
        QualityError
            The frame failed its contract and ``force`` is false; nothing was written.
        ConcurrentWriteError
            Another writer committed first; the product is as that writer left it.
        DataError
            The frame cannot be computed or has columns Delta Lake cannot store.
        StoreError
            An invalid name, or the write failed; the previous version is intact.

        Examples
        --------
        >>> import tempfile, polars as pl
        >>> store = ProductStore(tempfile.mkdtemp())
        >>> first = store.publish("orders", pl.DataFrame({"id": [1]}))
        >>> store.publish("orders", pl.DataFrame({"id": [1, 2]}),
        ...               expected_version=first.version).version
        1
        """
        name = getattr(product_or_name, "name", product_or_name)
        if contract is None and not isinstance(product_or_name, str):
            contract = getattr(product_or_name, "contract", None)
        path = self._path(name)
        where = f"product {name!r}"

        if isinstance(frame, pl.LazyFrame):
            try:
                frame = frame.collect()
            except Exception as exc:  # the caller's query failed: nothing was written
                raise DataError("could not compute the frame to publish; nothing was written",
                                where=where, found=f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(frame, pl.DataFrame):
            raise DataError("cannot publish this object", where=where,
                            expected="a polars DataFrame or LazyFrame",
                            found=type(frame).__name__)
        frame = _to_storable(frame, name)

        report = None
        if contract is not None:
            report = validate(frame, contract)
            if not force:
                report.raise_if_failed(where=where)  # nothing written yet

        quality = _quality(report)
        options: dict[str, Any] = {}
        if self.target_file_size is not None:
            options["target_file_size"] = self.target_file_size

        if not DeltaTable.is_deltatable(str(path)):
            if expected_version is not None:
                raise StoreError("cannot check the expected version of a product that does not "
                                 "exist yet", where=where, expected=f"version {expected_version}",
                                 found="no published version")
            self.root.mkdir(parents=True, exist_ok=True)
            # No retry: delta-rs would otherwise retry a lost creation race as an append
            # on top of the winner's rows, mixing two frames into one version.
            options["commit_properties"] = CommitProperties(
                custom_metadata={_QUALITY_KEY: quality}, max_commit_retries=0)
            # the change data feed lets a sync read only what changed since the last one
            options["configuration"] = {"delta.enableChangeDataFeed": "true"}
            self._write(frame, str(path), "error", options, name, previous=None)
            return Publication(name, 0, report)

        table = DeltaTable(str(path))
        if expected_version is not None and table.version() != expected_version:
            raise ConcurrentWriteError("another writer published first; nothing was written",
                                       where=where, expected=f"version {expected_version}",
                                       found=f"version {table.version()}")
        # A publish replaces the whole product, so any commit landing between opening the
        # table and committing is a conflict: no retry onto the newer version, where the
        # other writer's files could survive next to ours.
        options["schema_mode"] = "overwrite"
        options["commit_properties"] = CommitProperties(
            custom_metadata={_QUALITY_KEY: quality}, max_commit_retries=0)
        self._write(frame, table, "overwrite", options, name, previous=table.version())
        return Publication(name, table.version(), report)

    def _write(self, frame: pl.DataFrame, target: str | DeltaTable, mode: str,
               options: dict, name: str, previous: int | None) -> None:
        where = f"product {name!r}"
        try:
            frame.write_delta(target, mode=mode, delta_write_options=options)
        except CommitFailedError as exc:
            raise ConcurrentWriteError(
                "another writer committed to the product first; this publish changed nothing",
                where=where, expected=f"version {previous} to still be the latest",
                found=f"a newer commit ({exc})".replace("\n", " ")) from exc
        except Exception as exc:
            if previous is None and DeltaTable.is_deltatable(str(self._path(name))):
                raise ConcurrentWriteError(
                    "another writer created the product first; this publish changed nothing",
                    where=where, expected="a new product", found="an existing table") from exc
            kept = ("nothing was written" if previous is None
                    else f"the product stays at version {previous}")
            raise StoreError(f"publish failed; {kept}", where=where,
                             found=f"{type(exc).__name__}: {exc}".split("\n")[0]) from exc

    def restore(self, name: str, version: int) -> int:
        """Roll the product back to ``version`` by committing it as a new version.

        Returns
        -------
        int
            The new version (the old ones stay in the history).

        Examples
        --------
        >>> import tempfile, polars as pl
        >>> store = ProductStore(tempfile.mkdtemp())
        >>> for n in (1, 2):
        ...     _ = store.publish("p", pl.DataFrame({"n": [n]}))
        >>> store.restore("p", 0), store.read("p")["n"].to_list()
        (2, [1])
        """
        self._check_version(name, version)
        table = self._table(name)
        try:
            table.restore(version, commit_properties=CommitProperties(max_commit_retries=0))
        except CommitFailedError as exc:
            raise ConcurrentWriteError("another writer committed during the restore; nothing "
                                       "was changed", where=f"product {name!r}",
                                       found=str(exc).split("\n")[0]) from exc
        return table.version()

    # ------------------------------------------------------------------------ reading
    def read(self, name: str, version: int | None = None,
             as_of: datetime | date | str | float | None = None,
             columns: list[str] | None = None) -> pl.DataFrame:
        """Read the product: the latest version, a given ``version`` or the one current ``as_of``.

        Parameters
        ----------
        name : str
            The product.
        version : int, optional
            A version number from :meth:`versions`.
        as_of : datetime, date, str or float, optional
            A time, read by :func:`meshkit._time.to_utc` (ISO 8601 strings, epoch seconds;
            naive datetimes are taken as UTC); the version current then is read.
        columns : list of str, optional
            Read only these columns.

        Examples
        --------
        >>> import tempfile, polars as pl
        >>> store = ProductStore(tempfile.mkdtemp())
        >>> _ = store.publish("p", pl.DataFrame({"a": [1], "b": ["x"]}))
        >>> store.read("p", columns=["b"]).columns
        ['b']
        """
        where = f"product {name!r}"
        if version is not None and as_of is not None:
            raise StoreError("give a version or a time, not both", where=where,
                             expected="version=... or as_of=...",
                             found=f"version={version!r}, as_of={as_of!r}")
        self._table(name)
        if version is not None:
            self._check_version(name, version)
        elif as_of is not None:
            version = self._version_at(name, as_of)
        table = self._table(name, version)
        columns = requested_columns(columns, where=where)
        if columns is not None:
            known = [field.name for field in table.schema().fields]
            missing = [c for c in columns if c not in known]
            if missing:
                raise StoreError("unknown columns", where=where,
                                 expected=f"columns among {known}", found=missing)
        return pl.read_delta(table, columns=columns)

    def history(self, name: str) -> pl.DataFrame:
        """The product's versions, newest first.

        Columns: ``version``, ``timestamp`` (UTC), ``operation`` (``WRITE``, ``RESTORE``,
        ``MERGE``...), ``rows`` (rows written, when the operation reports it) and ``quality``
        (``passed`` / ``forced`` / ``unchecked`` for publishes made here).
        """
        log = self._log(name)[::-1]
        return pl.DataFrame(
            {
                "version": [e["version"] for e in log],
                "timestamp": [EPOCH + timedelta(milliseconds=e["timestamp"])
                              for e in log],
                "operation": [e.get("operation") for e in log],
                "rows": [(e.get("operationMetrics") or {}).get("num_added_rows") for e in log],
                "quality": [e.get(_QUALITY_KEY) for e in log],
            },
            schema={"version": pl.Int64, "timestamp": pl.Datetime("ms", "UTC"),
                    "operation": pl.String, "rows": pl.Int64, "quality": pl.String},
        )

    # ------------------------------------------------------------------------ display
    def _summary(self) -> list[tuple[str, int]]:
        return [(name, self.latest_version(name)) for name in self.products()]

    def __repr__(self) -> str:
        listed = ", ".join(f"{name}@v{version}" for name, version in self._summary())
        return f"ProductStore({listed or 'empty'})"

    def _render(self) -> list:
        summary = self._summary()
        return [Heading(f"ProductStore: {len(summary)} product(s)"),
                Table(["product", "latest version"], summary, max_rows=max(len(summary), 1))]
