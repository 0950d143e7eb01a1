"""Figures for federated learning: one function per figure, each returns the ``Figure``.

* :func:`cross_domain_heatmap` -- each domain's local model on every domain's test data;
* :func:`convergence_curves` -- a metric per round for federated runs against references;
* :func:`strategy_bars` -- one metric per strategy;
* :func:`recommender_bars` -- HR@10 / NDCG@10 of local, federated and centralized models.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from meshkit._palette import series

__all__ = ["cross_domain_heatmap", "convergence_curves", "strategy_bars", "recommender_bars"]


def cross_domain_heatmap(names, matrix, *, metric: str = "accuracy", title: str | None = None) -> Figure:
    """Heatmap of ``matrix[i, j]``: the model trained on domain ``i`` tested on domain ``j``.

    Examples
    --------
    >>> fig = cross_domain_heatmap(["a", "b"], np.array([[0.9, 0.6], [0.7, 0.8]]))
    >>> fig.axes[0].get_xlabel()
    'tested on'
    """
    matrix = np.asarray(matrix, dtype=float)
    fig = Figure(figsize=(1.3 * len(names) + 2.5, 1.1 * len(names) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(matrix, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("tested on")
    ax.set_ylabel("trained on")
    mid = np.nanmean(matrix)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{matrix[i, j]:.3f}", ha="center", va="center",
                    color="black" if matrix[i, j] > mid else "white", fontsize=9)
    fig.colorbar(im, ax=ax, label=metric)
    ax.set_title(title or f"Local-only models: {metric} on each domain's test data")
    return fig


def convergence_curves(curves: dict, *, metric: str = "accuracy", references: dict | None = None,
                       xlabel: str = "round", title: str | None = None) -> Figure:
    """Lines of ``metric`` per round, one per entry of ``curves``; ``references`` as
    horizontal dashed lines (e.g. the final centralized and mean local-only scores).

    Examples
    --------
    >>> fig = convergence_curves({"FedAvg": [0.6, 0.7, 0.75]}, references={"centralized": 0.76})
    >>> len(fig.axes[0].lines)
    2
    """
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    for k, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=label,
                color=series(k))
    styles = ["--", ":", "-."]
    for k, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, linestyle=styles[k % 3], color=series(len(curves) + k), label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or f"{metric} per round")
    return fig


def strategy_bars(rows, *, metric: str = "accuracy", label: str = "strategy", title: str | None = None) -> Figure:
    """Horizontal bars of ``metric`` for each row (dicts with ``label`` and ``metric``).

    Examples
    --------
    >>> fig = strategy_bars([{"strategy": "FedAvg", "accuracy": 0.8}, {"strategy": "Krum", "accuracy": 0.7}])
    >>> len(fig.axes[0].patches)
    2
    """
    names = [str(r[label]) for r in rows]
    values = np.array([r[metric] for r in rows], dtype=float)
    fig = Figure(figsize=(7, 0.45 * len(rows) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(names, values, color=[series(k) for k in range(len(rows))])
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.4f}", va="center", fontsize=8)
    hi = np.nanmax(values)
    ax.set_xlim(0.0, 1.15 * hi + 0.005)  # from 0: bar lengths compare as the values do
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.set_title(title or f"Final {metric} by {label}")
    return fig


def recommender_bars(rows, *, metrics=("hr@10", "ndcg@10"), title: str | None = None) -> Figure:
    """Grouped bars per domain and setting (rows with ``setting``, ``domain`` and metrics).

    Examples
    --------
    >>> rows = [{"setting": s, "domain": "orders", "hr@10": 0.5, "ndcg@10": 0.3}
    ...         for s in ("local", "federated", "centralized")]
    >>> len(recommender_bars(rows).axes)
    2
    """
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    table = {(r["setting"], r["domain"]): r for r in rows}
    fig = Figure(figsize=(4.2 * len(metrics), 3.8), layout="constrained")
    width = 0.8 / len(settings)
    for m, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), m + 1)
        for k, setting in enumerate(settings):
            vals = [table[(setting, d)][metric] for d in domains]
            ax.bar(np.arange(len(domains)) + (k - (len(settings) - 1) / 2) * width, vals, width,
                   label=setting, color=series(k))
        ax.set_xticks(range(len(domains)), domains)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
        if m == 0:
            ax.legend(fontsize=8)
    fig.suptitle(title or "Recommender: each domain's held-out interactions")
    return fig
