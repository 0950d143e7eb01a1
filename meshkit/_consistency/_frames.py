"""Input checks shared by every layer: frames, keys and column kinds.

Bad input stops here with a :class:`~meshkit._errors.ConsistencyError` (or a
:class:`~meshkit._errors.DataError` for an empty product) naming the side, the column and what
was expected.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from meshkit._errors import ConsistencyError, DataError

__all__ = ["as_frame", "as_keys", "check_keys", "column_kind", "NUMERIC", "CATEGORICAL", "OTHER"]

NUMERIC = "numeric"
CATEGORICAL = "categorical"
OTHER = "other"


def as_frame(data, *, where: str) -> pl.DataFrame:
    """Return ``data`` as an eager polars DataFrame, refusing empty products.

    Examples
    --------
    >>> as_frame(pl.DataFrame({"a": [1]}), where="left").height
    1
    """
    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if not isinstance(data, pl.DataFrame):
        raise ConsistencyError("cannot compare this object", where=where,
                               expected="a polars DataFrame or LazyFrame",
                               found=type(data).__name__)
    if data.height == 0:
        raise DataError("the product is empty", where=where, expected="at least one row",
                        found="0 rows")
    return data


def as_keys(keys: str | Sequence[str] | None) -> list[str]:
    """Normalize ``keys`` to a list of column names."""
    if keys is None:
        return []
    if isinstance(keys, str):
        return [keys]
    return list(keys)


def check_keys(frame: pl.DataFrame, keys: list[str], *, where: str) -> None:
    """Check the entity keys exist, have no nulls and identify each row once.

    Examples
    --------
    >>> check_keys(pl.DataFrame({"id": [1, 1]}), ["id"], where="left")
    Traceback (most recent call last):
    ...
    meshkit._errors.ConsistencyError: left: duplicate entity keys (expected each key ['id'] once; found 1 key(s) repeated, e.g. {'id': 1})
    """
    if not keys:
        raise ConsistencyError("no entity keys given", where=where,
                               expected="keys=<column or list of columns>", found="none")
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ConsistencyError("key column(s) missing", where=where,
                               expected=f"key columns {keys}",
                               found=f"columns {frame.columns} (missing {missing})")
    nulls = frame.select(pl.any_horizontal(pl.col(keys).is_null()).sum()).item()
    if nulls:
        raise ConsistencyError("null entity keys", where=where,
                               expected=f"no nulls in {keys}", found=f"{nulls} row(s) with a null key")
    key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
    if frame.select(key.n_unique()).item() == frame.height:
        return
    dup = frame.select(keys).filter(key.is_duplicated())
    if dup.height:
        first = dup.row(0, named=True)
        n = dup.unique().height
        raise ConsistencyError("duplicate entity keys", where=where,
                               expected=f"each key {keys} once",
                               found=f"{n} key(s) repeated, e.g. {first}")


def column_kind(dtype: pl.DataType) -> str:
    """``"numeric"`` (integers, floats, dates, times), ``"categorical"`` (strings, enums,
    booleans) or ``"other"`` (lists, structs, binary...).

    Examples
    --------
    >>> column_kind(pl.Int32), column_kind(pl.Utf8), column_kind(pl.List(pl.Int8))
    ('numeric', 'categorical', 'other')
    """
    if dtype == pl.Boolean or isinstance(dtype, (pl.String, pl.Categorical, pl.Enum)) \
            or dtype in (pl.String, pl.Categorical):
        return CATEGORICAL
    if dtype.is_numeric() or dtype.is_temporal():
        return NUMERIC
    return OTHER
