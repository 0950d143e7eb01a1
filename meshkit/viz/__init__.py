"""Figures for the notebooks: one module per concept, one function per figure.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot's global
state, so it can be shown in a notebook (``%matplotlib inline`` renders a returned Figure),
saved with ``fig.savefig(...)`` in a batch run, or tested.

>>> from meshkit.viz import plot_mesh, convergence_curves
"""

from meshkit.viz.consistency import layer_scores, similarity_heatmap, threshold_sweep
from meshkit.viz.federation import (
    convergence_curves,
    cross_domain_heatmap,
    recommender_bars,
    strategy_bars,
)
from meshkit.viz.mesh import plot_mesh
from meshkit.viz.security import plot_attacks, plot_posture

__all__ = [
    "plot_mesh",
    "cross_domain_heatmap", "convergence_curves", "strategy_bars", "recommender_bars",
    "similarity_heatmap", "threshold_sweep", "layer_scores",
    "plot_posture", "plot_attacks",
]
