"""The result of checking a product against its contract.

A :class:`QualityReport` holds one :class:`CheckResult` per check. It explains itself in a
terminal (``str``) and in a notebook (HTML) from one render (:mod:`meshkit._display`), as a
polars frame (:meth:`to_frame`)
and as JSON-ready data (:meth:`to_dict`). Its output is deterministic: no timestamps, no
memory addresses. Sample rows never show the values of ``pii`` columns (they read
``***``).

Examples
--------
>>> report = QualityReport("orders", "1.0.0", rows=3, checks=[
...     CheckResult("orders.not_empty", None, "not_empty", True, 0, 3, expected="rows > 0")])
>>> report.passed
True
>>> print(report)
QualityReport orders v1.0.0: PASSED (1 checks, 0 failed, 3 rows)
      check             column  failing  total  observed  expected  details
  ok  orders.not_empty  -       0        3      -         rows > 0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl

from meshkit._display import Badge, Code, Displayable, Heading, Paragraph, Table, fmt
from meshkit._errors import QualityError

__all__ = ["CheckResult", "QualityReport"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Parameters
    ----------
    name : str
        Unique within the report, e.g. ``amount.minimum``.
    column : str or None
        The column(s) checked; ``None`` for table-level checks.
    rule : str
        The kind of check (``required``, ``type``, ``invalidValues``, ``rowCount``...).
    passed : bool or None
        Whether the check passed; ``None`` for a rule meshkit does not enforce (a
        ``custom`` engine's rule, an option it does not check): it neither passes nor
        fails, and its ``message`` says why.
    failing : int or None
        Rows that break the rule (``None`` when the check could not be evaluated, or for
        counts that are not about rows, such as missing columns).
    total : int
        Rows in the product.
    observed : float or None
        The value compared with the rule (a count, a percentage, the row count).
    expected : str
        What the check wants.
    severity : str
        ``"error"`` (default) fails the report; ``"warning"`` / ``"info"`` are shown only.
    message : str
        Details (e.g. ``found Float64``, ``not evaluated: column missing``).
    samples : polars.DataFrame or None
        A few failing rows, with their row number in ``row`` and ``pii`` values masked.
    """

    name: str
    column: str | None
    rule: str
    passed: bool | None
    failing: int | None
    total: int
    observed: float | None = None
    expected: str = ""
    severity: str = "error"
    message: str = ""
    samples: pl.DataFrame | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        """JSON-ready; samples as a list of row records (dates as ISO strings)."""
        samples = None if self.samples is None else json.loads(self.samples.write_json())
        return {"name": self.name, "column": self.column, "rule": self.rule,
                "passed": self.passed, "failing": self.failing, "total": self.total,
                "observed": self.observed, "expected": self.expected,
                "severity": self.severity, "message": self.message, "samples": samples}


_FRAME_SCHEMA = {
    "name": pl.String, "column": pl.String, "rule": pl.String, "severity": pl.String,
    "passed": pl.Boolean, "failing": pl.Int64, "total": pl.Int64, "observed": pl.Float64,
    "expected": pl.String, "message": pl.String,
}


@dataclass(frozen=True)
class QualityReport(Displayable):
    """Every check of one product against its contract.

    Parameters
    ----------
    contract_id, contract_version : str
        The contract checked against.
    rows : int
        Rows in the product.
    checks : list of CheckResult
        One result per check, in a stable order.
    """

    contract_id: str
    contract_version: str
    rows: int
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every ``error``-severity check passed."""
        return not self.failed

    @property
    def failed(self) -> list[CheckResult]:
        """The ``error``-severity checks that failed."""
        return [c for c in self.checks if c.passed is False and c.severity == "error"]

    @property
    def not_enforced(self) -> list[CheckResult]:
        """The rules meshkit does not run (``passed`` is ``None``); the message says why."""
        return [c for c in self.checks if c.passed is None]

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``.

        Raises
        ------
        KeyError
            When no check has that name.
        """
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r}; checks: {[c.name for c in self.checks]}")

    def to_frame(self) -> pl.DataFrame:
        """One row per check (without samples)."""
        rows = [{k: c.to_dict()[k] for k in _FRAME_SCHEMA} for c in self.checks]
        return pl.DataFrame(rows, schema=_FRAME_SCHEMA, orient="row")

    def to_dict(self) -> dict:
        """JSON-ready summary and checks (with their masked samples)."""
        return {"contract_id": self.contract_id, "contract_version": self.contract_version,
                "rows": self.rows, "passed": self.passed,
                "failed": [c.name for c in self.failed],
                "not_enforced": [c.name for c in self.not_enforced],
                "checks": [c.to_dict() for c in self.checks]}

    def raise_if_failed(self, where: str | None = None) -> QualityReport:
        """Raise :class:`~meshkit._errors.QualityError` (carrying this report) if any
        error-severity check failed; otherwise return the report.

        Examples
        --------
        >>> QualityReport("t", "1", rows=0, checks=[CheckResult("t.not_empty", None,
        ...     "not_empty", False, None, 0, 0, "rows > 0")]).raise_if_failed(where="t")
        Traceback (most recent call last):
        ...
        meshkit._errors.QualityError: t: product failed 1 check(s): t.not_empty (expected every error-severity check of contract t v1 to pass; found t.not_empty: rows > 0, observed 0)
        """
        failed = self.failed
        if failed:
            found = "; ".join(f"{c.name}: {c.expected}, observed {fmt(c.observed)}"
                              + (f" ({c.message})" if c.message else "") for c in failed)
            raise QualityError(
                f"product failed {len(failed)} check(s): {', '.join(c.name for c in failed)}",
                report=self, where=where or f"contract {self.contract_id}",
                expected=f"every error-severity check of contract {self.contract_id} "
                         f"v{self.contract_version} to pass",
                found=found)
        return self

    # ---- display ---------------------------------------------------------------------
    def _render(self) -> list:
        verdict = Badge("PASSED" if self.passed else "FAILED", self.passed)
        not_enforced = f"{len(self.not_enforced)} not enforced, " if self.not_enforced else ""
        out = [Heading(f"QualityReport {self.contract_id} v{self.contract_version}: ", verdict,
                       f" ({len(self.checks)} checks, {len(self.failed)} failed, "
                       f"{not_enforced}{self.rows} rows)"),
               Table(["", "check", "column", "failing", "total", "observed", "expected",
                      "details"],
                     [(_mark(c), c.name, c.column, "-" if c.failing is None else c.failing,
                       c.total, c.observed, c.expected, c.message) for c in self.checks],
                     max_rows=len(self.checks),
                     row_ok=[None if c.passed is None
                             else c.passed or (None if c.severity != "error" else False)
                             for c in self.checks])]
        for check in self.checks:
            if check.passed is False and check.samples is not None and check.samples.height:
                out += [Paragraph("failing rows of ", Code(check.name), ":"),
                        Table.from_frame(check.samples, max_rows=10)]
        return out

    def __repr__(self) -> str:
        return (f"QualityReport(contract_id={self.contract_id!r}, passed={self.passed}, "
                f"checks={len(self.checks)}, failed={len(self.failed)}, rows={self.rows})")


def _mark(check: CheckResult) -> str:
    if check.passed is None:
        return "n/e"
    if check.passed:
        return "ok"
    return "FAIL" if check.severity == "error" else check.severity.upper()[:4]
