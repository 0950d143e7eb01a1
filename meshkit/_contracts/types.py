"""ODCS logical types and how they map onto polars dtypes.

The nine ODCS v3.1 logical types, and v3.2's ``map`` and ``vector``, each accept a family
of polars dtypes:

============  ==========================================================
logical type  polars dtypes accepted
============  ==========================================================
string        ``String``, ``Categorical``, ``Enum``
integer       ``Int8`` ... ``Int128``, ``UInt8`` ... ``UInt128``
number        every float and integer dtype, ``Decimal``
boolean       ``Boolean``
date          ``Date``
timestamp     ``Datetime`` (any time unit, with or without a time zone)
time          ``Time``
object        ``Struct``
array         ``List``, ``Array``
map           ``List`` of a two-field ``Struct`` (how Arrow maps read)
vector        ``List`` or ``Array`` of a numeric dtype
============  ==========================================================

Examples
--------
>>> import polars as pl
>>> dtype_matches("number", pl.Int32)
True
>>> dtype_matches("integer", pl.Float64)
False
>>> default_dtype("timestamp")
Datetime(time_unit='us', time_zone=None)
"""

from __future__ import annotations

import datetime as dt

import polars as pl

__all__ = [
    "LOGICAL_TYPES",
    "dtype_matches",
    "default_dtype",
    "logical_type_of",
    "parse_literal",
]

LOGICAL_TYPES: tuple[str, ...] = (
    "string", "integer", "number", "boolean", "date", "timestamp", "time", "object", "array",
    "map", "vector",
)

_DEFAULT_DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "number": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "time": pl.Time(),
    "object": pl.Struct([]),
    "array": pl.List(pl.String),
    "map": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
    "vector": pl.Array(pl.Float32, 1),
}


def dtype_matches(logical_type: str | None, dtype: pl.DataType) -> bool:
    """Tell whether a polars dtype can hold values of an ODCS logical type.

    Parameters
    ----------
    logical_type : str
        One of :data:`LOGICAL_TYPES`.
    dtype : polars.DataType
        The dtype of a column.

    Examples
    --------
    >>> dtype_matches("string", pl.Categorical())
    True
    >>> dtype_matches(None, pl.Binary)  # no logicalType in the contract: any dtype
    True
    """
    if logical_type is None:
        return True
    if logical_type == "string":
        return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    if logical_type == "integer":
        return dtype.is_integer()
    if logical_type == "number":
        return dtype.is_numeric()
    if logical_type == "boolean":
        return dtype == pl.Boolean
    if logical_type == "date":
        return dtype == pl.Date
    if logical_type == "timestamp":
        return isinstance(dtype, pl.Datetime) or dtype == pl.Datetime
    if logical_type == "time":
        return dtype == pl.Time
    if logical_type == "object":
        return isinstance(dtype, pl.Struct) or dtype == pl.Struct
    if logical_type == "array":
        return isinstance(dtype, (pl.List, pl.Array)) or dtype in (pl.List, pl.Array)
    if logical_type == "map":
        return (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)
                and len(dtype.inner.fields) == 2)
    if logical_type == "vector":
        return isinstance(dtype, (pl.List, pl.Array)) and dtype.inner.is_numeric()
    return False


def default_dtype(logical_type: str | None) -> pl.DataType:
    """The polars dtype meshkit uses to build an empty frame of a logical type.

    A property without a ``logicalType`` is read as text (``String``).

    Examples
    --------
    >>> default_dtype(None)
    String
    """
    if logical_type is None:
        return pl.String()
    return _DEFAULT_DTYPES[logical_type]


def logical_type_of(dtype: pl.DataType) -> str | None:
    """The ODCS logical type of a polars dtype, or ``None`` when none fits.

    Examples
    --------
    >>> logical_type_of(pl.UInt8)
    'integer'
    >>> logical_type_of(pl.Binary) is None
    True
    """
    for logical_type in LOGICAL_TYPES:  # integer is tried before number on purpose
        if dtype_matches(logical_type, dtype):
            return logical_type
    return None


def parse_literal(value: object, logical_type: str) -> object:
    """Turn a value written in a contract into a Python value of ``logical_type``.

    Dates, timestamps and times are written as ISO 8601 strings (YAML may already have
    turned an unquoted date into a :class:`datetime.date`; both are accepted).

    Raises
    ------
    ValueError
        When the value cannot stand for the logical type; the caller adds the field path.

    Examples
    --------
    >>> parse_literal("2024-02-29", "date")
    datetime.date(2024, 2, 29)
    >>> parse_literal(3, "number")
    3
    """
    if value is None:
        return None
    if logical_type == "string":
        if isinstance(value, str):
            return value
    elif logical_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif logical_type == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif logical_type == "boolean":
        if isinstance(value, bool):
            return value
    elif logical_type == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
    elif logical_type == "timestamp":
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value)
    elif logical_type == "time":
        if isinstance(value, dt.time):
            return value
        if isinstance(value, str):
            return dt.time.fromisoformat(value)
    raise ValueError(f"{value!r} ({type(value).__name__}) is not a {logical_type} value")
