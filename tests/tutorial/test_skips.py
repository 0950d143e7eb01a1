"""A step the mesh cannot feed: skip_step records and shows why, ``%%unless`` guards the cells.

The magic runs in a real IPython shell (the one a notebook kernel runs), the records in a real
run directory.
"""

from __future__ import annotations

import builtins

import pytest
from IPython.core.interactiveshell import InteractiveShell

from meshkit.tutorial.runs import RunDir
from meshkit.tutorial.skips import Skipped, load_ipython_extension, skip_step
from meshkit.tutorial.summary import headline, summary_lines

NO_TASK = "mesh 'finance' declares no supervised task: nothing to train"


@pytest.fixture(scope="module")
def shell():
    # A doctest run earlier in this process leaves ``builtins._`` behind, and IPython then
    # leaves ``_`` alone: start from a clean slate so ``_`` shows what the display hook got.
    leftover = builtins.__dict__.pop("_", None)
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    yield shell
    InteractiveShell.clear_instance()
    if leftover is not None:
        builtins._ = leftover


def test_a_skipped_cell_does_nothing_and_a_cell_that_runs_runs_as_written(shell):
    shell.user_ns.update(skipped=Skipped("02_local_training", NO_TASK), ran=[])
    result = shell.run_cell("%%unless skipped\nran.append(1)\n1 / 0")
    assert result.success and shell.user_ns["ran"] == []  # nothing ran, nothing failed

    shell.user_ns["skipped"] = None
    result = shell.run_cell("%%unless skipped\nran.append(2)\n40 + 2")
    assert shell.user_ns["ran"] == [2]
    assert shell.user_ns["_"] == 42  # the last expression is displayed as in a plain cell

    failed = shell.run_cell("%%unless skipped\nran.append(3)\n1 / 0")
    assert not failed.success and isinstance(failed.error_in_exec, ZeroDivisionError)
    assert shell.user_ns["ran"] == [2, 3]


def test_unless_reads_any_name_of_the_notebook(shell):
    shell.user_ns.update(no_recommender=Skipped("recommender", "no interactions"), hits=[])
    shell.run_cell("%%unless no_recommender\nhits.append('recommender')")
    shell.user_ns["no_recommender"] = None
    shell.run_cell("%%unless no_recommender\nhits.append('recommender')")
    assert shell.user_ns["hits"] == ["recommender"]
    missing = shell.run_cell("%%unless not_defined_anywhere\nhits.append('x')")
    assert isinstance(missing.error_in_exec, NameError) and shell.user_ns["hits"] == [
        "recommender"]


def test_skip_step_records_shows_and_forgets_a_reason(scenarios, tmp_path):
    run = RunDir(tmp_path)
    finance, retail = scenarios["finance"], scenarios["retail"]
    skipped = skip_step(run, "03_aggregation", finance, "recommender")
    assert skipped.step == "recommender" and "declares no interactions" in skipped.reason
    bundle = skipped._repr_mimebundle_()
    assert bundle["text/plain"] == f"skipped: {skipped.reason}"
    assert skipped.reason.replace("'", "&#x27;") in bundle["text/html"]
    assert str(skipped) == f"skipped: {skipped.reason}"
    # the notebook's own results, written at its end, keep the skipped section
    run.write_results("03_aggregation", {"rounds": 3})
    assert run.read_results("03_aggregation") == {
        "rounds": 3, "skipped": {"recommender": skipped.reason}}
    assert headline("03_aggregation", run.read_results("03_aggregation")) == (
        f"rounds 3; recommender skipped: {skipped.reason}")
    # the same run directory on a mesh with interactions: the old reason is gone
    assert skip_step(run, "03_aggregation", retail, "recommender") is None
    assert run.read_results("03_aggregation") == {"rounds": 3}
    assert skip_step(run, "02_local_training", retail) is None
    assert run.read_results("02_local_training") == {}  # nothing written when it can run


def test_the_summary_says_skipped_with_the_reason():
    results = {"01_domain_setup": {},
               "02_local_training": {"mesh": "own", "skipped": {"02_local_training": NO_TASK}}}
    assert summary_lines(results) == ["01_domain_setup: (no results.json)",
                                      f"02_local_training: skipped: {NO_TASK}"]


def test_the_walkthrough_keeps_the_denies_the_mesh_declares(scenarios, tmp_path):
    from meshkit import Mesh, Policy
    from meshkit.tutorial.walkthrough import plan_walkthrough

    retail = scenarios["retail"]
    assert plan_walkthrough(retail.mesh, retail.frames).denies == []
    folder = retail.mesh.save(tmp_path / "retail_copy")
    spec = folder / "mesh.yaml" if folder.is_dir() else folder
    text = spec.read_text()
    assert "denies:" not in text
    spec.write_text(text + "denies:\n- {id: no-items, role: analyst, product: items, "
                           "action: read, reason: not for analysts}\n")
    mesh = Mesh.load(spec)
    plan = plan_walkthrough(mesh, retail.frames)
    assert [d["id"] for d in plan.denies] == ["no-items"]
    assert plan.to_dict()["denies"] == plan.denies
    assert "deny(ies) the mesh declares" in str(plan)
    policy = Policy.from_dict({"grants": plan.grants, "denies": plan.denies})
    assert [d.id for d in policy.denies] == ["no-items"]
