"""Figures for the security model: the per-domain posture, and the attack outcomes.

Examples
--------
>>> from meshkit._security.posture import PostureReport
>>> report = PostureReport([{"domain": "crm", "products": 2, "products_encrypted": 1,
...     "pii_columns": 3, "pii_protected": 3, "broad_grants": 1, "keys_past_rotation": 0}], 0)
>>> fig = plot_posture(report)
>>> [ax.get_title() for ax in fig.axes]
['coverage', 'risks']
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from meshkit._palette import BAD, BAD_LIGHT, GOOD, GOOD_LIGHT

__all__ = ["plot_posture", "plot_attacks"]


def plot_posture(report, *, title: str = "Security posture per domain") -> Figure:
    """Two panels per domain: coverage (share of products encrypted, of PII columns
    protected) and risks (grants broader than needed, keys past rotation age)."""
    rows = report.rows
    domains = [r["domain"] for r in rows]
    y = np.arange(len(domains))
    h = 0.38
    fig = Figure(figsize=(9, 0.6 * len(domains) + 2.4))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)

    def share(a, b):
        return np.array([r[a] / r[b] if r[b] else np.nan for r in rows])

    ax1.barh(y - h / 2, share("products_encrypted", "products"), h, color=GOOD,
             label="products encrypted")
    pii = share("pii_protected", "pii_columns")
    ax1.barh(y + h / 2, np.nan_to_num(pii), h, color=GOOD_LIGHT, label="PII columns protected")
    for i in np.flatnonzero(np.isnan(pii)):
        ax1.text(0.01, y[i] + h / 2, "no PII columns", va="center", fontsize=7, color="#555555")
    ax1.set_xlim(0, 1.05)
    ax1.set_xlabel("share")
    ax1.set_title("coverage")
    ax1.set_yticks(y, domains)
    ax1.invert_yaxis()
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8, frameon=False)
    broad = np.array([r["broad_grants"] for r in rows])
    stale = np.array([r["keys_past_rotation"] for r in rows])
    ax2.barh(y - h / 2, broad, h, color=BAD, label="grants broader than needed")
    ax2.barh(y + h / 2, stale, h, color=BAD_LIGHT, label="keys past rotation age")
    ax2.set_xlim(0, max(1, int(max(broad.max(initial=0), stale.max(initial=0)))) + 0.5)
    ax2.set_xlabel("count")
    ax2.set_title("risks")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attacks(outcomes: list[dict], *, title: str = "Attacks against the mesh") -> Figure:
    """One row per attack: refused (green) or let through (red), labelled with the layer
    that refused it. ``outcomes``: dicts with ``attack``, ``refused`` (bool), ``layer``."""
    fig = Figure(figsize=(8, 0.35 * len(outcomes) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(outcomes))
    colors = [GOOD if o["refused"] else BAD for o in outcomes]
    ax.barh(y, [1] * len(outcomes), color=colors)
    for i, o in enumerate(outcomes):
        ax.text(0.02, i, f"{'refused' if o['refused'] else 'ALLOWED'} by {o.get('layer', '?')}",
                va="center", color="white", fontsize=8)
    ax.set_yticks(y, [o["attack"] for o in outcomes])
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_title(title)
    fig.tight_layout()
    return fig
