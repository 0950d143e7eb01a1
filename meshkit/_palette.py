"""The one palette of meshkit: the HTML renderer (:mod:`meshkit._display`) and every figure of
:mod:`meshkit.viz` take their colours from here, so a verdict reads the same in a table and in
a chart.

Colours are hex strings (matplotlib and CSS both accept them). ``SERIES`` is the cycle for
categorical series (matplotlib's default ``tab10`` cycle, written out so figures do not depend
on a user's rcParams).

Examples
--------
>>> from meshkit._palette import GOOD, BAD, series
>>> GOOD, series(11) == series(1)
('#1a7f37', True)
"""

from __future__ import annotations

__all__ = ["GOOD", "GOOD_LIGHT", "BAD", "BAD_LIGHT", "WARN", "MUTED", "RULE", "SURFACE",
           "DOMAIN_FILL", "PII_FILL", "EDGE", "ARROW", "SERIES", "series", "verdict_color"]

#: a verdict that passed (consistent, allowed, refused attack, intact log)
GOOD = "#1a7f37"
#: the lighter companion of GOOD, for a second bar of the same meaning
GOOD_LIGHT = "#81c784"
#: a verdict that failed (inconsistent, denied, attack not refused, tampered log)
BAD = "#cf222e"
#: the lighter companion of BAD
BAD_LIGHT = "#ef9a9a"
#: warnings (warning-severity checks, estimates)
WARN = "#9a6700"
#: secondary text: notes, captions, "not reached"
MUTED = "#57606a"
#: table rules and borders
RULE = "#d0d7de"
#: header and summary backgrounds
SURFACE = "#f6f8fa"
#: mesh figure: a domain's products, products holding PII, outlines, arrows
DOMAIN_FILL = "#e8f0fe"
PII_FILL = "#fde8e8"
EDGE = "#3b5998"
ARROW = "#555555"

#: categorical series (matplotlib's tab10)
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def series(k: int) -> str:
    """The colour of the ``k``-th categorical series (cycling)."""
    return SERIES[k % len(SERIES)]


def verdict_color(ok: bool | None) -> str:
    """GOOD for True, BAD for False, MUTED for None (not decided / not reached)."""
    return MUTED if ok is None else GOOD if ok else BAD
