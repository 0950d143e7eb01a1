"""One time normaliser: every time meshkit accepts becomes one aware UTC datetime.

A store's ``as_of``, a token's ``now``, a grant's ``expires`` and the audit log's times all
go through :func:`to_utc`, so ``"2026-01-31T12:00:00Z"``, ``datetime(2026, 1, 31, 12)``,
``date(2026, 1, 31)`` and ``1769860800`` mean the same instant wherever they are given:

- an aware datetime is converted to UTC;
- a naive datetime is taken as UTC (never as the machine's local time);
- a date is its midnight, UTC;
- an ISO 8601 string is parsed (``Z`` or an offset; without one, UTC);
- a finite int or float is seconds since the Unix epoch (``bool`` is refused).

Anything else is the caller's :class:`~meshkit._errors.MeshkitError` subclass, saying what was
expected and what was found.

Examples
--------
>>> to_utc("2026-01-31T13:00:00+01:00")
datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.timezone.utc)
>>> to_utc(1769860800) == to_utc("2026-01-31T12:00:00Z")
True
>>> epoch_seconds("1970-01-01T00:01:40Z"), epoch_ms("1970-01-01T00:00:00.25Z")
(100, 250)
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

from meshkit._errors import MeshkitError

__all__ = ["to_utc", "epoch_seconds", "epoch_ms", "TIME_HELP", "EPOCH"]

#: The Unix epoch, aware.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: What :func:`to_utc` accepts, for error messages.
TIME_HELP = ("a datetime, a date, an ISO 8601 string such as 2026-01-31T12:00:00Z, "
             "or epoch seconds")


def to_utc(value: datetime | date | str | float, *, error: type[MeshkitError] = MeshkitError,
           where: str | None = None) -> datetime:
    """``value`` as an aware UTC datetime (see the module docstring for what is accepted).

    Parameters
    ----------
    value : datetime, date, str, int or float
        The time.
    error : type of MeshkitError, default MeshkitError
        The class raised for a value that is not a time (``StoreError``, ``PolicyError``...).
    where : str, optional
        Where the value came from, for the error (a product, a field path).
    """
    if isinstance(value, datetime):
        return (value.replace(tzinfo=timezone.utc) if value.tzinfo is None
                else value.astimezone(timezone.utc))
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise error("cannot read this time", where=where, expected=TIME_HELP,
                        found=repr(value)) from None
        return to_utc(parsed)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise error("not a time", where=where, expected=TIME_HELP, found=repr(value))
        try:
            return EPOCH + timedelta(seconds=value)
        except OverflowError:
            raise error("time out of range", where=where, expected=TIME_HELP,
                        found=repr(value)) from None
    raise error("not a time", where=where, expected=TIME_HELP, found=type(value).__name__)


def epoch_seconds(value, **kwargs) -> int:
    """Whole seconds since the epoch (rounded down) for anything :func:`to_utc` accepts."""
    return (to_utc(value, **kwargs) - EPOCH) // timedelta(seconds=1)


def epoch_ms(value, **kwargs) -> int:
    """Whole milliseconds since the epoch (rounded down, exact: no float rounding)."""
    return (to_utc(value, **kwargs) - EPOCH) // timedelta(milliseconds=1)

