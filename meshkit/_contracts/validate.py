"""Check a polars frame against its data contract.

Examples
--------
>>> import polars as pl
>>> from meshkit._contracts import DataContract
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

from meshkit._contracts.checks import PlannedCheck, plan_checks
from meshkit._contracts.model import DataContract
from meshkit._contracts.report import CheckResult, QualityReport
from meshkit._contracts.types import dtype_matches
from meshkit._errors import ContractError, DataError

__all__ = ["validate"]

_ROW = "row"


def validate(frame: pl.DataFrame | pl.LazyFrame, contract: DataContract, *,
             sample_size: int = 5, table: str | None = None) -> QualityReport:
    """Check ``frame`` against ``contract``; return a :class:`QualityReport`.

    Data problems never raise: missing or extra columns, dtypes unlike the logical types,
    an empty product and every broken rule are failing checks in the report. Every count,
    and the row numbers of the first failing rows of each row-wise check, come from one
    lazy ``select`` over the frame; duplicates are measured from runs of the sorted column.
    Sample rows of failed checks are then gathered together (duplicate checks show the
    rows of their smallest duplicated values).

    Parameters
    ----------
    frame : polars.DataFrame or polars.LazyFrame
        The product's data.
    contract : DataContract
        Its contract.
    sample_size : int, default 5
        Failing rows kept per failed check (``0`` keeps none). ``pii`` values read ``***``.
    table : str, optional
        For a contract of several tables, the schema object ``frame`` holds (the same as
        ``validate(frame, contract.object(table))``).

    Rules meshkit does not run (``custom`` engines, options it does not check) are in the
    report as "not enforced" (``passed`` is ``None``): they never fail it and never pass.
    ``sql`` rules run on the product through polars' SQL engine, the frame registered
    under the schema object's name (``${object}`` and ``${property}`` are filled in).

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
    if table is not None:
        contract = contract.object(table)
    if len(contract.objects) != 1:
        raise ContractError("a product is checked against one table of its contract",
                            where=f"validate(contract={contract.id!r})",
                            expected="a single-table contract, or table=<schema object name>",
                            found=f"{len(contract.objects)} schema objects {contract.tables}")
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
    runnable = [c for c in planned if c.usable and c.failing is not None
                and c.not_enforced is None]

    # one pass: every count, and the first failing rows of every row-wise check
    measured = _collect(lazy.select(
        pl.len().alias("__rows"),
        *(c.count_expr().alias(f"__count{i}") for i, c in enumerate(runnable)),
        *(c.failing.fill_null(False).arg_true().head(sample_size).implode().alias(f"__rows{i}")
          for i, c in enumerate(runnable) if sample_size and c.duplicates_in is None),
    ))[0]
    read = measured.select(
        *(c.failing_count(pl.col(f"__count{i}")).alias(f"__count{i}")
          for i, c in enumerate(runnable)),
        *(c.duplicated_values(pl.col(f"__count{i}"), sample_size).alias(f"__values{i}")
          for i, c in enumerate(runnable) if sample_size and c.duplicates_in is not None),
    )
    total = int(measured["__rows"][0])
    failing = {c.name: int(read[f"__count{i}"][0]) for i, c in enumerate(runnable)}
    duplicated = {c.name: read[f"__values{i}"][0] for i, c in enumerate(runnable)
                  if f"__values{i}" in read.columns}
    first_rows = {c.name: measured[f"__rows{i}"][0] for i, c in enumerate(runnable)
                  if f"__rows{i}" in measured.columns}

    results = _schema_results(contract, schema, total)
    answers = _run_sql(lazy, contract.table, [c for c in planned if c.sql is not None])
    decided = []
    for check in planned:
        if check.not_enforced is not None:
            decided.append(CheckResult(
                check.name, check.column, check.rule, None, None, total,
                expected=check.expected, severity=check.severity,
                message=f"not enforced: {check.not_enforced}"))
            continue
        if check.sql is not None:
            value, problem = answers[check.name]
            passed = problem is None and check.quality.passes(value)
            decided.append(CheckResult(
                check.name, check.column, check.rule, passed, None, total, observed=value,
                expected=check.expected, severity=check.severity,
                message=problem or f"query: {check.sql}"))
            continue
        if not check.usable:
            decided.append(CheckResult(
                check.name, check.column, check.rule, False, None, total,
                expected=check.expected, severity=check.severity,
                message="not evaluated: column missing or of the wrong type"))
            continue
        count = failing.get(check.name, 0)
        observed, passed = check.decide(count, total)
        decided.append(CheckResult(
            check.name, check.column, check.rule, passed,
            None if check.failing is None else count, total, observed=observed,
            expected=check.expected, severity=check.severity))

    failed = {r.name for r in decided if not r.passed and r.failing}
    wanted = {name: rows for name, rows in first_rows.items() if name in failed}
    wanted |= _duplicate_row_numbers(
        lazy, [c for c in runnable if c.name in failed and c.name in duplicated], duplicated,
        sample_size)
    samples = _samples(frame, contract, schema, wanted)
    results += [_with_samples(r, samples.get(r.name)) for r in decided]
    return QualityReport(contract.id, contract.version, total, results)


def _run_sql(lazy: pl.LazyFrame, table: str,
             checks: list[PlannedCheck]) -> dict[str, tuple[float | None, str | None]]:
    """Each sql rule's single value, or why it could not be had (a failed check).

    The queries run through polars' SQL engine on the same lazy frame, registered under
    the schema object's name, all collected together.
    """
    if not checks:
        return {}
    context = pl.SQLContext({table: lazy}, eager=False)
    answers: dict[str, tuple[float | None, str | None]] = {}
    planned = {}
    for check in checks:
        try:
            planned[check.name] = context.execute(check.sql)
        except Exception as exc:  # polars' SQL parser raises several error types
            answers[check.name] = (None, f"the query could not run: {_first_line(exc)}")
    if planned:
        try:
            frames = pl.collect_all(list(planned.values()))
        except Exception:  # find which query fails, one by one
            frames = []
            for name, query in planned.items():
                try:
                    frames.append(query.collect())
                except Exception as exc:
                    frames.append(None)
                    answers[name] = (None, f"the query could not run: {_first_line(exc)}")
        for (name, _), frame in zip(planned.items(), frames):
            if frame is None:
                continue
            if frame.shape != (1, 1) or not frame.dtypes[0].is_numeric():
                answers[name] = (None, f"the query gave {frame.shape[0]} row(s) x "
                                       f"{frame.shape[1]} column(s) of {frame.dtypes}, "
                                       f"not one number")
                continue
            value = frame.item()
            answers[name] = (value, None) if value is not None else \
                (None, "the query gave null, not a number")
    return answers


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _duplicate_row_numbers(lazy: pl.LazyFrame, checks: list[PlannedCheck],
                           duplicated: dict[str, pl.Series], size: int) -> dict[str, pl.Series]:
    """Row numbers of (at most ``size``) failing rows of failed duplicate checks, one pass.

    They are the rows holding each check's smallest duplicated values (plus null keys for a
    primary key), so no row is hashed to find them.
    """
    if not checks:
        return {}
    picks = []
    for check in checks:
        col = check.duplicates_in
        picked = col.is_in(pl.lit(duplicated[check.name]).implode()).fill_null(False)
        if check.rule == "primaryKey":
            picked = picked | col.is_null()
        picks.append(picked.arg_true().head(size).implode().alias(f"__rows{len(picks)}"))
    found = _collect(lazy.select(picks))[0]
    return {c.name: found[f"__rows{i}"][0] for i, c in enumerate(checks)}


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


def _samples(frame: pl.DataFrame | pl.LazyFrame, contract: DataContract, schema: pl.Schema,
             wanted: dict[str, pl.Series]) -> dict[str, pl.DataFrame]:
    """The sample rows of each failed check (by row number), pii masked.

    All wanted rows are fetched at once: gathered from a DataFrame, or filtered by row
    number from a LazyFrame in one more pass.
    """
    if not wanted:
        return {}
    row = _ROW if _ROW not in schema else f"_{_ROW}"
    while row in schema:
        row = f"_{row}"
    shown = [name for name in contract.columns if name in schema]
    numbers = pl.concat(list(wanted.values())).unique().sort()
    if isinstance(frame, pl.DataFrame):
        rows = frame.select(shown)[numbers.to_list()].with_columns(
            numbers.cast(pl.UInt32).alias(row))
    else:
        rows = _collect(frame.with_row_index(row).filter(pl.col(row).is_in(numbers.implode()))
                        .select(row, *shown))[0]
    pii = set(contract.pii_columns)
    rows = rows.select(pl.col(row), *[
        (pl.when(pl.col(n).is_null()).then(pl.lit(None, pl.String))
         .otherwise(pl.lit("***")).alias(n)) if n in pii else pl.col(n)
        for n in shown])
    return {name: rows.filter(pl.col(row).is_in(picked.cast(pl.UInt32).implode()))
            for name, picked in wanted.items()}


def _collect(*queries: pl.LazyFrame) -> list[pl.DataFrame]:
    """Collect lazily built queries; a source that cannot be read is a DataError."""
    try:
        frames = pl.collect_all(list(queries))
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise DataError("cannot read the product", where="validate(frame)",
                        expected="a LazyFrame whose source can be read",
                        found=f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    return frames


def _with_samples(result: CheckResult, samples: pl.DataFrame | None) -> CheckResult:
    if samples is None:
        return result
    return CheckResult(result.name, result.column, result.rule, result.passed, result.failing,
                       result.total, result.observed, result.expected, result.severity,
                       result.message, samples)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
