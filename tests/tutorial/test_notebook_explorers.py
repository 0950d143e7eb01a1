"""The committed notebooks show their explorers: behind ``interactive``, with the widget state
saved, so a reader sees the controls and the last result without running anything."""

import nbformat
import pytest

from meshkit.tutorial.chain import default_notebooks, notebook_parameters

EXPLORERS = {"01_domain_setup": "product_explorer", "03_aggregation": "training_explorer",
             "04_consistency": "consistency_explorer", "05_security": "grant_explorer"}
STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"


def _descendants(state: dict, model_id: str):
    """Every model reachable from ``model_id`` through ``children`` (``IPY_MODEL_`` links)."""
    model = state[model_id]
    yield model
    for child in model["state"].get("children", []):
        yield from _descendants(state, child.removeprefix("IPY_MODEL_"))


@pytest.mark.parametrize("notebook", sorted(EXPLORERS))
def test_the_committed_notebook_shows_its_explorer_from_saved_state(notebook):
    path = default_notebooks() / f"{notebook}.ipynb"
    declared = notebook_parameters(path)
    assert declared["interactive"]["type"] == "bool"
    assert declared["interactive"]["default"] == "True"
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"
             and f"display({EXPLORERS[notebook]}(" in c.source]
    assert len(cells) == 1 and "if interactive:" in cells[0].source
    views = [o for o in cells[0].outputs if VIEW in o.get("data", {})]
    assert len(views) == 1
    assert views[0]["data"]["text/plain"].startswith(EXPLORERS[notebook].replace("_", " "))
    state = nb.metadata["widgets"][STATE]["state"]
    models = list(_descendants(state, views[0]["data"][VIEW]["model_id"]))
    assert models[0]["model_name"] == "VBoxModel"
    names = {m["model_name"] for m in models}
    assert names & {"DropdownModel", "FloatSliderModel"}
    html = [m["state"].get("value", "") for m in models if m["model_name"] == "HTMLModel"]
    assert html and html[-1].startswith("<")  # the view: the last result, drawn without a kernel
