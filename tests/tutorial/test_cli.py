"""The ``meshkit`` command: exit codes and messages, through main() and once as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshkit.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chain"
REPO = Path(__file__).resolve().parents[2]


def run_args(out: Path, *extra: str) -> list[str]:
    return ["run", "--notebooks", str(FIXTURES), "--out", str(out), "--no-progress", *extra]


def test_run_succeeds_and_says_where_the_results_are(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(run_args(out, "--only", "01", "03", "-p", "seed=11", "-p", "threshold=0.9",
                         "--scenario", "finance"))
    printed = capsys.readouterr().out
    assert code == 0
    assert f"run directory: {out.resolve()}" in printed
    assert "01_domain_setup: 01_domain_setup.ipynb" in printed
    assert str(out.resolve() / "03_aggregation" / "results.json") in printed
    results = json.loads((out / "01_domain_setup" / "results.json").read_text())
    assert results["parameters"]["seed"] == 11 and results["parameters"]["scenario"] == "finance"
    third = json.loads((out / "03_aggregation" / "results.json").read_text())
    assert third["parameters"]["threshold"] == 0.9
    # it ends with one headline per notebook, from its results.json
    from meshkit.tutorial.summary import headline
    assert printed.rstrip().endswith(
        "summary:\n"
        f"  01_domain_setup: {headline('01_domain_setup', results)}\n"
        f"  03_aggregation: {headline('03_aggregation', third)}")


def test_a_failing_notebook_exits_1_naming_notebook_cell_and_error(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(run_args(out))
    err = capsys.readouterr().err
    assert code == 1
    assert "02_local_training.ipynb, cell In [4]" in err
    assert "ValueError: model diverged after 6 steps" in err
    assert str(out.resolve() / "02_local_training.ipynb") in err
    assert (out / "02_local_training.ipynb").is_file()


def test_unknown_parameter_exits_2_listing_known_names_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(run_args(out, "-p", "sed=3"))
    err = capsys.readouterr().err
    assert code == 2
    assert "'sed'" in err and "seed" in err and "rounds" in err and "nothing was run" in err
    assert not out.exists()


def test_badly_typed_value_exits_2(tmp_path, capsys):
    code = main(run_args(tmp_path / "run", "-p", "seed=forty-two"))
    err = capsys.readouterr().err
    assert code == 2
    assert "parameter 'seed'" in err and "expected int" in err and "'forty-two'" in err


def test_malformed_and_repeated_parameters_exit_2(tmp_path, capsys):
    assert main(run_args(tmp_path / "run", "-p", "seed")) == 2
    assert "name=value" in capsys.readouterr().err
    assert main(run_args(tmp_path / "run", "-p", "seed=1", "-p", "seed=2")) == 2
    assert "given twice" in capsys.readouterr().err
    assert main([]) == 2
    assert not (tmp_path / "run").exists()


def test_params_lists_type_default_and_help(capsys):
    assert main(["params", "--notebooks", str(FIXTURES)]) == 0
    printed = capsys.readouterr().out
    assert "01_domain_setup" in printed and "03_aggregation" in printed
    seed_line = next(line for line in printed.splitlines() if line.strip().startswith("seed"))
    assert "int" in seed_line and "42" in seed_line and "# random seed" in seed_line


def test_params_without_notebooks_exits_1(tmp_path, capsys):
    assert main(["params", "--notebooks", str(tmp_path)]) == 1
    assert "no notebook of the chain" in capsys.readouterr().err


def test_scenarios_lists_the_embedded_scenarios(capsys):
    from meshkit.scenarios import SCENARIOS

    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert all(len(line.split()) > 3 for line in lines)   # each with its one-line summary


@pytest.mark.slow
def test_python_dash_m_meshkit_runs_the_chain_as_a_process(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "meshkit", *run_args(out, "-p", "rounds=2")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "02_local_training.ipynb, cell In [4]" in done.stderr
    assert "ValueError: model diverged after 4 steps" in done.stderr
    assert (out / "01_domain_setup" / "results.json").is_file()
    refused = subprocess.run([sys.executable, "-m", "meshkit", *run_args(out, "-p", "x=1")],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "'x'" in refused.stderr
