"""04's explorer: θ on the verdict and the sweep, each column's drift test, how stale the copy is.

Moving θ recomputes no layer: the verdict is ``score > θ`` on the report already computed.
"""

from __future__ import annotations

import dataclasses

from meshkit._errors import ConsistencyError, MeshkitError
from meshkit.widgets._base import assemble, bind, error_html, to_html, widgets

__all__ = ["consistency_view", "consistency_explorer", "consistency_html", "drift_columns",
           "drift_measures"]


def drift_columns(report) -> list[str]:
    """The columns the report's distributions layer tested (empty without that layer)."""
    layer = report.similarity.layers.get("distributions")
    if layer is None or layer.evidence is None or "column" not in layer.evidence.columns:
        return []
    return layer.evidence["column"].to_list()


def consistency_view(report, theta: float, column: str | None = None) -> dict:
    """The verdict of ``report`` at ``theta``, the sweep marking it, and one column's drift test.

    Parameters
    ----------
    report : ConsistencyReport
        A computed report (its layers are reused, never recomputed).
    theta : float
        θ in [0, 1]: consistent when the similarity is above it.
    column : str, optional
        A column of :func:`drift_columns`: its row of the distributions layer's evidence.

    Returns
    -------
    dict
        ``verdict`` (the report at ``theta``), ``sweep`` (the figure) and ``drift`` (a
        one-row frame, or None).

    Raises
    ------
    ConsistencyError
        ``theta`` outside [0, 1], or a column the distributions layer did not test.

    Examples
    --------
    >>> import polars as pl, meshkit as mk
    >>> d = pl.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0]})
    >>> report = mk.consistency(d, d.head(3), threshold=0.9, keys="id")
    >>> [consistency_view(report, t)["verdict"].consistent for t in (0.5, 0.95)]
    [True, False]
    """
    from meshkit.viz.consistency import threshold_sweep

    if not 0 <= theta <= 1:
        raise ConsistencyError("θ is a similarity threshold", where="theta",
                               expected="0 <= θ <= 1", found=repr(theta))
    verdict = dataclasses.replace(report, threshold=float(theta))
    drift = None
    if column is not None:
        if column not in drift_columns(report):
            raise ConsistencyError("no drift test for this column", where="column",
                                   expected=f"one of {drift_columns(report)}", found=repr(column))
        evidence = report.similarity.layers["distributions"].evidence
        drift = evidence.filter(evidence["column"] == column)
    names = report.similarity.names
    sweep = threshold_sweep({f"{names[1]} vs {names[0]}": report.similarity}, theta=theta)
    return {"verdict": verdict, "sweep": sweep, "drift": drift}


def consistency_html(shown: dict) -> str:
    """The explorer's view of :func:`consistency_view`: the verdict's line, the sweep and the
    column's drift test next to the controls, the whole report folded below them."""
    from meshkit._display import Details, render

    head, *rest = shown["verdict"]._render()
    return to_html(render([head]), shown["sweep"], drift_measures(shown["drift"]),
                   render([Details("the whole report at this θ", rest)]))


def drift_measures(drift):
    """One column's drift test (a one-row frame) as ``measure | value`` rows, without the
    measures its test does not compute; None stays None.

    Examples
    --------
    >>> import polars as pl
    >>> drift_measures(pl.DataFrame({"column": ["x"], "ks_pvalue": [None], "drift": [False]}))
    ... # doctest: +NORMALIZE_WHITESPACE
    shape: (2, 2)
    ┌─────────┬───────┐
    │ measure ┆ value │
    │ ---     ┆ ---   │
    │ str     ┆ str   │
    ╞═════════╪═══════╡
    │ column  ┆ x     │
    │ drift   ┆ False │
    └─────────┴───────┘
    """
    import polars as pl

    from meshkit._display import fmt

    if drift is None:
        return None
    row = {k: v for k, v in drift.row(0, named=True).items() if v is not None}
    return pl.DataFrame({"measure": list(row), "value": [fmt(v) for v in row.values()]})


def consistency_explorer(report, *, injections=None):
    """A θ slider and a column picker over :func:`consistency_view`.

    ``injections`` (what made the copy stale: objects with ``name``, ``column``, ``rows``,
    ``description``) are shown once, above the controls, as "how stale the copy is".
    """
    import polars as pl

    w = widgets()
    columns = drift_columns(report)
    controls = {
        "theta": w.FloatSlider(value=report.threshold, min=0.0, max=1.0, step=0.01,
                               description="θ", continuous_update=False),
        "column": w.Dropdown(options=columns, value=columns[0] if columns else None,
                             description="drift of"),
    }
    stale = []
    if injections:
        frame = pl.DataFrame([{"change": i.name, "column": i.column, "rows": i.rows,
                               "what": i.description} for i in injections])
        stale = [w.HTML(to_html("how stale the copy is:", frame))]
    view = w.HTML()

    def update():
        try:
            shown = consistency_view(report, controls["theta"].value, controls["column"].value)
        except MeshkitError as exc:
            view.value = error_html(exc)
            return
        view.value = consistency_html(shown)

    bind(controls, update)
    update()
    return assemble(controls, view, extra=stale, title="consistency explorer")
