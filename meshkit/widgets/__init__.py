"""Explorers: optional ipywidgets over the library's calls, one per notebook.

Each explorer is a function that returns a widget (an ``ipywidgets.VBox``) holding its
controls and one HTML view. A callback does nothing but call a tested function of this
package (``*_view``: the controls' values in, a report out) and show its one render
(:mod:`meshkit._display`): no logic lives in a callback, and the view is an HTML widget, so a
notebook saved with its widget state shows the last result without a kernel.

* :func:`product_explorer` (01) -- a product -> its contract checks and failing rows;
* :func:`training_explorer` (03) -- strategy, rounds, privacy and attacks -> a live
  convergence plot;
* :func:`consistency_explorer` (04) -- θ -> the verdict, the sweep and each column's drift test;
* :func:`grant_explorer` (05) -- a grant -> the decision layer by layer and the frame served.

Every explorer keeps its controls in ``.controls`` (name -> widget) and its output in
``.view`` (an ``ipywidgets.HTML``), so code (and a test) can move a control and read the result.
ipywidgets is imported only when an explorer is built.
"""

from meshkit.widgets._consistency import consistency_explorer, consistency_view
from meshkit.widgets._grants import grant_explorer, grant_view
from meshkit.widgets._product import product_explorer, product_view
from meshkit.widgets._training import training_explorer, training_view

__all__ = ["product_explorer", "product_view", "training_explorer", "training_view",
           "consistency_explorer", "consistency_view", "grant_explorer", "grant_view"]
