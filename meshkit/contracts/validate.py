"""Check a polars frame against its data contract.

Examples
--------
>>> import polars as pl
>>> from meshkit.contracts import DataContract
>>> contract = DataContract.from_dict({"apiVersion": "v3.1.0", "kind": "DataContract",
...     "id": "scores", "version": "1.0.0", "status": "active",
...     "schema": [{"name": "scores", "properties": [
...         {"name": "score", "logicalType": "integer",
...          "logicalTypeOptions": {"minimum": 0, "maximum": 100}}]}]})
>>> report = validate(pl.DataFrame({"score": [10, 120, 99]}), contract)
>>> report.passed, report.check("score.maximum").failing
(False, 1)
>>> report.check("score.maximum").samples.to_dicts()
[{'row': 1, 'score': 120}]
"""

from __future__ import annotations

import polars as pl

from meshkit.contracts.checks import PlannedCheck, duplicated_values, plan_checks
from meshkit.contracts.model import DataContract
from meshkit.contracts.report import CheckResult, QualityReport
from meshkit.contracts.types import dtype_matches
from meshkit.errors import DataError

__all__ = ["validate"]

_ROW = "row"


def validate(frame: pl.DataFrame | pl.LazyFrame, contract: DataContract, *,
             sample_size: int = 5) -> QualityReport:
    """Check ``frame`` against ``contract``; return a :class:`QualityReport`.

    Data problems never raise: missing or extra columns, dtypes unlike the logical types,
    an empty product and every broken rule are failing checks in the report. All counts
    come from one lazy ``select`` over the frame; the few failing rows of the failed checks
    are fetched afterwards, together.

    Parameters
    ----------
    frame : polars.DataFrame or polars.LazyFrame
        The product's data.
    contract : DataContract
        Its contract.
    sample_size : int, default 5
        Failing rows kept per failed check (``0`` keeps none). ``pii`` values read ``***``.

    Raises
    ------
    DataError
        When ``frame`` is not a polars frame, ``sample_size`` is negative, or a LazyFrame's
        source cannot be read (the polars error is chained).
    """
    if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
        raise DataError("cannot validate this object", where="validate(frame)",
                        expected="a polars DataFrame or LazyFrame",
                        found=type(frame).__name__)
    if not isinstance(contract, DataContract):
        raise DataError("cannot validate against this object", where="validate(contract)",
                        expected="a DataContract", found=type(contract).__name__)
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
        raise DataError("bad sample size", where="validate(sample_size)",
                        expected="an integer >= 0", found=repr(sample_size))
    lazy = frame.lazy()
    try:
        schema = lazy.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError("cannot read the product", where="validate(frame)",
                        expected="a LazyFrame whose source can be read",
                        found=f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    planned = plan_checks(contract, schema)
    runnable = [c for c in planned if c.usable and c.failing is not None]

    measured = _collect(lazy.select(
        pl.len().alias("__rows"),
        *(c.count_expr().alias(f"__{i}") for i, c in enumerate(runnable)),
        *(duplicated_values(c.duplicates_in, sample_size).alias(f"__values{i}")
          for i, c in enumerate(runnable) if sample_size and c.duplicates_in is not None),
    ))[0]
    total = int(measured["__rows"][0])
    failing = {c.name: int(measured[f"__{i}"][0] or 0) for i, c in enumerate(runnable)}
    duplicated = {c.name: measured[f"__values{i}"][0] for i, c in enumerate(runnable)
                  if f"__values{i}" in measured.columns}

    results = _schema_results(contract, schema, total)
    decided = []
    for check in planned:
        if not check.usable:
            decided.append((check, CheckResult(
                check.name, check.column, check.rule, False, None, total,
                expected=check.expected, severity=check.severity,
                message="not evaluated: column missing or of the wrong type")))
            continue
        count = failing.get(check.name, 0)
        observed, passed = check.decide(count, total)
        decided.append((check, CheckResult(
            check.name, check.column, check.rule, passed,
            None if check.failing is None else count, total, observed=observed,
            expected=check.expected, severity=check.severity)))

    to_sample = [(check, result) for check, result in decided
                 if sample_size and not result.passed and check.failing is not None
                 and check.usable and result.failing]
    samples = _samples(lazy, contract, schema, [c for c, _ in to_sample], sample_size,
                       duplicated)
    by_name = {check.name: frame_ for (check, _), frame_ in zip(to_sample, samples)}
    results += [_with_samples(result, by_name.get(result.name)) for _, result in decided]
    return QualityReport(contract.id, contract.version, total, results)


def _schema_results(contract: DataContract, schema: pl.Schema, total: int) -> list[CheckResult]:
    """Built-in checks: non-empty product, no extra columns, each column present and typed."""
    table = contract.table
    results = [CheckResult(f"{table}.not_empty", None, "not_empty", total > 0, None, total,
                           observed=total, expected="at least one row",
                           message="" if total else "the product is empty")]
    known = set(contract.columns)
    extra = [name for name in schema if name not in known]
    results.append(CheckResult(
        f"{table}.columns", None, "columns", not extra, None, total, observed=len(extra),
        expected="no columns beyond the contract",
        message=f"unexpected columns: {', '.join(extra)}" if extra else ""))
    for prop in contract.properties:
        if prop.name not in schema:
            passed, message = False, "column missing"
        elif not dtype_matches(prop.logical_type, schema[prop.name]):
            passed, message = False, f"found {schema[prop.name]}"
        else:
            passed, message = True, ""
        kind = f"{_article(prop.logical_type)} {prop.logical_type} column"
        results.append(CheckResult(f"{prop.name}.type", prop.name, "type", passed, None,
                                   total, expected=kind, message=message))
    return results


def _samples(lazy: pl.LazyFrame, contract: DataContract, schema: pl.Schema,
             checks: list[PlannedCheck], size: int,
             duplicated: dict[str, pl.Series]) -> list[pl.DataFrame]:
    """A few failing rows per check, pii masked, collected in one go.

    Single-column duplicate checks show the rows holding their smallest duplicated values
    (plus null keys for a primary key), found without hashing every row again.
    """
    if not checks:
        return []
    pii = set(contract.pii_columns)
    shown = [name for name in contract.columns if name in schema]
    row = _ROW if _ROW not in schema else f"_{_ROW}"
    while row in schema:
        row = f"_{row}"
    columns = [pl.col(row)] + [
        (pl.when(pl.col(n).is_null()).then(pl.lit(None, pl.String))
         .otherwise(pl.lit("***")).alias(n)) if n in pii else pl.col(n)
        for n in shown]
    indexed = lazy.with_row_index(row)
    queries = [indexed.filter(_sample_filter(c, duplicated)).head(size).select(columns)
               for c in checks]
    return _collect(*queries)


def _collect(*queries: pl.LazyFrame) -> list[pl.DataFrame]:
    """Collect lazily built queries; a source that cannot be read is a DataError."""
    try:
        frames = pl.collect_all(list(queries))
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise DataError("cannot read the product", where="validate(frame)",
                        expected="a LazyFrame whose source can be read",
                        found=f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    return frames


def _sample_filter(check: PlannedCheck, duplicated: dict[str, pl.Series]) -> pl.Expr:
    if check.name not in duplicated:
        return check.failing.fill_null(False)
    picked = check.duplicates_in.is_in(pl.lit(duplicated[check.name]).implode())
    if check.rule == "primaryKey":
        picked = picked | check.duplicates_in.is_null()
    return picked.fill_null(False)


def _with_samples(result: CheckResult, samples: pl.DataFrame | None) -> CheckResult:
    if samples is None:
        return result
    return CheckResult(result.name, result.column, result.rule, result.passed, result.failing,
                       result.total, result.observed, result.expected, result.severity,
                       result.message, samples)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
