"""Seeded inconsistencies: a stale copy of a product, change by named change.

:func:`stale_copy` makes what a second domain might hold after months of drift: stale values
in a column, missing entities, a column whose type changed, a shifted numeric distribution.
Each change is named and recorded (:class:`Injection`), and the same seed gives the same copy,
so tests and the ``04_consistency`` notebook share it. Columns left unnamed are picked from the
product's own columns (:func:`default_columns`), so it works on any product; a change for which
the product has no suitable column is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from meshkit._consistency._frames import as_keys
from meshkit._errors import ConsistencyError

__all__ = ["Injection", "INJECTIONS", "stale_copy", "default_columns", "default_type_to",
           "copy_contract", "fresh_store"]

#: the changes :func:`stale_copy` knows, in the order it applies them.
INJECTIONS = ("stale_values", "missing_rows", "type_change", "shift")


@dataclass(frozen=True)
class Injection:
    """One change applied to the copy: its name, the column, how many rows it touched."""

    name: str
    column: str | None
    rows: int
    description: str


def _need(frame: pl.DataFrame, column: str | None, what: str) -> str:
    if column is None or column not in frame.columns:
        raise ConsistencyError(f"{what} needs a column of the product", where=what,
                               expected=f"one of {frame.columns}", found=repr(column))
    return column


def default_type_to(dtype: pl.DataType) -> pl.DataType:
    """The type a copy stores a ``dtype`` column as: a date becomes a timestamp, a timestamp a
    date, anything else text.

    Examples
    --------
    >>> default_type_to(pl.Date), default_type_to(pl.Datetime("us")), default_type_to(pl.Int64)
    (Datetime(time_unit='us', time_zone=None), Date, String)
    """
    if dtype == pl.Date:
        return pl.Datetime("us")
    if isinstance(dtype, pl.Datetime):
        return pl.Date
    return pl.Utf8


def _movable(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype.is_temporal()


def default_columns(frame: pl.DataFrame, keys, *, type_change: bool = True) -> dict:
    """The columns :func:`stale_copy` changes when none are named, from the frame's own columns.

    Never a key column. Returns ``stale_column`` (the text column with the most distinct
    values, first on ties: an e-mail, a record number), ``type_column`` and ``type_to`` (the
    first date column, else the first timestamp, else the first other column;
    :func:`default_type_to`), and ``shift_column`` (the first numeric column with more than two
    distinct values, else the first date or timestamp, that is still one after the type change
    unless ``type_change`` is False). A value is ``None`` when the frame has no such column.

    Examples
    --------
    >>> d = pl.DataFrame({"id": [1, 2, 3], "email": ["a", "b", "c"], "tier": ["x", "x", "y"],
    ...                   "flag": [0, 1, 0], "amount": [1.0, 2.5, 4.0]})
    >>> cols = default_columns(d, "id")
    >>> cols["stale_column"], cols["type_column"], cols["type_to"], cols["shift_column"]
    ('email', 'email', String, 'amount')
    """
    key_set = set(as_keys(keys))
    schema = {c: t for c, t in frame.schema.items() if c not in key_set}
    distinct = {c: frame[c].n_unique() for c in schema}
    text = [c for c, t in schema.items() if t == pl.Utf8]
    stale = max(text, key=lambda c: distinct[c]) if text else None  # max keeps the first on ties
    dates = [c for c, t in schema.items() if t == pl.Date]
    stamps = [c for c, t in schema.items() if isinstance(t, pl.Datetime)]
    type_column = next(iter(dates + stamps + list(schema)), None)
    type_to = default_type_to(schema[type_column]) if type_column is not None else None

    def movable(c):  # still a number or a time once the type change is applied
        return _movable(type_to if type_change and c == type_column else schema[c])

    numbers = [c for c, t in schema.items() if t.is_numeric() and distinct[c] > 2 and movable(c)]
    times = [c for c, t in schema.items() if t.is_temporal() and movable(c)]
    shift = next(iter(numbers + times), None)
    return {"stale_column": stale, "type_column": type_column, "type_to": type_to,
            "shift_column": shift}


def stale_copy(frame: pl.DataFrame, keys, *, steps=INJECTIONS, seed: int = 0,
               fraction: float = 0.1, stale_column: str | None = None,
               type_column: str | None = None, shift_column: str | None = None,
               shift: float = 0.5, type_to: pl.DataType | None = None
               ) -> tuple[pl.DataFrame, list[Injection]]:
    """Return a copy of ``frame`` with the named inconsistencies, and what was done.

    Columns left as ``None`` are chosen by :func:`default_columns` from the product's own
    columns; a step for which the product has no such column (no text column for
    ``stale_values``, nothing numeric or temporal for ``shift``) is skipped and is absent from
    the returned list. A named column the frame lacks is a
    :class:`~meshkit._errors.ConsistencyError`.

    Parameters
    ----------
    frame : polars.DataFrame
        The source product.
    keys : str or list of str
        Its entity keys (never modified).
    steps : sequence of str
        Which of :data:`INJECTIONS` to apply (always in that order).
    seed : int
        Picks the rows each change touches.
    fraction : float
        Share of rows for ``stale_values`` and ``missing_rows``.
    stale_column : str
        ``stale_values``: a string column (e.g. an email) whose value becomes an older one
        (``"old."`` prefixed) on ``fraction`` of the rows.
    type_column : str
        ``type_change``: a column stored as ``type_to`` in the copy.
    type_to : polars.DataType
        Its new type; by default :func:`default_type_to` of its type (a date becomes a
        timestamp, a timestamp a date, anything else text).
    shift_column : str
        ``shift``: a numeric or temporal column moved by ``shift`` of its standard deviation
        on every row.

    Examples
    --------
    >>> d = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["a@x", "b@x", "c@x", "d@x"]})
    >>> copy, done = stale_copy(d, "id", steps=["stale_values"], fraction=0.5,
    ...                         stale_column="email")
    >>> done[0].rows, copy["email"].str.starts_with("old.").sum()
    (2, 2)
    >>> [i.name for i in stale_copy(d, "id", fraction=0.5)[1]]  # nothing numeric to shift
    ['stale_values', 'missing_rows', 'type_change']
    """
    unknown = [s for s in steps if s not in INJECTIONS]
    if unknown:
        raise ConsistencyError("unknown injection", where="steps",
                               expected=f"names from {INJECTIONS}", found=unknown)
    keys = as_keys(keys)
    picked = default_columns(frame, keys, type_change="type_change" in steps)
    auto = {"stale_values": stale_column is None, "type_change": type_column is None,
            "shift": shift_column is None}
    if type_column is None:
        type_column = picked["type_column"]
        type_to = picked["type_to"] if type_to is None else type_to
    elif type_column in frame.columns and type_to is None:
        type_to = default_type_to(frame.schema[type_column])
    chosen = {"stale_values": stale_column if stale_column is not None else picked["stale_column"],
              "type_change": type_column,
              "shift": shift_column if shift_column is not None else picked["shift_column"]}
    rng = np.random.default_rng(seed)
    out = frame.sort(keys)
    done: list[Injection] = []
    n = out.height
    for step in [s for s in INJECTIONS if s in steps]:
        if step != "missing_rows" and chosen[step] is None and auto[step]:
            continue  # nothing in this product the change applies to
        if step == "stale_values":
            col = _need(out, chosen[step], step)
            mask = np.zeros(n, bool)
            mask[rng.choice(n, int(round(fraction * n)), replace=False)] = True
            out = out.with_columns(pl.when(pl.Series(mask)).then(pl.lit("old.") + pl.col(col))
                                   .otherwise(pl.col(col)).alias(col))
            done.append(Injection(step, col, int(mask.sum()),
                                  f"{mask.sum()} stale value(s) in {col}"))
        elif step == "missing_rows":
            drop = np.zeros(out.height, bool)
            drop[rng.choice(out.height, int(round(fraction * n)), replace=False)] = True
            out = out.filter(~pl.Series(drop))
            done.append(Injection(step, ", ".join(keys),
                                  int(drop.sum()), f"{drop.sum()} entity(ies) missing"))
        elif step == "type_change":
            col = _need(out, chosen[step], step)
            before = out.schema[col]
            out = out.with_columns(pl.col(col).cast(type_to))
            done.append(Injection(step, col, out.height, f"{col} stored as {type_to} (was {before})"))
        elif step == "shift":
            col = _need(out, chosen[step], step)
            dtype = out.schema[col]
            if not _movable(dtype):
                raise ConsistencyError("shift needs a numeric or temporal column", where=step,
                                       expected="a number, date or timestamp",
                                       found=f"{col} ({dtype})")
            physical = pl.col(col).to_physical()
            std = float(out.select(physical.cast(pl.Float64).std()).item() or 1.0)
            moved = physical.cast(pl.Float64) + shift * std
            if dtype.is_integer() or dtype.is_temporal():
                moved = moved.round(0).cast(pl.Int64)
            out = out.with_columns(moved.cast(dtype).alias(col))
            done.append(Injection(step, col, out.height,
                                  f"{col} shifted by {shift:g} standard deviation(s)"))
    return out, done


def copy_contract(contract, frame: pl.DataFrame, *, id: str, name: str,
                  valid_values: dict | None = None):
    """The contract a copy's owner would write: ``contract`` retyped to fit ``frame``.

    Columns whose type no longer fits the original logical type take the logical type of
    their new dtype (and lose type-specific options); ``valid_values`` replaces the allowed
    values of the named columns. The result is a new :class:`~meshkit._contracts.DataContract`
    whose disagreements with the original :func:`~meshkit._consistency.consistency` flags.

    Examples
    --------
    >>> from meshkit._contracts import DataContract
    >>> c = DataContract.from_dict({"apiVersion": "v3.1.0", "kind": "DataContract", "id": "p",
    ...     "version": "1.0.0", "status": "active", "schema": [{"name": "p", "properties": [
    ...     {"name": "id", "logicalType": "integer", "primaryKey": True},
    ...     {"name": "day", "logicalType": "date"}]}]})
    >>> frame = pl.DataFrame({"id": [1], "day": ["2024-01-01"]})
    >>> copy_contract(c, frame, id="p-copy", name="p_copy").property("day").logical_type
    'string'
    """
    from meshkit._contracts import DataContract
    from meshkit._contracts.types import dtype_matches, logical_type_of

    data = contract.to_dict()
    data["id"], data["name"] = id, name
    table = data["schema"][0]
    table["name"] = name
    for prop in table.get("properties", []):
        column = prop["name"]
        if column in frame.columns and not dtype_matches(prop["logicalType"], frame.schema[column]):
            prop["logicalType"] = logical_type_of(frame.schema[column]) or "string"
            prop.pop("logicalTypeOptions", None)
        if valid_values and column in valid_values:
            for rule in prop.get("quality", []):
                if rule.get("metric") == "invalidValues":
                    rule.setdefault("arguments", {})["validValues"] = list(valid_values[column])
    return DataContract.from_dict(data, where=f"contract of {name}")


def fresh_store(path, products: dict, *, force: bool = False):
    """A product store at ``path`` holding exactly ``products`` at version 0.

    ``products`` maps a name to a frame or to ``(frame, contract)``. Whatever the folder held
    is removed first, so a notebook re-run starts from the same versions. ``force`` publishes
    products that fail their contract (a stale copy usually does), recording it in the history.
    """
    import shutil
    from pathlib import Path

    from meshkit._store import ProductStore

    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    store = ProductStore(path)
    for name, value in products.items():
        frame, contract = value if isinstance(value, tuple) else (value, None)
        store.publish(name, frame, contract, force=force)
    return store
