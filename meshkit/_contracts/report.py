"""The result of checking a product against its contract.

A :class:`QualityReport` holds one :class:`CheckResult` per check. It explains itself in a
terminal (``str``), in a notebook (``_repr_html_``), as a polars frame (:meth:`to_frame`)
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
  ok    orders.not_empty  0 failing / 3  rows > 0
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import polars as pl

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
class QualityReport:
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
            found = "; ".join(f"{c.name}: {c.expected}, observed {_fmt(c.observed)}"
                              + (f" ({c.message})" if c.message else "") for c in failed)
            raise QualityError(
                f"product failed {len(failed)} check(s): {', '.join(c.name for c in failed)}",
                report=self, where=where or f"contract {self.contract_id}",
                expected=f"every error-severity check of contract {self.contract_id} "
                         f"v{self.contract_version} to pass",
                found=found)
        return self

    # ---- display ---------------------------------------------------------------------
    def _status(self) -> str:
        return (f"QualityReport {self.contract_id} v{self.contract_version}: "
                f"{'PASSED' if self.passed else 'FAILED'} ({len(self.checks)} checks, "
                f"{len(self.failed)} failed, "
                + (f"{len(self.not_enforced)} not enforced, " if self.not_enforced else "")
                + f"{self.rows} rows)")

    def __str__(self) -> str:
        marks = [_mark(c) for c in self.checks]
        width = max((len(c.name) for c in self.checks), default=0)
        counts = [f"{'-' if c.failing is None else c.failing} failing / {c.total}"
                  for c in self.checks]
        cwidth = max((len(t) for t in counts), default=0)
        lines = [self._status()]
        for mark, check, count in zip(marks, self.checks, counts):
            detail = check.expected + (f"; {check.message}" if check.message else "")
            lines.append(f"  {mark:<5} {check.name:<{width}}  {count:<{cwidth}}  {detail}")
        for check in self.checks:
            if check.passed is False and check.samples is not None and check.samples.height:
                lines.append(f"failing rows of {check.name}:")
                with pl.Config(tbl_rows=10, tbl_cols=12, tbl_hide_dataframe_shape=True):
                    lines.append(str(check.samples))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"QualityReport(contract_id={self.contract_id!r}, passed={self.passed}, "
                f"checks={len(self.checks)}, failed={len(self.failed)}, rows={self.rows})")

    def _repr_html_(self) -> str:
        head = ("<tr><th></th><th>check</th><th>column</th><th>failing</th><th>total</th>"
                "<th>observed</th><th>expected</th><th>details</th></tr>")
        body = []
        for c in self.checks:
            cells = [_mark(c), c.name, c.column or "", "-" if c.failing is None else c.failing,
                     c.total, _fmt(c.observed), c.expected, c.message]
            style = "" if c.passed is not False else ' style="color:#b00020"'
            body.append(f"<tr{style}>" + "".join(f"<td>{html.escape(str(v))}</td>"
                                                 for v in cells) + "</tr>")
        parts = [f"<div><strong>{html.escape(self._status())}</strong>",
                 f"<table>{head}{''.join(body)}</table>"]
        for c in self.checks:
            if c.passed is False and c.samples is not None and c.samples.height:
                parts.append(f"<p>failing rows of <code>{html.escape(c.name)}</code></p>")
                parts.append(c.samples._repr_html_())
        parts.append("</div>")
        return "".join(parts)


def _mark(check: CheckResult) -> str:
    if check.passed is None:
        return "n/e"
    if check.passed:
        return "ok"
    return "FAIL" if check.severity == "error" else check.severity.upper()[:4]


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
