"""One display layer: render once, hand out ``text/plain`` and ``text/html``.

Every object meshkit shows (reports, decisions, the mesh, the store) describes itself once, as
a short list of blocks built from the helpers below, in ``_render()``; the
:class:`Displayable` mixin turns that one render into the text a terminal prints (``str``) and
the HTML a notebook shows, both handed out together by ``_repr_mimebundle_`` (the pattern of
rich's Jupyter support). Text and HTML therefore never tell different stories.

The building blocks: :class:`Heading` and :class:`Paragraph` (inline parts: text,
:class:`Badge`, :class:`Code`), :class:`Facts` (key/value pairs), :class:`Table` (from a
polars frame or rows), :class:`Bullets` and :class:`Details` (a collapsible section).

The HTML is self-contained and deterministic: inline styles only (colours from
:mod:`meshkit._palette`), no scripts, no network assets, no element ids; tables scroll
horizontally in their own container; frames are shown without dtype rows and strings without
quotes. Numbers go through :func:`fmt` (:data:`DIGITS` significant digits), so a rerun gives
byte-identical output.

Examples
--------
>>> class Greeting(Displayable):
...     def _render(self):
...         return [Heading("hello ", Badge("OK", True)), Facts({"score": 2 / 3})]
>>> print(Greeting())
hello OK
  score: 0.6667
>>> bundle = Greeting()._repr_mimebundle_()
>>> sorted(bundle), bundle["text/plain"] == str(Greeting())
(['text/html', 'text/plain'], True)
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from meshkit._palette import MUTED, RULE, SURFACE, WARN, verdict_color

__all__ = ["DIGITS", "fmt", "Displayable", "Rendered", "render", "table", "Badge", "Code",
           "Heading", "Paragraph", "Facts", "Table", "Bullets", "Details"]

#: significant digits of every float meshkit displays
DIGITS = 4


# --------------------------------------------------------------------------- numbers
def _fmt_float(x: float, digits: int) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if exponent < -4 or exponent >= 15:
        return f"{x:.{digits - 1}e}"
    decimals = max(digits - 1 - exponent, 0)
    text = f"{round(x, decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt(value: Any, digits: int = DIGITS) -> str:
    """The text of one displayed value: floats to ``digits`` significant digits.

    Integers and the integer part of a float are shown whole (``145834.7`` reads ``145835``);
    very small or very large floats use scientific notation; ``None`` reads ``-``; dates and
    times read in ISO 8601 (a space before the time); lists are joined with commas; strings are
    shown without quotes.

    Examples
    --------
    >>> [fmt(v) for v in (0.983333, 1.0, 2 / 3 * 1e-6, 12.5, None, float("nan"), [1, 0.25])]
    ['0.9833', '1', '6.667e-07', '12.5', '-', 'nan', '1, 0.25']
    >>> fmt(_dt.datetime(2026, 5, 31, 12, 30))
    '2026-05-31 12:30:00'
    """
    if value is None:
        return "-"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) \
            and getattr(value, "ndim", 0) == 0 and hasattr(value, "dtype"):
        value = value.item()  # a numpy scalar
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _fmt_float(value, digits)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return str(value)  # ISO 8601 with a space between date and time, as polars shows it
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(fmt(v, digits) for v in items)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v, digits)}" for k, v in value.items())
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_esc = _html.escape


# --------------------------------------------------------------------------- inline parts
@dataclass(frozen=True)
class Badge:
    """A verdict word: ``ok`` True (passed), False (failed) or None (neutral)."""

    label: str
    ok: bool | None = None

    def text(self) -> str:
        return self.label

    def html(self) -> str:
        return (f"<span style='color:#fff;background:{verdict_color(self.ok)};padding:0 6px;"
                f"border-radius:3px;font-weight:600'>{_esc(self.label)}</span>")


@dataclass(frozen=True)
class Code:
    """A name or an expression, shown in monospace."""

    value: str

    def text(self) -> str:
        return self.value

    def html(self) -> str:
        return f"<code>{_esc(self.value)}</code>"


def _inline_text(parts) -> str:
    return "".join(p if isinstance(p, str) else p.text() for p in parts)


def _inline_html(parts) -> str:
    return "".join(_esc(p) if isinstance(p, str) else p.html() for p in parts)


# --------------------------------------------------------------------------- blocks
class Heading:
    """A title line made of inline parts (text, :class:`Badge`, :class:`Code`)."""

    def __init__(self, *parts, level: int = 3) -> None:
        self.parts, self.level = parts, level

    def text(self) -> str:
        return _inline_text(self.parts)

    def html(self) -> str:
        size = {2: "125%", 3: "110%"}.get(self.level, "100%")
        return (f"<div style='font-weight:600;font-size:{size};margin:6px 0 4px'>"
                f"{_inline_html(self.parts)}</div>")


class Paragraph:
    """A line of inline parts; ``muted`` for secondary remarks."""

    def __init__(self, *parts, muted: bool = False) -> None:
        self.parts, self.muted = parts, muted

    def text(self) -> str:
        return _inline_text(self.parts)

    def html(self) -> str:
        style = f" style='color:{MUTED}'" if self.muted else ""
        return f"<p{style}>{_inline_html(self.parts)}</p>"


_TABLE = "border-collapse:collapse;font-size:90%;margin:2px 0"
_TH = f"text-align:left;padding:2px 8px;border-bottom:1px solid {RULE};background:{SURFACE}"
_TD = "padding:2px 8px;text-align:left;vertical-align:top"
_TD_NUMBER = "padding:2px 8px;text-align:right;vertical-align:top;white-space:nowrap"
_SCROLL = "overflow-x:auto;max-width:100%"


def _scroll(inner: str) -> str:
    return f"<div style='{_SCROLL}'>{inner}</div>"


class Facts:
    """Key/value pairs (a dict or pairs), shown as aligned ``key: value`` lines."""

    def __init__(self, pairs) -> None:
        self.pairs = list(pairs.items() if isinstance(pairs, dict) else pairs)

    def text(self) -> str:
        width = max((len(str(k)) for k, _ in self.pairs), default=0)
        return "\n".join(f"  {str(k) + ':':<{width + 1}} {fmt(v)}".rstrip()
                         for k, v in self.pairs)

    def html(self) -> str:
        rows = "".join(f"<tr><th style='{_TH};background:none;border:none'>{_esc(str(k))}</th>"
                       f"<td style='{_TD_NUMBER if _is_number(v) else _TD}'>{_esc(fmt(v))}</td>"
                       "</tr>" for k, v in self.pairs)
        return _scroll(f"<table style='{_TABLE}'><tbody>{rows}</tbody></table>")


class Table:
    """A table from column names and rows (tuples or dicts), or from a polars frame.

    Parameters
    ----------
    columns : sequence of str
    rows : iterable of sequence or dict
    max_rows : int
        Rows shown; a last line says how many more there are.
    row_ok : sequence of bool or None, optional
        Per row: False shows it in the failure colour, None in the warning colour.
    header : bool
        Whether to show the column names.
    """

    def __init__(self, columns: Sequence[str], rows: Iterable, *, max_rows: int = 20,
                 row_ok: Sequence[bool | None] | None = None, header: bool = True) -> None:
        self.columns = [str(c) for c in columns]
        rows = [tuple(r[c] for c in columns) if isinstance(r, dict) else tuple(r) for r in rows]
        self.total = len(rows)
        self.rows = rows[:max_rows]
        self.row_ok = list(row_ok)[:max_rows] if row_ok is not None else None
        self.header = header

    @classmethod
    def from_frame(cls, frame, *, max_rows: int = 20, **kwargs) -> Table:
        """A polars DataFrame (no dtype row, strings unquoted); only ``max_rows`` are read."""
        rows = list(frame.head(max_rows).iter_rows())
        table = cls(frame.columns, rows, max_rows=max_rows, **kwargs)
        table.total = frame.height
        return table

    def _more(self) -> str:
        more = self.total - len(self.rows)
        return f"… {more} more row{'s' if more != 1 else ''}" if more > 0 else ""

    def text(self) -> str:
        cells = [[fmt(v) for v in row] for row in self.rows]
        lines = ([self.columns] if self.header else []) + cells
        widths = [max((len(line[i]) for line in lines), default=0)
                  for i in range(len(self.columns))]
        out = ["  " + "  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
               for line in lines]
        if self._more():
            out.append("  " + self._more())
        return "\n".join(out)

    def html(self) -> str:
        head = ("<thead><tr>" + "".join(f"<th style='{_TH}'>{_esc(c)}</th>"
                                        for c in self.columns) + "</tr></thead>"
                if self.header else "")
        body = []
        for i, row in enumerate(self.rows):
            ok = self.row_ok[i] if self.row_ok is not None else True
            style = "" if ok else f" style='color:{WARN if ok is None else verdict_color(False)}'"
            body.append(f"<tr{style}>" + "".join(
                f"<td style='{_TD_NUMBER if _is_number(v) else _TD}'>{_esc(fmt(v))}</td>"
                for v in row) + "</tr>")
        more = f"<p style='color:{MUTED}'>{_esc(self._more())}</p>" if self._more() else ""
        return _scroll(f"<table style='{_TABLE}'>{head}<tbody>{''.join(body)}</tbody>"
                       f"</table>") + more


def table(data, *, columns: Sequence[str] | None = None, max_rows: int = 20,
          title: str | None = None) -> Rendered:
    """Show a polars frame (or rows with ``columns``) through meshkit's renderer.

    Unlike a frame's own display, the table has no dtype row, strings are not quoted,
    numbers are rounded to :data:`DIGITS` significant digits, and a wide table scrolls in
    its own container instead of being cut off.

    Examples
    --------
    >>> import polars as pl
    >>> print(table(pl.DataFrame({"name": ["a", "b"], "score": [1 / 3, 1.0]})))
      name  score
      a     0.3333
      b     1
    """
    block = (Table(columns, data, max_rows=max_rows) if columns is not None
             else Table.from_frame(data, max_rows=max_rows))
    return render(([Heading(title)] if title else []) + [block])


class Bullets:
    """A list of findings; each item is a string or a tuple of inline parts."""

    def __init__(self, items: Iterable) -> None:
        self.items = [item if isinstance(item, tuple) else (str(item),) for item in items]

    def text(self) -> str:
        return "\n".join(f"  - {_inline_text(item)}" for item in self.items)

    def html(self) -> str:
        if not self.items:
            return ""
        return ("<ul style='margin:2px 0'>" + "".join(f"<li>{_inline_html(item)}</li>"
                                                      for item in self.items) + "</ul>")


class Details:
    """A collapsible section: a summary line over blocks (indented in text)."""

    def __init__(self, summary, blocks: Sequence, *, open: bool = False) -> None:
        self.summary = summary if isinstance(summary, tuple) else (summary,)
        self.blocks, self.open = list(blocks), open

    def text(self) -> str:
        inner = "\n".join(b.text() for b in self.blocks if b.text())
        return _inline_text(self.summary) + ("\n" + _indent(inner) if inner else "")

    def html(self) -> str:
        return (f"<details{' open' if self.open else ''} style='margin:2px 0'>"
                f"<summary>{_inline_html(self.summary)}</summary>"
                f"<div style='margin-left:1em'>{''.join(b.html() for b in self.blocks)}</div>"
                "</details>")


def _indent(text: str) -> str:
    return "\n".join(("  " + line) if line else line for line in text.split("\n"))


# --------------------------------------------------------------------------- one render
@dataclass(frozen=True)
class Rendered:
    """The text and the HTML of one render; displays itself in a notebook."""

    text: str
    html: str = field(repr=False)

    def __str__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs) -> dict[str, str]:
        data = {"text/plain": self.text, "text/html": self.html}
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
        return data


def render(blocks: Sequence) -> Rendered:
    """Turn blocks into their text and their HTML (one ``<div>``)."""
    text = "\n".join(t for t in (b.text() for b in blocks) if t)
    page = "".join(b.html() for b in blocks)
    return Rendered(text, f"<div class='meshkit' style='max-width:100%'>{page}</div>")


class Displayable:
    """Mixin: implement ``_render()`` (a list of blocks) and get ``str``, ``_repr_html_``
    and ``_repr_mimebundle_`` from that one render.

    ``__repr__`` is left to the class (a short, constructor-like form where it has one).
    """

    __slots__ = ()

    def _render(self) -> list:
        raise NotImplementedError

    def _rendered(self) -> Rendered:
        return render(self._render())

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs) -> dict[str, str]:
        return self._rendered()._repr_mimebundle_(include, exclude)

    def _repr_html_(self) -> str:
        return self._rendered().html

    def __str__(self) -> str:
        return self._rendered().text
