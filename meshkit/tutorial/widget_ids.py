"""Stable widget model ids in executed notebooks, so that re-executing a notebook leaves it
byte for byte the same.

A kernel names every widget model with a random id; an executed notebook keeps those ids in
its widget views (outputs) and in the widget state saved in its metadata. This module renames
them in a fixed order: the models reachable from the views, depth first in cell order
(``IPY_MODEL_<id>`` references: children, layout, style...), then any other saved model by its
content. The new id of the ``i``-th model is a name-based UUID of ``(notebook name, i)``.
Nothing else changes, and JupyterLab draws the same explorers from the renamed state::

    python -m meshkit.tutorial.widget_ids notebooks/0*.ipynb   # rewrite in place

Examples
--------
>>> import nbformat
>>> nb = nbformat.v4.new_notebook()
>>> view = {"model_id": "f00", "version_major": 2, "version_minor": 0}
>>> nb.cells = [nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
...     "display_data", data={"application/vnd.jupyter.widget-view+json": view})])]
>>> nb.metadata["widgets"] = {STATE: {"state": {"f00": {"state": {"layout": "IPY_MODEL_ba7"}},
...                                             "ba7": {"state": {}}}}}
>>> renamed = stable_widget_ids(nb, "demo")
>>> [renamed[k] for k in ("f00", "ba7")] == [_new_id("demo", 0), _new_id("demo", 1)]
True
>>> nb.metadata["widgets"][STATE]["state"][_new_id("demo", 0)]["state"]["layout"][:10]
'IPY_MODEL_'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path

__all__ = ["stable_widget_ids", "main"]

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"
_REFERENCE = re.compile(r"IPY_MODEL_([0-9A-Za-z_-]+)")
_NAMESPACE = uuid.UUID("6f1c3a52-0d5e-4c8e-9a47-3b0f3f1d2c11")  # meshkit's widget ids


def _new_id(notebook: str, index: int) -> str:
    return uuid.uuid5(_NAMESPACE, f"{notebook}/{index}").hex


def _views(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            view = output.get("data", {}).get(VIEW)
            if view and view.get("model_id"):
                yield view


def stable_widget_ids(nb, notebook: str) -> dict[str, str]:
    """Rename the widget models of ``nb`` (in place) in a fixed order; return old -> new.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook (views in its outputs, state in ``metadata.widgets``).
    notebook : str
        The notebook's name, part of each new id.
    """
    state = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    order: list[str] = []

    def visit(model_id: str) -> None:
        if model_id in order or model_id not in state:
            return
        order.append(model_id)
        for ref in _REFERENCE.findall(json.dumps(state[model_id], sort_keys=True)):
            visit(ref)

    for view in _views(nb):
        visit(view["model_id"])
    rest = sorted((m for m in state if m not in order),
                  key=lambda m: json.dumps(state[m], sort_keys=True))
    for model_id in rest:
        visit(model_id)
    renamed = {old: _new_id(notebook, i) for i, old in enumerate(order)}
    if not renamed:
        return renamed

    def rename(text: str) -> str:
        return _REFERENCE.sub(lambda m: "IPY_MODEL_" + renamed.get(m.group(1), m.group(1)),
                              text)

    new_state = {renamed[old]: json.loads(rename(json.dumps(model))) for old, model in
                 state.items()}
    nb.metadata["widgets"][STATE]["state"] = new_state
    for view in _views(nb):
        view["model_id"] = renamed.get(view["model_id"], view["model_id"])
    return renamed


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(prog="python -m meshkit.tutorial.widget_ids",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        stable_widget_ids(nb, path.stem)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
