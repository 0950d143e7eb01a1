"""Turn a contract into polars expressions, one per check.

Each :class:`PlannedCheck` carries a row-level boolean expression that is true on the rows
that break the rule (``failing``) or, for ``rowCount``, nothing row-level at all. The
validator computes every check's count (:meth:`PlannedCheck.count_expr`) in a single lazy
``select`` (one pass over the data), then fetches a few failing rows for the checks that
failed. Duplicates are counted from runs of the sorted column, not by hashing every row.

Checks come from three places:

* built-in: the product is not empty, no columns beyond the contract, every column present
  with a dtype that fits its logical type;
* the property fields: ``required``, ``unique``, ``primaryKey`` (one check over the whole
  key), and each ``logicalTypeOptions`` entry;
* the ODCS library quality rules, on properties and on the schema object.

Examples
--------
>>> import polars as pl
>>> from meshkit._contracts import DataContract
>>> contract = DataContract.from_dict({"apiVersion": "v3.1.0", "kind": "DataContract",
...     "id": "t", "version": "1", "status": "draft", "schema": [{"name": "t", "properties": [
...     {"name": "x", "logicalType": "integer", "required": True,
...      "logicalTypeOptions": {"minimum": 0}}]}]})
>>> [c.name for c in plan_checks(contract, pl.Schema({"x": pl.Int64}))]
['x.required', 'x.minimum']
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable
from zoneinfo import ZoneInfo

import polars as pl

from meshkit._contracts.model import ContractProperty, DataContract, QualityRule
from meshkit._contracts.types import dtype_matches, parse_literal

__all__ = ["PlannedCheck", "plan_checks", "duplicated_runs"]


@dataclass(frozen=True)
class PlannedCheck:
    """One check to run: what it is called and which rows break it.

    Parameters
    ----------
    name : str
        Unique within a report, e.g. ``amount.minimum`` or ``email.quality[0].nullValues``.
    column : str or None
        The column(s) checked (``"a, b"`` for a composite key), ``None`` for the table.
    rule : str
        The kind of check (``required``, ``minimum``, ``invalidValues``...).
    expected : str
        What the check wants, for people.
    failing : polars.Expr or None
        True on the rows that break the rule; ``None`` for table-level metrics.
    quality : QualityRule or None
        The ODCS rule whose operator decides pass/fail; ``None``: no failing row allowed.
    usable : bool
        False when a column it needs is missing or mistyped; it is then reported as failed
        and not evaluated.
    severity : str
        ``error`` fails the report; other severities are shown only.
    duplicates_in : polars.Expr or None
        For single-column duplicate checks (``unique``, ``duplicateValues``, a one-column
        ``primaryKey``): the column. Its duplicates are then measured from runs of the sorted
        column (one sort, no per-row hashing), which also yields the smallest duplicated
        values used to pick sample rows.
    """

    name: str
    column: str | None
    rule: str
    expected: str
    failing: pl.Expr | None
    quality: QualityRule | None = None
    usable: bool = True
    severity: str = "error"
    duplicates_in: pl.Expr | None = None

    def count_expr(self) -> pl.Expr:
        """The aggregate measuring failing rows; read it with :meth:`failing_count`."""
        if self.duplicates_in is None:
            return self.failing.fill_null(False).sum()
        col = self.duplicates_in
        nulls = col.null_count() if self.rule == "primaryKey" else pl.lit(0, pl.UInt32)
        return pl.struct(runs=duplicated_runs(col), nulls=nulls)

    def failing_count(self, measured: pl.Expr) -> pl.Expr:
        """The number of failing rows, from the measured column of :meth:`count_expr`."""
        if self.duplicates_in is None:
            return measured.cast(pl.Int64)
        lengths = measured.struct.field("runs").list.eval(pl.element().struct.field("len"))
        return (lengths.list.sum().fill_null(0).cast(pl.Int64)
                + measured.struct.field("nulls").cast(pl.Int64))

    def duplicated_values(self, measured: pl.Expr, limit: int) -> pl.Expr:
        """The ``limit`` smallest duplicated values, from the measured column."""
        values = measured.struct.field("runs").list.eval(pl.element().struct.field("value"))
        return values.list.head(limit)

    def decide(self, failing: int, total: int) -> tuple[float, bool]:
        """The observed value and whether the check passes, from its failing-row count."""
        if self.quality is None:
            return failing, failing == 0
        rule = self.quality
        if rule.metric == "rowCount":
            observed = total
        elif rule.unit == "percent":
            observed = 100.0 * failing / total if total else 0.0
        else:
            observed = failing
        return observed, rule.passes(observed)


def plan_checks(contract: DataContract, schema: pl.Schema) -> list[PlannedCheck]:
    """Every data check of ``contract`` as polars expressions over a frame of ``schema``.

    Columns missing from ``schema`` or with a dtype unlike their logical type make their
    checks ``usable=False`` (they cannot be evaluated and count as failed).
    """
    usable = {p.name for p in contract.properties
              if p.name in schema and dtype_matches(p.logical_type, schema[p.name])}
    checks: list[PlannedCheck] = []
    for prop in contract.properties:
        ok = prop.name in usable
        col = _column(prop, schema) if ok else None
        if prop.required:
            checks.append(PlannedCheck(f"{prop.name}.required", prop.name, "required",
                                       "no nulls", col.is_null() if ok else None, usable=ok))
        if prop.unique:
            checks.append(PlannedCheck(f"{prop.name}.unique", prop.name, "unique",
                                       "no duplicated values", **_duplicates(col, ok)))
        for option, value in prop.options.items():
            checks.append(_option_check(prop, option, value, col, schema, ok))
        for i, rule in enumerate(prop.quality):
            if rule.metric == "duplicateValues":
                checks.append(_rule_check(rule, f"{prop.name}.quality[{i}]", prop.name,
                                          **_duplicates(col, ok)))
            elif rule.metric is not None:
                failing = _rule_failing(rule, prop, col, schema) if ok else None
                checks.append(_rule_check(rule, f"{prop.name}.quality[{i}]", prop.name,
                                          failing, ok))
    key = contract.primary_key
    if key:
        ok = all(k in usable for k in key)
        name, expected = f"{contract.table}.primaryKey", "key columns not null and unique together"
        if len(key) == 1:
            col = _column(contract.property(key[0]), schema) if ok else None
            dup = _duplicates(col, ok)
            if ok:
                dup["failing"] = col.is_null() | dup["failing"]
            checks.append(PlannedCheck(name, key[0], "primaryKey", expected, **dup))
        else:
            failing = None
            if ok:
                cols = [pl.col(k) for k in key]
                failing = (pl.any_horizontal(c.is_null() for c in cols)
                           | pl.struct(cols).is_duplicated())
            checks.append(PlannedCheck(name, ", ".join(key), "primaryKey", expected, failing,
                                       usable=ok))
    for i, rule in enumerate(contract.quality):
        if rule.metric is None:
            continue
        name = f"{contract.table}.quality[{i}]"
        if rule.metric == "rowCount":
            checks.append(_rule_check(rule, name, None, None, True))
        else:  # schema-level duplicateValues over arguments.properties
            cols = rule.arguments["properties"]
            ok = all(c in usable for c in cols)
            expr = pl.struct([pl.col(c) for c in cols]).is_duplicated() if ok else None
            checks.append(_rule_check(rule, name, ", ".join(cols), expr, ok))
    return checks


def _rule_check(rule: QualityRule, name: str, column: str | None,
                failing: pl.Expr | None, usable: bool, **more) -> PlannedCheck:
    label = f"{name}.{rule.metric}"
    return PlannedCheck(label, column, rule.metric, rule.describe(), failing, quality=rule,
                        usable=usable, severity=rule.severity, **more)


def _column(prop: ContractProperty, schema: pl.Schema) -> pl.Expr:
    col = pl.col(prop.name)
    if prop.logical_type == "string" and schema[prop.name] != pl.String:
        col = col.cast(pl.String)  # Categorical / Enum compare as text
    return col


def _duplicated(col: pl.Expr) -> pl.Expr:
    """Non-null rows whose value also appears on another row (nulls are never duplicates)."""
    return col.is_duplicated() & col.is_not_null()


def _duplicates(col: pl.Expr | None, usable: bool) -> dict:
    """Fields of a single-column duplicate check."""
    if not usable:
        return {"failing": None, "usable": False}
    return {"failing": _duplicated(col), "usable": True, "duplicates_in": col}


def duplicated_runs(col: pl.Expr) -> pl.Expr:
    """The values of ``col`` that occur more than once, with their counts, as one list.

    A one-row list of ``{len, value}`` structs, smallest value first, from runs of the
    sorted non-null values: faster than hashing every row with ``is_duplicated`` and the
    same count (every row of a repeated value).

    Examples
    --------
    >>> frame = pl.DataFrame({"a": [3, 1, 3, None, 2, 3, 1]})
    >>> frame.select(duplicated_runs(pl.col("a"))).item().to_list()
    [{'len': 2, 'value': 1}, {'len': 3, 'value': 3}]
    """
    run = pl.element()
    return col.drop_nulls().sort().rle().implode().list.eval(
        run.filter(run.struct.field("len") > 1))


_BOUNDS: dict[str, tuple[str, Callable[[pl.Expr, pl.Expr], pl.Expr]]] = {
    "minimum": (">=", lambda c, v: c < v),
    "maximum": ("<=", lambda c, v: c > v),
    "exclusiveMinimum": (">", lambda c, v: c <= v),
    "exclusiveMaximum": ("<", lambda c, v: c >= v),
}


def _option_check(prop: ContractProperty, option: str, value, col: pl.Expr | None,
                  schema: pl.Schema, ok: bool) -> PlannedCheck:
    name = f"{prop.name}.{option}"
    if option in _BOUNDS:
        symbol, breaks = _BOUNDS[option]
        expected = f"values {symbol} {value}"
        failing = breaks(col, _literal(value, prop, schema)) if ok else None
    elif option == "minLength":
        expected = f"at least {value} characters"
        failing = col.str.len_chars() < value if ok else None
    elif option == "maxLength":
        expected = f"at most {value} characters"
        failing = col.str.len_chars() > value if ok else None
    elif option == "pattern":
        expected = f"matches {value!r}"
        failing = ~col.str.contains(value) if ok else None
    else:  # multipleOf
        expected = f"multiples of {value}"
        if ok and schema[prop.name].is_integer() and float(value).is_integer():
            failing = (col % int(value)) != 0
        elif ok:
            ratio = col.cast(pl.Float64) / value
            failing = (ratio - ratio.round(0)).abs() > 1e-9
        else:
            failing = None
    return PlannedCheck(name, prop.name, option, expected, failing, usable=ok)


def _value(value, prop: ContractProperty, schema: pl.Schema):
    """A contract value as a Python value comparable with the column (time zones aligned)."""
    parsed = parse_literal(value, prop.logical_type)
    dtype = schema[prop.name]
    if isinstance(parsed, dt.datetime) and isinstance(dtype, pl.Datetime):
        zone = dtype.time_zone
        if zone is not None:
            parsed = (parsed.replace(tzinfo=ZoneInfo(zone)) if parsed.tzinfo is None
                      else parsed.astimezone(ZoneInfo(zone)))
        elif parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _literal(value, prop: ContractProperty, schema: pl.Schema) -> pl.Expr:
    """A bound as a polars literal comparable with the column."""
    parsed = _value(value, prop, schema)
    if isinstance(parsed, dt.datetime):
        return pl.lit(parsed, dtype=schema[prop.name])
    return pl.lit(parsed)


def _is_in(col: pl.Expr, values: list, prop: ContractProperty, schema: pl.Schema) -> pl.Expr:
    """Rows of ``col`` equal to one of the contract ``values`` (time zones aligned)."""
    parsed = [_value(v, prop, schema) for v in values]
    dtype = schema[prop.name]
    if isinstance(dtype, pl.Datetime):
        return col.is_in(pl.lit(pl.Series(parsed, dtype=dtype)).implode())
    return col.is_in(parsed)


def _rule_failing(rule: QualityRule, prop: ContractProperty, col: pl.Expr,
                  schema: pl.Schema) -> pl.Expr:
    """Rows counted by a property-level library metric."""
    if rule.metric == "nullValues":
        return col.is_null()
    if rule.metric == "missingValues":
        missing = rule.arguments.get("missingValues")
        if missing is None:  # default: null, and the empty string for text
            missing = [None, ""] if prop.logical_type == "string" else [None]
        values = [v for v in missing if v is not None]
        expr = _is_in(col, values, prop, schema) if values else pl.lit(False)
        return (expr | col.is_null()) if None in missing else expr
    # invalidValues: non-null values outside validValues or not matching pattern
    invalid = pl.lit(False)
    if "validValues" in rule.arguments:
        invalid = invalid | ~_is_in(col, rule.arguments["validValues"], prop, schema)
    if "pattern" in rule.arguments:
        invalid = invalid | ~col.str.contains(rule.arguments["pattern"])
    return col.is_not_null() & invalid
