"""Federation figures: each returns a Figure showing the numbers it was given."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from meshkit.viz.federation import convergence_curves, cross_domain_heatmap, recommender_bars, strategy_bars


def test_heatmap_shows_every_cell():
    M = np.array([[0.91, 0.62], [0.73, 0.84]])
    fig = cross_domain_heatmap(["a", "b"], M, metric="accuracy")
    assert isinstance(fig, Figure)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0.620", "0.730", "0.840", "0.910"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]


def test_convergence_curves_plot_values_and_references():
    fig = convergence_curves({"FedAvg": [0.5, 0.6, 0.7]}, metric="accuracy", references={"centralized": 0.8})
    lines = fig.axes[0].lines
    np.testing.assert_allclose(lines[0].get_ydata(), [0.5, 0.6, 0.7])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.8, 0.8])
    assert fig.axes[0].get_ylabel() == "accuracy"


def test_strategy_and_recommender_bars():
    rows = [{"strategy": "FedAvg", "accuracy": 0.8}, {"strategy": "Krum", "accuracy": 0.7}]
    fig = strategy_bars(rows)
    assert [p.get_width() for p in fig.axes[0].patches] == [0.8, 0.7]
    lo, hi = fig.axes[0].get_xlim()
    assert lo == 0.0 and hi > 0.8  # from 0: the bars' lengths compare as the values do
    rec = [{"setting": s, "domain": d, "hr@10": h, "ndcg@10": h / 2}
           for s, h in (("local", 0.3), ("federated", 0.5)) for d in ("orders", "clickstream")]
    fig = recommender_bars(rec)
    assert len(fig.axes) == 2
    assert sorted(p.get_height() for p in fig.axes[0].patches) == [0.3, 0.3, 0.5, 0.5]
