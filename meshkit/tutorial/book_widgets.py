"""Saved widget state as static HTML, for the book: the controls as they were left, no script.

A notebook executed with widgets keeps each widget's state in its metadata
(``metadata.widgets["application/vnd.jupyter.widget-state+json"]``) and each displayed widget
as an output that only names its model (``application/vnd.jupyter.widget-view+json``). JupyterLab
and nbconvert's HTML page bring these to life with the widget manager's JavaScript, loaded
from the network; :func:`widget_html` instead walks the model tree and writes plain HTML:

* boxes (``Box``, ``VBox``, ``HBox``, ``GridBox``) lay their children out in a row or a column;
  ``Tab`` and ``Accordion`` show each child under its title (the selected one open), ``Stack``
  only the selected child;
* value controls (sliders, range sliders, dropdowns, radio buttons, selects, toggle buttons,
  checkboxes, text fields, progress bars, colour pickers, buttons) become *disabled* HTML
  controls with their label (``description``) and their value, as text too;
* ``HTML``, ``HTMLMath`` (its formulas as MathML) and ``Label`` show their value, ``Image`` its
  picture as a data URI, and an ``Output`` widget its stored outputs, rendered by the caller
  like the outputs of a cell;
* a widget hidden by its layout (``display: none``) is left out, as JupyterLab leaves it out;
  any other widget shows its label and value, or its kind.

Examples
--------
>>> state = {"state": {"s": {"model_name": "IntSliderModel",
...     "model_module": "@jupyter-widgets/controls",
...     "state": {"description": "rounds", "value": 5, "min": 1, "max": 20, "step": 1,
...               "readout_format": "d"}}}}
>>> html = widget_html("s", state)
>>> "rounds" in html and 'value="5"' in html and "disabled" in html
True
"""

from __future__ import annotations

import base64
import html as _html
import json
from collections.abc import Callable

from meshkit._errors import RunError
from meshkit.tutorial.book_math import html_with_math

__all__ = ["WIDGET_VIEW", "WIDGET_STATE", "widget_html", "static_outputs"]

#: The MIME type of an output that displays a widget.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: The key of the saved widget state in a notebook's ``metadata.widgets``.
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

_REF = "IPY_MODEL_"
_BOXES = {"BoxModel": "column", "VBoxModel": "column", "HBoxModel": "row", "GridBoxModel": "row"}
_SLIDERS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel", "IntProgressModel",
            "FloatProgressModel"}
_RANGES = {"IntRangeSliderModel", "FloatRangeSliderModel"}
_CHOICES = {"DropdownModel", "RadioButtonsModel", "SelectModel", "ToggleButtonsModel",
            "SelectionSliderModel", "SelectMultipleModel", "SelectionRangeSliderModel"}
_TEXTS = {"TextModel", "TextareaModel", "ComboboxModel", "IntTextModel", "FloatTextModel",
          "BoundedIntTextModel", "BoundedFloatTextModel", "PasswordModel"}
_BOOLS = {"CheckboxModel", "ToggleButtonModel", "ValidModel"}

RenderOutputs = Callable[[list], str]


def _e(value) -> str:
    return _html.escape(str(value), quote=True)


def _readout(value, fmt: str | None) -> str:
    if fmt:
        try:
            return format(value, fmt)
        except (TypeError, ValueError):
            pass
    return str(value)


class _Walker:
    """One walk over a saved state; ``render_outputs`` renders an Output widget's outputs."""

    def __init__(self, state: dict, render_outputs: RenderOutputs | None, where: str) -> None:
        self.models = state.get("state", {})
        self.render_outputs = render_outputs
        self.where = where
        self.path: list[str] = []

    def model(self, model_id: str) -> dict | None:
        return self.models.get(model_id.removeprefix(_REF))

    def html(self, model_id: str) -> str:
        model_id = model_id.removeprefix(_REF)
        if model_id in self.path:
            raise RunError("the saved widget state contains a cycle", where=self.where,
                           expected="a tree of widget models",
                           found=" -> ".join([*self.path, model_id]))
        entry = self.model(model_id)
        if entry is None:
            return ('<div class="mk-widget-missing">A widget whose state was not saved with the '
                    "notebook (it was closed before the notebook was saved).</div>")
        if self._hidden(entry):
            return ""
        self.path.append(model_id)
        try:
            return self._render(entry)
        finally:
            self.path.pop()

    def _hidden(self, entry: dict) -> bool:
        layout = entry.get("state", {}).get("layout")
        if not isinstance(layout, str):
            return False
        layout_state = (self.model(layout) or {}).get("state", {})
        return layout_state.get("display") == "none" or layout_state.get("visibility") == "hidden"

    # -------------------------------------------------------------------- one model
    def _render(self, entry: dict) -> str:
        name = entry.get("model_name", "")
        s = entry.get("state", {})
        if name in _BOXES:
            return self._box(s, _BOXES[name])
        if name in ("TabModel", "AccordionModel"):
            return self._titled(s)
        if name == "StackModel":
            children = s.get("children", [])
            i = s.get("selected_index")
            return self.html(children[i]) if isinstance(i, int) and 0 <= i < len(children) else ""
        if name == "OutputModel":
            return self._output(s)
        if name in ("HTMLModel", "HTMLMathModel"):
            value = s.get("value", "")
            if name == "HTMLMathModel":
                value = html_with_math(value, where=self.where)
            return self._labelled(s, f'<div class="mk-widget-html">{value}</div>')
        if name == "LabelModel":
            text = _e(s.get("value", ""))
            return self._labelled(s, f'<span class="mk-widget-text">{text}</span>')
        if name in _SLIDERS:
            return self._slider(name, s)
        if name in _RANGES:
            low, high = s.get("value", [None, None])
            fmt = s.get("readout_format")
            return self._labelled(
                s, f'<span class="mk-widget-value">{_e(_readout(low, fmt))} – '
                   f'{_e(_readout(high, fmt))}</span>')
        if name in _CHOICES:
            return self._choice(name, s)
        if name in _BOOLS:
            checked = " checked" if s.get("value") else ""
            label = _e(s.get("description", ""))
            return (f'<label class="mk-widget mk-widget-bool"><input type="checkbox" disabled'
                    f'{checked}> {label} <span class="mk-widget-value">'
                    f'({"on" if s.get("value") else "off"})</span></label>')
        if name in _TEXTS:
            value = "••••" if name == "PasswordModel" else s.get("value", "")
            return self._labelled(s, f'<input type="text" disabled value="{_e(value)}">'
                                     f'<span class="mk-widget-value">{_e(value)}</span>')
        if name == "ButtonModel":
            return (f'<button class="mk-widget mk-widget-button" type="button" disabled>'
                    f'{_e(s.get("description", ""))}</button>')
        if name == "ColorPickerModel":
            value = s.get("value", "")
            return self._labelled(s, f'<input type="color" disabled value="{_e(value)}">'
                                     f'<span class="mk-widget-value">{_e(value)}</span>')
        if name == "ImageModel":
            return self._image(entry)
        if name.endswith("LayoutModel") or name.endswith("StyleModel"):
            return ""
        if "value" in s:
            value = s["value"]
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            return self._labelled(s, f'<span class="mk-widget-value">{_e(text)}</span>')
        kind = name.removesuffix("Model") or "widget"
        return self._labelled(s, f'<span class="mk-widget-kind">({_e(kind)})</span>')

    def _labelled(self, s: dict, control: str) -> str:
        label = s.get("description", "")
        label = label if s.get("description_allow_html") else _e(label)
        head = f'<span class="mk-widget-label">{label}</span>' if label else ""
        return f'<div class="mk-widget">{head}{control}</div>'

    def _box(self, s: dict, direction: str) -> str:
        inner = "".join(self.html(child) for child in s.get("children", []))
        return f'<div class="mk-widget-box mk-widget-{direction}">{inner}</div>'

    def _titled(self, s: dict) -> str:
        titles = list(s.get("titles") or [])
        selected = s.get("selected_index")
        parts = []
        for i, child in enumerate(s.get("children", [])):
            title = titles[i] if i < len(titles) and titles[i] else f"({i + 1})"
            opened = " open" if i == selected else ""
            parts.append(f'<details class="mk-widget-tab"{opened}><summary>{_e(title)}</summary>'
                         f"{self.html(child)}</details>")
        return f'<div class="mk-widget-box mk-widget-column">{"".join(parts)}</div>'

    def _slider(self, name: str, s: dict) -> str:
        value = s.get("value")
        low, high, step = s.get("min"), s.get("max"), s.get("step")
        if name == "FloatLogSliderModel":  # min and max are exponents of base
            base = s.get("base", 10)
            low, high, step = base ** low, base ** high, "any"
        fmt = s.get("readout_format") or (".2f" if name.startswith("Float") else "d")
        readout = _readout(value, fmt)
        if name.endswith("ProgressModel"):
            control = f'<progress max="{_e(high)}" value="{_e(value)}"></progress>'
        else:
            control = (f'<input type="range" disabled min="{_e(low)}" max="{_e(high)}" '
                       f'step="{_e(step if step is not None else "any")}" value="{_e(value)}">')
        return self._labelled(s, f'{control}<output class="mk-widget-value">{_e(readout)}</output>')

    def _choice(self, name: str, s: dict) -> str:
        labels = list(s.get("_options_labels", []))
        index = s.get("index")
        chosen = set(index) if isinstance(index, (list, tuple)) else {index}
        if name == "SelectionRangeSliderModel" and isinstance(index, (list, tuple)) and index:
            chosen = set(range(index[0], index[-1] + 1))
        shown = [labels[i] for i in sorted(i for i in chosen if isinstance(i, int))
                 if 0 <= i < len(labels)]
        multiple = (f' multiple size="{_e(s.get("rows") or 5)}"' if name == "SelectMultipleModel"
                    else "")
        options = "".join(f'<option{" selected" if i in chosen else ""}>{_e(label)}</option>'
                          for i, label in enumerate(labels))
        value = _e(", ".join(shown) or "(none)")
        return self._labelled(s, f"<select disabled{multiple}>{options}</select>"
                                 f'<span class="mk-widget-value">{value}</span>')

    def _image(self, entry: dict) -> str:
        s = entry.get("state", {})
        data = next((b.get("data") for b in entry.get("buffers", [])
                     if b.get("path") == ["value"] and b.get("encoding") == "base64"), None)
        if data is None:
            return self._labelled(s, '<span class="mk-widget-kind">(an image not saved)</span>')
        fmt = s.get("format", "png")
        mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
        base64.b64decode(data, validate=True)  # a corrupt buffer fails here, not in the browser
        return f'<img class="mk-widget-image" alt="" src="data:{_e(mime)};base64,{data}">'

    def _output(self, s: dict) -> str:
        outputs = [self.static_output(o) for o in s.get("outputs", [])]
        if not outputs:
            return ""
        if self.render_outputs is None:
            raise RunError("an Output widget needs a renderer for its outputs", where=self.where,
                           expected="render_outputs", found="None")
        return f'<div class="mk-widget-output">{self.render_outputs(outputs)}</div>'

    def static_output(self, output: dict, note: str = "") -> dict:
        """``output`` with its widget view as static HTML (any other output unchanged)."""
        data = output.get("data", {})
        if WIDGET_VIEW not in data:
            return output
        html = self.html(data[WIDGET_VIEW].get("model_id", ""))
        if note:  # a widget a cell displayed (not one inside an Output widget)
            html = f'<div class="mk-widget-saved">{note}{html}</div>'
        return {**output, "data": {"text/html": html}}


def widget_html(model_id: str, state: dict, *, render_outputs: RenderOutputs | None = None,
                where: str = "widget") -> str:
    """The static HTML of widget ``model_id`` in the saved ``state`` (a widget-state+json dict).

    Parameters
    ----------
    model_id : str
        The model a widget-view output names (with or without ``IPY_MODEL_``).
    state : dict
        The notebook's ``metadata.widgets["application/vnd.jupyter.widget-state+json"]``.
    render_outputs : callable, optional
        Outputs (nbformat dicts) -> HTML, for ``Output`` widgets; required when one has outputs.
    where : str
        Named in errors (the notebook and cell).

    Raises
    ------
    RunError
        The state's model tree has a cycle, or an Output widget has outputs and no renderer.
    """
    return _Walker(state, render_outputs, where).html(model_id)


def static_outputs(outputs: list, state: dict, *, render_outputs: RenderOutputs | None = None,
                   where: str = "widget", note: str = "") -> list:
    """``outputs`` (a cell's) with each widget view replaced by its static HTML, after ``note``
    (the two framed together in a ``<div class="mk-widget-saved">``).

    The view's other representations (its ``text/plain`` repr, such as ``VBox(children=…)``)
    are dropped: the HTML shows the widget itself. Other outputs are returned unchanged.
    """
    walker = _Walker(state, render_outputs, where)
    return [walker.static_output(output, note) for output in outputs]
