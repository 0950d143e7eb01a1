"""End to end: the committed notebook chain, run with papermill on non-default parameters.

These are the batch user's view: `meshkit run` executes every notebook into a run directory
and each notebook leaves a ``results.json`` that says what it did.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from meshkit import ParameterError
from meshkit.tutorial.chain import CHAIN, default_notebooks, run_chain
from meshkit.scenarios import SCENARIOS

pytestmark = pytest.mark.slow

PRESENT = [name for name in CHAIN if (default_notebooks() / f"{name}.ipynb").exists()]


def test_every_notebook_of_the_chain_is_committed():
    assert PRESENT == list(CHAIN)


def test_domain_setup_on_another_scenario_seed_and_scale(tmp_path):
    result = run_chain({"seed": "7", "scale": "0.2"}, scenario="healthcare", out=tmp_path,
                       only="01", progress=False)
    setup = result.results["01_domain_setup"]
    assert setup["scenario"] == "healthcare"
    assert setup["seed"] == 7 and setup["scale"] == pytest.approx(0.2)
    assert len(setup["domains"]) >= 3
    assert all(p["passed"] for p in setup["products"].values())
    # the broken batch was refused and the product stayed at the version it had
    broken = setup["broken_batch"]
    assert broken["published"] is False and broken["failed_checks"]
    assert (tmp_path / "01_domain_setup.ipynb").exists()
    assert (tmp_path / "store").is_dir()


def test_scale_changes_the_published_sizes(tmp_path):
    small = run_chain({"scale": 0.1}, out=tmp_path / "small", only="01", progress=False)
    large = run_chain({"scale": 0.3}, out=tmp_path / "large", only="01", progress=False)
    rows_small = {k: v["rows"] for k, v in small.results["01_domain_setup"]["products"].items()}
    rows_large = {k: v["rows"] for k, v in large.results["01_domain_setup"]["products"].items()}
    assert rows_small.keys() == rows_large.keys()
    assert sum(rows_large.values()) > sum(rows_small.values())


def test_domain_setup_on_a_user_mesh_spec(tmp_path):
    spec = default_notebooks().parent / "data" / "finance" / "mesh.yaml"
    result = run_chain({"mesh_spec": str(spec)}, out=tmp_path, only="01", progress=False)
    setup = result.results["01_domain_setup"]
    assert setup["scenario"] == "finance"
    assert all(p["rows"] > 0 for p in setup["products"].values())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_whole_chain_on_a_tiny_run_of_every_scenario(tmp_path, scenario):
    result = run_chain({"seed": 3, "scale": 0.2}, scenario=scenario, out=tmp_path, progress=False)
    assert list(result.notebooks) == list(CHAIN)
    for name in CHAIN:
        written = json.loads((tmp_path / name / "results.json").read_text())
        assert written == result.results[name]
        assert written, f"{name} wrote an empty results.json"
    assert result.results["01_domain_setup"]["scenario"] == scenario


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ParameterError, match="no_such_parameter"):
        run_chain({"no_such_parameter": 1}, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_make_run_entry_point_prints_where_the_results_are(tmp_path):
    out = tmp_path / "cli-run"
    done = subprocess.run(
        [sys.executable, "-m", "meshkit", "run", "--only", "01", "-p", "scale=0.1",
         "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    assert (out / "01_domain_setup" / "results.json").exists()
