"""The run directory that carries artifacts between notebooks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from meshkit import RunError
from meshkit.tutorial.runs import RunDir, ensure_published


def test_results_round_trip_with_numpy_values(tmp_path):
    run = RunDir(tmp_path / "run")
    path = run.write_results("02_local_training", {"acc": np.float32(0.75), "sizes": np.arange(3),
                                                   "pair": (1, 2)})
    assert path == tmp_path / "run" / "02_local_training" / "results.json"
    assert run.read_results("02_local_training") == {"acc": 0.75, "sizes": [0, 1, 2], "pair": [1, 2]}
    assert run.read_results("03_aggregation") == {}
    assert not list(path.parent.glob(".*"))  # no temporary file left behind


def test_a_damaged_results_file_is_a_run_error_naming_it(tmp_path):
    run = RunDir(tmp_path)
    (run.folder("01_domain_setup") / "results.json").write_text("{not json")
    with pytest.raises(RunError, match="results.json"):
        run.read_results("01_domain_setup")


def test_ensure_published_publishes_once_and_records_the_draw(tmp_path):
    run = RunDir(tmp_path)
    sc, store = ensure_published(run, "retail", scale=0.05, seed=1)
    names = sorted(p.name for p in sc.mesh.products())
    assert sorted(store.products()) == names
    assert all(store.latest_version(n) == 0 for n in names)
    assert run.published() == {"retail": {"scale": 0.05, "seed": 1}}
    ensure_published(run, "retail", scale=0.05, seed=1)  # again: nothing new
    assert all(store.latest_version(n) == 0 for n in names)
    # another scenario may share the store
    ensure_published(run, "healthcare", scale=0.05, seed=1)
    assert set(run.published()) == {"retail", "healthcare"}


def test_ensure_published_replaces_another_draw_of_the_same_scenario(tmp_path):
    # issue 10: changing seed or scale and re-running just works, without mixing draws
    run = RunDir(tmp_path)
    _, store = ensure_published(run, "retail", scale=0.05, seed=1)
    before = {n: store.latest_version(n) for n in store.products()}
    sc, store = ensure_published(run, "retail", scale=0.05, seed=2)
    assert {n: store.latest_version(n) for n in store.products()} == before  # all at v0 again
    assert run.published() == {"retail": {"scale": 0.05, "seed": 2}}
    assert all(store.read(n).equals(sc.frames[n]) for n in store.products())


def test_fresh_store_empties_the_store_and_its_record(tmp_path):
    run = RunDir(tmp_path)
    ensure_published(run, "retail", scale=0.05, seed=1)
    store = run.fresh_store()
    assert list(store.products()) == []
    assert run.published() == {}
    assert json.loads(json.dumps(run.published())) == {}
