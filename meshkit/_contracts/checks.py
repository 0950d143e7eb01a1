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
from meshkit._contracts.parse import pattern_runs_on_polars
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
    not_enforced : str or None
        Why meshkit does not run this rule or option (a ``custom`` engine, an option it does
        not check...); it is then reported as "not enforced", neither passed nor failed.
    sql : str or None
        The query of a ``type: sql`` rule, placeholders filled; it runs on the product
        through polars' SQL engine and its single value is compared with the operator.
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
    not_enforced: str | None = None
    sql: str | None = None

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
        if self.rule == "rowCount" or self.sql is not None:
            observed = failing if self.sql is not None else total
        elif rule.unit == "percent":
            observed = 100.0 * failing / total if total else 0.0
        else:
            observed = failing
        return observed, rule.passes(observed)


def plan_checks(contract: DataContract, schema: pl.Schema) -> list[PlannedCheck]:
    """Every check of ``contract`` (one table) over a frame of ``schema``.

    Columns missing from ``schema`` or with a dtype unlike their logical type make their
    checks ``usable=False`` (they cannot be evaluated and count as failed). Rules and
    options meshkit does not run come back with ``not_enforced`` set.
    """
    usable = {p.name for p in contract.properties
              if p.name in schema and dtype_matches(p.logical_type, schema[p.name])}
    table = contract.table
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
        if prop.enum is not None:
            failing = (col.is_not_null() & ~_is_in(col, prop.enum, prop, schema)) if ok else None
            checks.append(PlannedCheck(f"{prop.name}.enum", prop.name, "enum",
                                       f"one of {prop.enum}", failing, usable=ok))
        strict = {bound for bound, flag in (("minimum", prop.options.get("exclusiveMinimum")),
                                            ("maximum", prop.options.get("exclusiveMaximum")))
                  if flag is True}  # v3.0: a boolean exclusive* makes its bound strict
        for option, value in prop.options.items():
            if option in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
                continue
            checks.append(_option_check(prop, option, value, col, schema, ok,
                                        strict=option in strict))
        for i, rule in enumerate(prop.quality):
            checks.append(_property_rule(rule, f"{prop.name}.quality[{i}]", prop, col, schema,
                                         ok, table))
    key = contract.primary_key
    if key:
        ok = all(k in usable for k in key)
        name, expected = f"{table}.primaryKey", "key columns not null and unique together"
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
        name = f"{table}.quality[{i}]"
        metric = _metric(rule)
        if rule.type == "sql":
            checks.append(_sql_check(rule, name, None, table))
        elif metric in ("rowCount", "duplicateValues") and rule.unit not in ("rows", "percent"):
            checks.append(_not_enforced(rule, name, None, "schema", f"unit {rule.unit!r}"))
        elif metric == "rowCount" and rule.operator is not None and rule.unit == "rows":
            checks.append(_rule_check(rule, name, None, None, True))
        elif metric == "duplicateValues" and rule.operator is not None:
            cols = rule.arguments.get("properties") or contract.columns
            ok = all(c in usable for c in cols)
            expr = pl.struct([pl.col(c) for c in cols]).is_duplicated() if ok else None
            checks.append(_rule_check(rule, name, ", ".join(cols), expr, ok))
        else:
            checks.append(_not_enforced(rule, name, None, "schema"))
    return checks


# the v3.0 ``rule`` names of metrics meshkit runs
_V30_RULES = {"nullCheck": "nullValues", "duplicateCount": "duplicateValues",
              "rowCount": "rowCount"}
_PROPERTY_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues")
_KNOWN_ARGUMENTS = {"missingValues": {"missingValues"}, "invalidValues": {"validValues", "pattern"},
                    "nullValues": set(), "duplicateValues": set(), "rowCount": set()}


def _metric(rule: QualityRule) -> str | None:
    """The library metric a rule asks for (v3.0's ``rule`` names included)."""
    if rule.type != "library":
        return None
    return rule.metric or _V30_RULES.get(rule.extra.get("rule"))


def _property_rule(rule: QualityRule, name: str, prop: ContractProperty, col, schema,
                   ok: bool, table: str) -> PlannedCheck:
    if rule.type == "sql":
        return _sql_check(rule, name, prop.name, table)
    metric = _metric(rule)
    if metric not in _PROPERTY_METRICS or rule.operator is None:
        return _not_enforced(rule, name, prop.name, "property")
    if rule.unit not in ("rows", "percent"):
        return _not_enforced(rule, name, prop.name, "property", f"unit {rule.unit!r}")
    unknown = set(rule.arguments) - _KNOWN_ARGUMENTS[metric]
    if unknown:
        return _not_enforced(rule, name, prop.name, "property",
                             f"arguments meshkit does not run: {', '.join(sorted(unknown))}")
    if metric == "invalidValues" and not rule.arguments:
        return _not_enforced(rule, name, prop.name, "property",
                             "invalidValues without validValues or pattern")
    pattern = rule.arguments.get("pattern")
    if pattern is not None and pattern_runs_on_polars(pattern) is not None:
        return _not_enforced(rule, name, prop.name, "property",
                             f"polars cannot run the pattern ({pattern_runs_on_polars(pattern)})")
    if metric == "duplicateValues":
        return _rule_check(rule, name, prop.name, metric=metric, **_duplicates(col, ok))
    failing = _rule_failing(rule, metric, prop, col, schema) if ok else None
    return _rule_check(rule, name, prop.name, failing, ok, metric=metric)


def _not_enforced(rule: QualityRule, name: str, column: str | None, level: str,
                  reason: str | None = None) -> PlannedCheck:
    if reason is None:
        if rule.type == "custom":
            reason = f"custom rule of engine {rule.extra.get('engine', 'unknown')!r}"
        elif rule.type == "text":
            reason = "a text rule describes, it has nothing to run"
        elif rule.type != "library":
            reason = f"quality rule type {rule.type!r}"
        elif rule.operator is None:
            reason = "no comparison operator"
        else:
            reason = f"metric {_metric(rule) or rule.extra.get('rule')!r} on a {level}"
    rule_name = _metric(rule) or rule.type
    return PlannedCheck(f"{name}.{rule_name}", column, rule_name, rule.describe() or rule.type,
                        None, quality=rule, severity=rule.severity, not_enforced=reason)


def _sql_check(rule: QualityRule, name: str, column: str | None, table: str) -> PlannedCheck:
    if rule.operator is None or not rule.query:
        return _not_enforced(rule, name, column, "table", "a sql rule without query or operator")
    query = rule.query
    for placeholder in ("${object}", "{object}"):
        query = query.replace(placeholder, table)
    if column is not None:
        for placeholder in ("${property}", "{property}"):
            query = query.replace(placeholder, column)
    return PlannedCheck(f"{name}.sql", column, "sql", rule.describe(), None, quality=rule,
                        severity=rule.severity, sql=query)


def _rule_check(rule: QualityRule, name: str, column: str | None,
                failing: pl.Expr | None = None, usable: bool = True, *,
                metric: str | None = None, **more) -> PlannedCheck:
    metric = metric or _metric(rule)
    label = f"{name}.{metric}"
    return PlannedCheck(label, column, metric, rule.describe(), failing, quality=rule,
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


_ARRAY_SIZES = {"minItems": ("at least", lambda n, v: n < v),
                "maxItems": ("at most", lambda n, v: n > v)}


def _option_check(prop: ContractProperty, option: str, value, col: pl.Expr | None,
                  schema: pl.Schema, ok: bool, strict: bool = False) -> PlannedCheck:
    """The check of one ``logicalTypeOptions`` entry; NaN breaks every numeric bound."""
    name = f"{prop.name}.{option}"
    kind = prop.logical_type
    numeric = kind in ("integer", "number")
    floats = ok and prop.name in schema and schema[prop.name].is_float()
    if option in _BOUNDS and (numeric or kind in ("date", "timestamp", "time")):
        bound = {"minimum": "exclusiveMinimum", "maximum": "exclusiveMaximum"}.get(option) \
            if strict else option
        symbol, breaks = _BOUNDS[bound]
        expected = f"values {symbol} {value}"
        failing = breaks(col, _literal(value, prop, schema)) if ok else None
        if floats:
            failing = failing | col.is_nan()
    elif option in ("minLength", "maxLength") and kind == "string":
        expected = f"{'at least' if option == 'minLength' else 'at most'} {value} characters"
        failing = None
        if ok:
            length = col.str.len_chars()
            failing = length < value if option == "minLength" else length > value
    elif option == "pattern" and kind == "string":
        expected = f"matches {value!r}"
        cannot = pattern_runs_on_polars(value)
        if cannot is not None:
            return PlannedCheck(name, prop.name, option, expected, None,
                                not_enforced=f"polars cannot run the pattern ({cannot})")
        failing = ~col.str.contains(value) if ok else None
    elif option == "multipleOf" and numeric and isinstance(value, (int, float)) and value > 0:
        expected = f"multiples of {value}"
        if ok and schema[prop.name].is_integer() and float(value).is_integer():
            failing = (col % int(value)) != 0
        elif ok:
            ratio = col.cast(pl.Float64) / value
            failing = ((ratio - ratio.round(0)).abs() > 1e-9) | col.is_nan()
        else:
            failing = None
    elif option in _ARRAY_SIZES and kind == "array" and isinstance(value, int):
        word, breaks = _ARRAY_SIZES[option]
        expected = f"{word} {value} items"
        failing = breaks(col.list.len(), value) if ok else None
    else:
        return PlannedCheck(name, prop.name, option, f"{option}: {value}", None,
                            not_enforced=f"option {option!r} of a {kind} column is not checked")
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
    parsed = [_value(v, prop, schema) for v in values if v is not None]
    dtype = schema[prop.name]
    if isinstance(dtype, pl.Datetime):
        return col.is_in(pl.lit(pl.Series(parsed, dtype=dtype)).implode())
    return col.is_in(parsed)


def _rule_failing(rule: QualityRule, metric: str, prop: ContractProperty, col: pl.Expr,
                  schema: pl.Schema) -> pl.Expr:
    """Rows counted by a property-level library metric."""
    if metric == "nullValues":
        return col.is_null()
    if metric == "missingValues":
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
