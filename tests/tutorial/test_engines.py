"""Notebook 03's engine comparison: governed training products, the same job on both engines."""

from __future__ import annotations

import json
import sys

import numpy as np
import polars as pl
import pytest

from meshkit import TRAINING_PURPOSE, FedAvg, make_model, open_domain_home, run_federated, training_data
from meshkit.tutorial.engines import FLOWER_MISSING, compare_engines, engine_table, governed_sources


@pytest.fixture(scope="module")
def healthcare(scenarios, tmp_path_factory):
    sc = scenarios["healthcare"]
    return sc, governed_sources(sc, sc.frames, tmp_path_factory.mktemp("engines") / "gov")


def test_each_domain_reads_the_tasks_columns_for_training_and_nothing_else(healthcare):
    sc, sources = healthcare
    assert list(sources) == list(sc.task.products)
    domain, source = next(iter(sources.items()))
    store = open_domain_home(source.home, source.master_key)
    token = source.token.read_text()
    frame = store.read(source.product, token)  # everything the grant shows
    assert frame.columns == [c for c in sc.frames[source.product].columns if c in [*sc.task.features, sc.task.target]]
    assert len(sc.frames[source.product].columns) > len(frame.columns)  # the grant is narrower than the product
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["purpose"] == TRAINING_PURPOSE and claims["sub"] == f"train-{domain}"
    assert oct(source.master_key.stat().st_mode)[-3:] == "600"
    data = source.read(domain, seed=3, index=0)
    expected = training_data(sc.frames[source.product], domain, features=sc.task.features, target=sc.task.target,
                             seed=3, index=0, standardize=True)
    np.testing.assert_allclose(data.X_train, expected.X_train, rtol=0, atol=1e-12)


def test_without_flower_the_comparison_records_the_skip_and_how_to_install(healthcare, monkeypatch):
    sc, sources = healthcare
    monkeypatch.setitem(sys.modules, "flwr", None)
    out = compare_engines(make_model("logistic", lr=0.05, seed=3, n_classes=2), sources, rounds=2, seed=3)
    assert out["skipped"] == FLOWER_MISSING and "meshkit[flower]" in out["skipped"]
    assert [r["engine"] for r in out["engines"]] == ["local"] and out["max_abs_diff"] is None
    local = run_federated(make_model("logistic", lr=0.05, seed=3, n_classes=2), sources, FedAvg(), rounds=2,
                          seed=3, progress=False)
    assert out["engines"][0]["accuracy"] == pytest.approx(local.final["accuracy"], abs=1e-12)
    table = engine_table(out)
    assert table["Flower (s)"].null_count() == table.height and table["local engine (s)"][-1] > 0


@pytest.mark.slow
def test_the_same_job_on_both_engines_agrees_and_says_where_the_time_goes(healthcare):
    pytest.importorskip("flwr")
    sc, sources = healthcare
    out = compare_engines(make_model("logistic", lr=0.05, seed=3, n_classes=2), sources, rounds=2, seed=3)
    assert out["skipped"] is None and out["agree"] is True and out["max_abs_diff"] < 1e-6
    local, flower = out["engines"]
    for k in ("accuracy", "log_loss", "auc"):
        assert flower[k] == pytest.approx(local[k], abs=1e-6)
    timing = out["timing"]["flower"]
    assert len(timing["rounds"]) == 2 and len(timing["training"]) == 2
    assert all(t > 0 for t in timing["training"]) and timing["discovery"] > 0 and timing["startup"] > 0
    table = engine_table(out)
    assert table.columns == ["phase", "local engine (s)", "Flower (s)"]
    total = table.filter(pl.col("phase") == "total")["Flower (s)"][0]
    parts = table.filter(~pl.col("phase").str.starts_with(" ") & (pl.col("phase") != "total")
                         & ~pl.col("phase").str.starts_with("rounds"))["Flower (s)"].sum()
    assert total == pytest.approx(parts + sum(timing["rounds"]))  # the phases add up to the total
