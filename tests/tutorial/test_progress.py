"""Progress and quiet runs: tqdm bars on long calls, a headline per notebook, and kernels
started without the "running over TCP without encryption" warning."""

import json

import nbformat
import papermill
import pytest

from meshkit.scenarios import load_scenario
from meshkit import FedAvg, robustness_table
from meshkit.tutorial.experiment import compare_strategies, prepare
from meshkit.tutorial.kernels import kernel_config
from meshkit.tutorial.summary import HEADLINES, headline, summary_lines

WARNING = "Kernel is running over TCP without encryption"


@pytest.fixture(scope="module")
def setup():
    return prepare(load_scenario("healthcare", scale=0.1), seed=1)


def test_long_calls_show_tqdm_bars_only_when_asked(setup, capsys):
    compare_strategies(setup, {"fedavg": {}, "fedprox": {"mu": 1.0}}, rounds=2)
    err = capsys.readouterr().err
    assert "strategies" in err and "2/2" in err and "FedProx" in err
    compare_strategies(setup, {"fedavg": {}}, rounds=2, progress=False)
    assert capsys.readouterr().err == ""
    first = list(setup.datasets)[:1]
    robustness_table(setup.model, setup.datasets, attacked=first, rules={"fedavg": FedAvg()},
                     attacks={}, rounds=1, progress=True)
    assert "rules" in capsys.readouterr().err
    robustness_table(setup.model, setup.datasets, attacked=first, rules={"fedavg": FedAvg()},
                     attacks={}, rounds=1)
    assert capsys.readouterr().err == ""


def test_each_notebook_of_the_chain_has_a_headline_from_its_results():
    from meshkit.tutorial.chain import CHAIN

    assert set(HEADLINES) == set(CHAIN)
    results = {"03_aggregation": {"metric": "accuracy", "rounds": 20, "strategy": "FedAvg()",
                                  "federated": {"accuracy": 0.77244}, "centralized": {"accuracy": 0.7786},
                                  "local_mean": {"accuracy": 0.7648}},
               "05_security": {"attacks": 10, "attacks_refused": 9, "audit_entries": 20,
                               "audit_intact": False}}
    assert summary_lines(results) == [
        "03_aggregation: accuracy after 20 rounds of FedAvg(): federated 0.7724, "
        "centralized 0.7786, local-only 0.7648",
        "05_security: 9 of 10 attacks refused; audit log of 20 entries BROKEN"]
    # results of another shape still give a line, from their scalar values
    assert headline("03_aggregation", {"rounds": 3, "metric": "auc"}) == "rounds 3, metric auc"


def _tiny_notebook(path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_chain_kernels_run_encrypted_and_do_not_warn(tmp_path, capfd):
    _tiny_notebook(tmp_path / "t.ipynb")
    papermill.execute_notebook(str(tmp_path / "t.ipynb"), str(tmp_path / "plain.ipynb"),
                               kernel_name="python3", progress_bar=False)
    assert WARNING in capfd.readouterr().err  # the default: plain TCP, and the warning
    out = papermill.execute_notebook(str(tmp_path / "t.ipynb"), str(tmp_path / "curve.ipynb"),
                                     kernel_name="python3", progress_bar=False,
                                     config=kernel_config())
    assert WARNING not in capfd.readouterr().err
    assert out.cells[0].outputs[0]["text"] == "42\n"
    assert json.loads((tmp_path / "curve.ipynb").read_text())["cells"][0]["outputs"]


def test_the_chain_names_each_notebook_as_it_runs_and_its_kernel_does_not_warn(tmp_path, capfd):
    from pathlib import Path

    from meshkit.tutorial.chain import run_chain

    fixtures = Path(__file__).parents[1] / "fixtures" / "chain"
    run_chain({}, out=tmp_path / "run", notebooks=fixtures, only=["01", "03"], progress=True)
    err = capfd.readouterr().err
    assert "[1/2] 01_domain_setup" in err and "[2/2] 03_aggregation" in err
    assert WARNING not in err
