"""The notebook chain runner: parameter checks, real papermill runs of fixture notebooks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from meshkit import ParameterError, RunError
from meshkit.tutorial.chain import (CHAIN, ChainResult, check_parameters, convert_value,
                              default_notebooks, notebook_parameters, run_chain)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chain"


# --- converting values -------------------------------------------------------------

@pytest.mark.parametrize("value, type_name, expected", [
    ("7", "int", 7), (7, "int", 7), (3.0, "int", 3), ("1_000", "int", 1000),
    ("0.25", "float", 0.25), (2, "float", 2.0), ("1e-3", "float", 0.001),
    ("true", "bool", True), ("No", "bool", False), ("1", "bool", True), ("0", "bool", False),
    ("yes", "bool", True), (False, "bool", False),
    ("retail", "str", "retail"), ("", "str", ""),
    ("a,b", "list", ["a", "b"]), ("[1, 2]", "list", [1, 2]), ("1, 2", "list[int]", [1, 2]),
    (("x",), "list", ["x"]), ("{'a': 1}", "dict", {"a": 1}),
    ("none", "Optional[int]", None), ("4", "Optional[int]", 4), ("5", "int | None", 5),
    ("[3, 4]", "None", [3, 4]), ("plain words", "None", "plain words"),
    ("1, 2", "list[str]", ["1", "2"]), (["1"], "list", ["1"]),
])
def test_values_convert_to_the_declared_type(value, type_name, expected):
    converted = convert_value(value, type_name, where="nb: parameter 'x'")
    assert converted == expected and type(converted) is type(expected)


@pytest.mark.parametrize("value, type_name", [
    ("7.5", "int"), ("seven", "int"), (True, "int"), (2.5, "int"), ("abc", "float"),
    (True, "float"), ("maybe", "bool"), (2, "bool"), (5, "str"), ("[1", "list"),
    (3, "list"), ("[1]", "dict"),
])
def test_badly_typed_values_are_refused_naming_type_value_and_place(value, type_name):
    with pytest.raises(ParameterError) as info:
        convert_value(value, type_name, where="02_local_training: parameter 'rounds'")
    message = str(info.value)
    assert "02_local_training: parameter 'rounds'" in message
    assert f"expected {type_name}" in message and repr(value) in message


@pytest.mark.parametrize("value, type_name, item, found", [
    ("1, x", "list[int]", "int", "'x'"), ("[1, 2]", "list[str]", "str", "1"),
])
def test_list_items_are_converted_to_the_item_type_or_refused_naming_the_item(
        value, type_name, item, found):
    with pytest.raises(ParameterError) as info:
        convert_value(value, type_name, where="nb: parameter 'ids'")
    message = str(info.value)
    assert "nb: parameter 'ids'[" in message
    assert f"expected {item}" in message and f"found {found}" in message
    assert [type(v) for v in convert_value("1, 2", "list[float]", where="nb")] == [float, float]


def test_notebook_parameters_come_from_the_parameters_cell():
    declared = notebook_parameters(FIXTURES / "01_domain_setup.ipynb")
    assert list(declared) == ["scenario", "seed", "scale", "label", "verbose", "domains",
                              "mesh_spec", "run_dir"]
    assert declared["seed"] == {"type": "int", "default": "42", "help": "random seed"}
    assert declared["verbose"]["type"] == "bool"


def test_check_parameters_gives_each_notebook_only_what_it_declares():
    declared = {name: notebook_parameters(FIXTURES / f"{name}.ipynb")
                for name in ("01_domain_setup", "03_aggregation")}
    given = check_parameters({"seed": "3", "rounds": "9", "threshold": "0.8"}, declared)
    assert given == {"01_domain_setup": {"seed": 3},
                     "03_aggregation": {"rounds": 9, "threshold": 0.8}}


def test_unknown_names_are_refused_with_the_known_names_listed():
    declared = {"03_aggregation": notebook_parameters(FIXTURES / "03_aggregation.ipynb")}
    with pytest.raises(ParameterError, match="no notebook in this run declares") as info:
        check_parameters({"rouns": "3"}, declared)
    assert "'rouns'" in str(info.value) and "rounds, threshold" in str(info.value)
    with pytest.raises(ParameterError, match="run_dir is set by the run"):
        check_parameters({"run_dir": "elsewhere"}, declared)


def test_default_notebooks_folder_is_next_to_the_package():
    assert default_notebooks().name == "notebooks"
    assert (default_notebooks().parent / "meshkit" / "__init__.py").is_file()
    assert CHAIN[0] == "01_domain_setup" and CHAIN[-1] == "05_security"


# --- refusing before anything runs ---------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"parameters": {"sede": "1"}}, "no notebook in this run declares"),
    ({"parameters": {"seed": "1.5"}}, "01_domain_setup: parameter 'seed'"),
    ({"parameters": {"verbose": "perhaps"}}, "expected bool"),
    ({"scenario": "atlantis"}, "unknown scenario"),
    ({"only": ["07"]}, "no such notebook in the chain"),
])
def test_bad_parameters_run_nothing(tmp_path, kwargs, match):
    out = tmp_path / "run"
    with pytest.raises(ParameterError, match=match):
        run_chain(notebooks=FIXTURES, out=out, progress=False, **kwargs)
    assert not out.exists()


def test_a_folder_without_chain_notebooks_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="no notebook of the chain found"):
        run_chain(notebooks=tmp_path, out=tmp_path / "run", progress=False)


# --- real papermill runs ------------------------------------------------------------

def test_chain_runs_with_converted_parameters_into_the_run_directory(tmp_path):
    out = tmp_path / "run"
    result = run_chain({"seed": "7", "verbose": "yes", "domains": "north,south", "rounds": 5},
                       scenario="healthcare", out=out, notebooks=FIXTURES,
                       only=["01", "03_aggregation"], progress=False)
    assert isinstance(result, ChainResult)
    assert result.run_dir == out.resolve()
    assert list(result.notebooks) == ["01_domain_setup", "03_aggregation"]
    assert all(path.is_file() and path.parent == out.resolve() for path in result.notebooks.values())
    assert not (out / "02_local_training.ipynb").exists()

    first = result.results["01_domain_setup"]
    assert first == json.loads((out / "01_domain_setup" / "results.json").read_text())
    assert first["parameters"] | {"run_dir": None} == {
        "scenario": "healthcare", "seed": 7, "scale": 1.0, "label": "demo", "verbose": True,
        "domains": ["north", "south"], "mesh_spec": "", "run_dir": None}
    assert first["types"]["seed"] == "int" and first["types"]["verbose"] == "bool"
    assert Path(first["parameters"]["run_dir"]) == out.resolve()
    assert first["cwd_is_notebooks_folder"] is True
    assert first["received_undeclared"] == []

    third = result.results["03_aggregation"]
    assert third["parameters"]["rounds"] == 5 and third["parameters"]["threshold"] == 0.5
    assert third["received_undeclared"] == []          # no seed or scenario leaked in
    assert result.parameters["03_aggregation"] == {"rounds": 5, "run_dir": str(out.resolve())}


def test_a_failing_notebook_stops_the_run_naming_notebook_cell_and_error(tmp_path):
    out = tmp_path / "run"
    stale = out / "02_local_training" / "results.json"   # left by an earlier run
    stale.parent.mkdir(parents=True)
    stale.write_text('{"accuracy": 0.99}')
    with pytest.raises(RunError) as info:
        run_chain({"rounds": "3"}, out=out, notebooks=FIXTURES, progress=False)
    error = info.value
    message = str(error)
    assert "02_local_training.ipynb, cell In [4]" in message
    assert "raise ValueError(f'model diverged" in message
    assert "ValueError: model diverged after 6 steps" in message
    assert error.notebook == "02_local_training" and error.cell == 4
    # the notebook before it ran, the one after did not, and the failed one is kept
    assert (out / "01_domain_setup" / "results.json").is_file()
    assert not (out / "03_aggregation.ipynb").exists()
    assert not stale.exists()   # the failed notebook's old results cannot pass for new ones
    assert error.output == out.resolve() / "02_local_training.ipynb"
    executed = nbformat.read(error.output, as_version=4)
    failed = next(cell for cell in executed.cells if cell.get("execution_count") == 4)
    assert failed.source.startswith("raise ValueError")
    assert failed.outputs[0]["ename"] == "ValueError"


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path, monkeypatch):
    from meshkit.tutorial import chain as pipeline

    monkeypatch.setattr(pipeline, "new_run_id", lambda: "20260101-000000")
    claimed = [pipeline._fresh_run_path(tmp_path / "runs") for _ in range(3)]
    assert [path.name for path in claimed] == ["20260101-000000", "20260101-000000-2",
                                               "20260101-000000-3"]
    assert all(path.is_dir() for path in claimed)


@pytest.mark.slow
def test_default_run_directory_is_a_fresh_sortable_id_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = run_chain(notebooks=FIXTURES, only="01", progress=False)
    second = run_chain(notebooks=FIXTURES, only="01", progress=False)
    assert first.run_dir.parent == second.run_dir.parent == (tmp_path / "runs").resolve()
    assert first.run_dir != second.run_dir
    for run in (first, second):
        assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", run.run_dir.name)
        assert ":" not in run.run_dir.name
    assert first.run_dir.name < second.run_dir.name   # ids sort in run order
