"""Stable widget ids: two executions of a notebook with widgets become byte for byte the same,
and every view and reference still points at a saved model."""

import json
import re

import nbclient
import nbformat
import pytest

from meshkit.tutorial.widget_ids import STATE, VIEW, main, stable_widget_ids

SOURCE = ("import ipywidgets as w\n"
          "box = w.VBox([w.IntSlider(value=3, description='x'), w.HTML('<b>view</b>')])\n"
          "display(box)\n"
          "display(w.Dropdown(options=['a', 'b'], value='b'))")


def _executed(tmp_path, name: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SOURCE, id="explore"),
                nbformat.v4.new_code_cell("1 + 1", id="result")]
    nbclient.NotebookClient(nb, timeout=120, record_timing=False).execute()
    path = tmp_path / name / "explore.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("widget_ids")
    return _executed(tmp, "first"), _executed(tmp, "second")


def test_two_executions_become_identical(two_runs):
    first, second = two_runs
    assert first.read_text() != second.read_text()  # the kernel's ids are random
    assert main([str(first), str(second)]) == 0
    assert first.read_text() == second.read_text()
    before = first.read_text()
    main([str(first)])  # idempotent
    assert first.read_text() == before


def test_views_and_references_point_at_saved_models(two_runs):
    first, _ = two_runs
    main([str(first)])
    nb = nbformat.read(first, as_version=4)
    state = nb.metadata["widgets"][STATE]["state"]
    views = [o["data"][VIEW]["model_id"] for o in nb.cells[0].outputs if VIEW in o.get("data", {})]
    assert len(views) == 2 and all(v in state for v in views)
    refs = re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state))
    assert refs and all(r in state for r in refs)
    box = state[views[0]]
    assert box["model_name"] == "VBoxModel"
    children = [state[c.removeprefix("IPY_MODEL_")] for c in box["state"]["children"]]
    assert [c["model_name"] for c in children] == ["IntSliderModel", "HTMLModel"]
    assert children[0]["state"]["value"] == 3 and children[1]["state"]["value"] == "<b>view</b>"
    assert state[views[1]]["state"]["index"] == 1  # the dropdown's value 'b', kept
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "2"


def test_a_notebook_without_widgets_is_left_alone():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1")]
    before = nbformat.writes(nb)
    assert stable_widget_ids(nb, "plain") == {}
    assert nbformat.writes(nb) == before
