"""Figures for consistency: the pairwise heatmap, the threshold sweep, layer scores.

One function per figure; each returns a matplotlib ``Figure`` (static, deterministic).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from meshkit._palette import MUTED, series

__all__ = ["similarity_heatmap", "threshold_sweep", "layer_scores"]


def similarity_heatmap(matrix, *, title: str = "Similarity across products") -> Figure:
    """Heatmap of a :class:`~meshkit._consistency.matrix.SimilarityMatrix` (rows: reference).

    Examples
    --------
    >>> import polars as pl
    >>> from meshkit._consistency import similarity_matrix
    >>> a = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> fig = similarity_heatmap(similarity_matrix({"a": a, "b": a.head(2)}, "id"))
    >>> len(fig.axes)
    2
    """
    names, scores = list(matrix.names), np.asarray(matrix.scores)
    size = 1.2 + 0.9 * len(names)
    fig = Figure(figsize=(size + 1.5, size))
    ax = fig.add_subplot()
    image = ax.imshow(scores, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{scores[i, j]:.2f}", ha="center", va="center",
                    color="black" if scores[i, j] > 0.6 else "white", fontsize=9)
    ax.set_xlabel("compared product")
    ax.set_ylabel("reference product")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="similarity")
    fig.tight_layout()
    return fig


def threshold_sweep(reports: dict, *, thresholds=None, title: str = "Verdict against θ",
                    theta: float | None = None) -> Figure:
    """Score of each report against θ: consistent where the score is above the line.

    Parameters
    ----------
    reports : dict
        Label -> :class:`~meshkit._consistency.SimilarityReport` (or ``ConsistencyReport``).
    theta : float, optional
        Marks this θ (the one chosen) with a vertical line.

    Examples
    --------
    >>> import polars as pl, meshkit as mk
    >>> d = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> fig = threshold_sweep({"same": mk.similarity(d, d, keys="id")}, theta=0.8)
    >>> [line.get_label() for line in fig.axes[0].lines][-1]
    'chosen θ = 0.8'
    """
    ts = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, float)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(ts, ts, color=MUTED, lw=1, ls="--", label="θ")
    for k, (label, rep) in enumerate(reports.items()):
        score = rep.score
        ax.axhline(score, color=series(k), lw=2, label=f"{label}: {score:.3f}")
        ax.fill_between(ts, 0, 1, where=ts < score, color=series(k), alpha=0.08)
        ax.axvline(score, color=series(k), lw=0.8, ls=":")
    if theta is not None:
        ax.axvline(theta, color="black", lw=1.2, label=f"chosen θ = {theta:g}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("threshold θ (consistent while score > θ)")
    ax.set_ylabel("similarity score")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def layer_scores(reports: dict, *, title: str = "Score by layer") -> Figure:
    """Grouped bars: each layer's score for each report (label -> SimilarityReport)."""
    reports = {k: getattr(r, "similarity", r) for k, r in reports.items()}
    layers = list(dict.fromkeys(n for r in reports.values() for n in r.layers))
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(reports))
    x = np.arange(len(layers))
    for k, (label, rep) in enumerate(reports.items()):
        vals = [rep.layers[n].score if n in rep.layers else np.nan for n in layers]
        ax.bar(x + k * width - 0.4 + width / 2, vals, width, label=f"{label} ({rep.score:.3f})",
               color=series(k))
    ax.set_xticks(x, layers)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
