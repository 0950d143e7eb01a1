"""nbval with widgets present: only the widget view (its model id) is masked, never a result.

A widget's output is a display with two parts: ``application/vnd.jupyter.widget-view+json``
(``{"model_id": ...}``, new every run), which nbval never compares, and ``text/plain`` (the
widget's repr: the explorers' one stable line), which it compares like any result. This test
builds a small notebook with a real widget, executes it with nbclient, edits stored outputs
and runs nbval on it, with the project's sanitize file, in a subprocess.
"""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbclient
import nbformat
import pytest

pytestmark = pytest.mark.slow

SANITIZE = Path(__file__).with_name("sanitize.cfg")
WIDGET_CELL = ("import ipywidgets as w\n"
               "s = w.IntSlider(value=3, description='x')\n"
               "display(s)\n"
               "print(s.value * 2)")
VIEW = "application/vnd.jupyter.widget-view+json"


def _output(cell, kind: str):
    return next(o for o in cell.outputs if o.output_type == kind)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """nbval's verdict on each cell of the edited notebook: cell index -> passed."""
    folder = tmp_path_factory.mktemp("nbval_widgets")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(WIDGET_CELL) for _ in range(3)]
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    nbclient.NotebookClient(nb, timeout=120).execute()
    assert "application/vnd.jupyter.widget-state+json" in nb.metadata["widgets"]
    # 0: only the widget view changes (a foreign model id; a re-run makes a new one anyway)
    _output(nb.cells[0], "display_data").data[VIEW]["model_id"] = "0" * 32
    # 1: a changed result printed beside the widget
    _output(nb.cells[1], "stream").text = "7\n"
    # 2: a changed text form of the widget (the widget's own result, not its view)
    _output(nb.cells[2], "display_data").data["text/plain"] = "IntSlider(value=4, description='x')"
    # 3: a plain result after the widgets, unchanged
    path = folder / "widgets.ipynb"
    nbformat.write(nb, path)
    report = folder / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
                    "--nbval", "--nbval-sanitize-with", str(SANITIZE),
                    f"--junitxml={report}", str(path)],
                   cwd=folder, capture_output=True, text=True, timeout=300)
    cases = ET.parse(report).getroot().iter("testcase")
    verdicts = {}
    for case in cases:
        index = int(case.get("name").split()[-1])
        verdicts[index] = case.find("failure") is None and case.find("error") is None
    return verdicts


def test_a_widget_whose_model_id_changed_still_passes(results):
    assert results[0] is True


def test_a_changed_result_beside_a_widget_fails(results):
    assert results[1] is False


def test_the_widgets_text_form_is_compared(results):
    assert results[2] is False


def test_a_plain_result_after_widgets_passes(results):
    assert results[3] is True
