"""What every explorer shares: the optional import, one HTML view, the binding of controls."""

from __future__ import annotations

import base64
import functools
import html
import io

from meshkit._display import Displayable, Paragraph, render, table
from meshkit._errors import MeshkitError

__all__ = ["widgets", "to_html", "figure_html", "error_html", "assemble", "bind"]


def widgets():
    """The ``ipywidgets`` module, or a :class:`MeshkitError` that says how to get it."""
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - ipywidgets is a dependency
        raise MeshkitError("the explorers need ipywidgets", where="meshkit.widgets",
                           expected="ipywidgets installed (pip install ipywidgets)",
                           found=str(exc)) from exc
    return ipywidgets


def figure_html(fig) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (no file, no network)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" style="max-width:100%" src="data:image/png;base64,{data}"/>'


def to_html(*parts) -> str:
    """The HTML of each part, in order: a report (one render), a figure, a frame or a string."""
    out = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, Displayable) or hasattr(part, "_repr_mimebundle_"):
            out.append(part._repr_mimebundle_()["text/html"])
        elif hasattr(part, "savefig"):
            out.append(figure_html(part))
        elif hasattr(part, "columns") and hasattr(part, "height"):
            out.append(table(part)._repr_mimebundle_()["text/html"])
        else:
            out.append(render([Paragraph(str(part))])._repr_mimebundle_()["text/html"])
    return "\n".join(out)


def error_html(exc: MeshkitError) -> str:
    """What a view shows when the library refuses the controls' values (a clear error)."""
    return (f'<div style="color:#b00020"><b>{html.escape(type(exc).__name__)}</b>: '
            f"{html.escape(str(exc))}</div>")


@functools.cache
def _explorer_class():
    """The explorer widget's class (made once, when ipywidgets is first needed)."""

    class Explorer(widgets().VBox):
        """Controls above one HTML view; its text form names it and its controls.

        The text form is what a terminal, a batch run and nbval see beside the widget view
        (whose model id changes every run): one stable line instead of the truncated
        repr of every child.
        """

        def __repr__(self):
            return (f"{self.title} ({len(self.controls)} controls): "
                    "run the notebook in JupyterLab to use them")

    return Explorer


def assemble(controls: dict, view, *, extra=(), title: str = "explorer"):
    """The explorer widget: controls above the view, ``.controls`` and ``.view`` attached.

    Examples
    --------
    >>> w = widgets()
    >>> box = assemble({"x": w.IntSlider(), "y": w.IntSlider()}, w.HTML(), title="an explorer")
    >>> box
    an explorer (2 controls): run the notebook in JupyterLab to use them
    """
    w = widgets()
    box = _explorer_class()(
        [w.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
        + list(extra) + [view])
    box.controls, box.view, box.title = controls, view, title
    return box


def bind(controls: dict, update) -> None:
    """Call ``update()`` whenever a control's value changes."""
    for control in controls.values():
        control.observe(lambda _change: update(), names="value")
