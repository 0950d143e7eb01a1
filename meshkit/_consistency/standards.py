"""Data standards: a product's contract is its standard.

:func:`conformance` runs each side's contract on its data; :func:`disagreements` lists the
corresponding columns on which two contracts claiming the same entity disagree (logical
type, allowed values from an ``invalidValues`` rule's ``validValues``).
"""

from __future__ import annotations

import polars as pl

__all__ = ["conformance", "disagreements", "valid_values"]

_CONF_SCHEMA = {"side": pl.Utf8, "contract": pl.Utf8, "passed": pl.Boolean,
                "checks": pl.Int64, "failed": pl.Int64, "failed_checks": pl.Utf8}
_STD_SCHEMA = {"left": pl.Utf8, "right": pl.Utf8, "aspect": pl.Utf8,
               "left_standard": pl.Utf8, "right_standard": pl.Utf8}


def _check_passed(check) -> bool:
    for attr in ("passed", "ok", "success"):
        if hasattr(check, attr):
            return bool(getattr(check, attr))
    return True


def _check_name(check) -> str:
    for attr in ("name", "label", "check", "rule"):
        value = getattr(check, attr, None)
        if value:
            return str(value)
    return str(check)


def conformance(sides: list[tuple[str, pl.DataFrame, object]]) -> pl.DataFrame:
    """Validate each ``(side name, frame, contract)``; contracts that are ``None`` are skipped.

    Returns one row per side: contract name, passed, number of checks and failed checks.
    """
    from meshkit._contracts import validate

    rows = []
    for side, frame, contract in sides:
        if contract is None:
            continue
        report = validate(frame, contract)
        checks = list(getattr(report, "checks", []))
        failed = [c for c in checks if not _check_passed(c)]
        rows.append({"side": side, "contract": getattr(contract, "name", str(contract)),
                     "passed": bool(report.passed), "checks": len(checks),
                     "failed": len(failed),
                     "failed_checks": "; ".join(_check_name(c) for c in failed)})
    return pl.DataFrame(rows, schema=_CONF_SCHEMA)


def valid_values(contract, column: str) -> tuple | None:
    """The allowed values a contract states for ``column`` (sorted), or ``None``."""
    try:
        prop = contract.property(column)
    except Exception:  # noqa: BLE001 - a column the contract does not describe
        return None
    for rule in getattr(prop, "quality", ()):
        if getattr(rule, "metric", None) == "invalidValues":
            vals = (getattr(rule, "arguments", {}) or {}).get("validValues")
            if vals is not None:
                return tuple(sorted(map(str, vals)))
    return None


def _logical_type(contract, column: str) -> str | None:
    try:
        return contract.property(column).logical_type
    except Exception:  # noqa: BLE001 - a column the contract does not describe
        return None


def disagreements(left_contract, right_contract, pairs) -> pl.DataFrame:
    """Columns on which two contracts disagree: ``logicalType`` or ``validValues``.

    ``pairs`` are the corresponding columns (:class:`~meshkit._consistency.layers.ColumnPair`).
    """
    rows = []
    if left_contract is None or right_contract is None:
        return pl.DataFrame(rows, schema=_STD_SCHEMA)
    for p in pairs:
        lt, rt = _logical_type(left_contract, p.left), _logical_type(right_contract, p.right)
        if lt is not None and rt is not None and lt != rt:
            rows.append({"left": p.left, "right": p.right, "aspect": "logicalType",
                         "left_standard": lt, "right_standard": rt})
        lv, rv = valid_values(left_contract, p.left), valid_values(right_contract, p.right)
        if lv is not None and rv is not None and lv != rv:
            rows.append({"left": p.left, "right": p.right, "aspect": "validValues",
                         "left_standard": ", ".join(lv), "right_standard": ", ".join(rv)})
    return pl.DataFrame(rows, schema=_STD_SCHEMA)
