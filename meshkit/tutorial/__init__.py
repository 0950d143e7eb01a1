"""What only the notebooks need: the tutorial layer, apart from the library.

Like ``polars.testing`` or ``sklearn.datasets``, this sub-package sits beside the library and
on top of it: it imports the library, and the library never imports it.

=================  ===========================================================================
``runs``           the run directory that carries artifacts between notebooks
``batches``        notebook 01's other batches: a broken one refused, the next day's accepted
``chain``          run the notebook chain with papermill; notebook parameters
``experiment``     from a scenario's declared task and interactions to what 02 and 03 train
``recommender``    the recommender walkthrough: federated against centralized and local-only
``results``        what each notebook records in its ``results.json``, and its summaries
``compare``        notebook 04's comparisons: a copy in either mode, sketches against bounds
``navigation``     the notebooks' previous/next/contents links and ``00_contents``
``inject``         fault injection: a stale copy of a product with named inconsistencies
``copy_plan``      what notebook 04 compares and changes on a given mesh
``walkthrough``    notebook 05's principals, grants and products, derived from a mesh
``attacks``        attempt an attack and record how it was refused
``book``           the executed chain as a static HTML site that reads offline (``make book``)
``book_math``      the book's formulas: TeX to MathML when the site is built
``book_widgets``   the book's saved widgets: their state as static HTML
=================  ===========================================================================

Import the modules directly, e.g. ``from meshkit.tutorial import runs``.
"""
