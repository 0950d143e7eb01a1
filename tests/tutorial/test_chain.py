"""End to end: the committed notebook chain, run with papermill on non-default parameters.

These are the batch user's view: `meshkit run` executes every notebook into a run directory
and each notebook leaves a ``results.json`` that says what it did.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from meshkit import ParameterError
from meshkit.tutorial.chain import CHAIN, default_notebooks, run_chain
from meshkit.scenarios import SCENARIOS, load_scenario

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
    # one story: every notebook ran on this scenario's own data, none fell back to another
    sc = load_scenario(scenario, scale=0.2, seed=3)
    local = result.results["02_local_training"]
    assert local["scenario"] == scenario and local["domains"] == list(sc.task.products)
    aggregation = result.results["03_aggregation"]
    assert aggregation["scenario"] == scenario
    published = json.loads((tmp_path / "published.json").read_text())
    assert set(published) == {scenario}
    if sc.interactions is None:
        assert "declares no interactions" in aggregation["recommender"]["skipped"]
    else:
        assert {r["domain"] for r in aggregation["recommender"]} == set(sc.interactions.sources)


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


def _readme_papermill_block() -> str:
    """The README's "papermill by hand" shell block, as written."""
    readme = (default_notebooks().parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    found = [b for b in blocks if "papermill 01_domain_setup.ipynb" in b]
    assert len(found) == 1, "the README's papermill example is gone"
    return found[0]


def test_readme_papermill_example_works_as_written(tmp_path):
    # a checkout's layout: notebooks/ beside the run folder; the README's own commands, with
    # only the virtualenv's papermill replaced by this interpreter's
    (tmp_path / "notebooks").mkdir()
    shutil.copy(default_notebooks() / "01_domain_setup.ipynb", tmp_path / "notebooks")
    block = _readme_papermill_block()
    script = block.replace("../.venv/bin/papermill", f"{shlex.quote(sys.executable)} -m papermill")
    assert script != block
    env = {**os.environ, "PYTHONPATH": str(default_notebooks().parent)}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "runs" / "mine" / "01_domain_setup.ipynb").is_file()
    results = json.loads((tmp_path / "runs" / "mine" / "01_domain_setup" / "results.json").read_text())
    assert results["scenario"] == "finance" and results["seed"] == 7
    # without the folder the same papermill call fails: the README's mkdir is needed
    without = script.replace("mkdir -p ../runs/mine", "").replace("runs/mine", "runs/other")
    failed = subprocess.run(["bash", "-e", "-c", without], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    assert failed.returncode != 0
