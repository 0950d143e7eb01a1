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


def as_keys(keys: str | Sequence[str] | None, *, where: str = "keys") -> list[str]:
    """The entity ``keys`` as a list of column names: the one normaliser of ``keys=``.

    A string is one column name (never split on commas); a sequence is a list of column
    names; ``None`` is no keys (the caller decides the default). Anything else, an empty
    name or a name given twice is a :class:`~meshkit._errors.ConsistencyError`.

    Examples
    --------
    >>> as_keys("id"), as_keys(("shop", "id")), as_keys(None)
    (['id'], ['shop', 'id'], [])
    >>> as_keys(["id", "id"])
    Traceback (most recent call last):
    ...
    meshkit._errors.ConsistencyError: keys: an entity key column given twice (expected distinct column names; found 'id' twice)
    """
    if keys is None:
        return []
    if isinstance(keys, str):
        keys = [keys]
    elif not isinstance(keys, Sequence) or isinstance(keys, bytes):
        raise ConsistencyError("entity keys must be column names", where=where,
                               expected="a column name or a list of column names",
                               found=type(keys).__name__)
    names = list(keys)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConsistencyError("entity keys must be column names", where=where,
                                   expected="non-empty strings", found=repr(name))
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConsistencyError("an entity key column given twice", where=where,
                               expected="distinct column names", found=f"{repeated[0]!r} twice")
    return names


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
