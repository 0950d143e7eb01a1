"""Draft a contract from a frame, for people bringing their own data.

Examples
--------
>>> import polars as pl
>>> frame = pl.DataFrame({"id": [1, 2], "email": ["a@x.org", None]})
>>> contract = infer_contract(frame, id="customers", primary_key=["id"], pii=["email"])
>>> [(p.name, p.logical_type, p.required) for p in contract.properties]
[('id', 'integer', True), ('email', 'string', False)]
>>> contract.pii_columns
['email']
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from meshkit._contracts.model import ContractProperty, DataContract
from meshkit._contracts.types import logical_type_of
from meshkit._errors import DataError

__all__ = ["infer_contract"]


def infer_contract(frame: pl.DataFrame | pl.LazyFrame, *, id: str, name: str | None = None,
                   primary_key: Sequence[str] = (), pii: Sequence[str] = (),
                   version: str = "1.0.0", status: str = "draft",
                   required: Sequence[str] | None = None) -> DataContract:
    """Build a contract whose columns and logical types are those of ``frame``.

    Parameters
    ----------
    frame : polars.DataFrame or polars.LazyFrame
        The data to describe.
    id : str
        The contract ``id``.
    name : str, optional
        The table name (defaults to ``id``).
    primary_key : sequence of str
        Key columns (in key order); they are also marked required.
    pii : sequence of str
        Columns classified ``pii``.
    version, status : str
        ODCS ``version`` and ``status``.
    required : sequence of str, optional
        Columns that must not be null; by default the columns with no nulls in ``frame``.

    Raises
    ------
    DataError
        When ``frame`` is not a polars frame, a named column does not exist, or a column's
        dtype has no ODCS logical type (e.g. ``Binary``).
    """
    if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
        raise DataError("cannot infer a contract", where="infer_contract(frame)",
                        expected="a polars DataFrame or LazyFrame", found=type(frame).__name__)
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    for arg, names in (("primary_key", primary_key), ("pii", pii), ("required", required or ())):
        for column in names:
            if column not in schema:
                raise DataError("no such column", where=f"infer_contract({arg}=...)",
                                expected=f"one of {list(schema)}", found=repr(column))
    if required is None:
        nulls = lazy.select(pl.all().null_count()).collect().row(0, named=True)
        required = [c for c, n in nulls.items() if n == 0]
    properties = []
    for column, dtype in schema.items():
        logical_type = logical_type_of(dtype)
        if logical_type is None:
            raise DataError("dtype has no ODCS logical type", where=f"column {column!r}",
                            expected="a string, numeric, boolean, temporal, struct or list column",
                            found=str(dtype))
        in_key = column in primary_key
        properties.append(ContractProperty(
            name=column, logical_type=logical_type,
            required=column in required or in_key, primary_key=in_key,
            primary_key_position=(list(primary_key).index(column) + 1
                                  if in_key and len(primary_key) > 1 else None),
            classification="pii" if column in pii else None))
    table = name or id
    return DataContract(id=id, version=version, status=status, table=table,
                        properties=tuple(properties))
