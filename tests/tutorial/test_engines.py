"""Notebook 03's engine comparison: governed training products, the same job on both engines."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import polars as pl
import pytest

from meshkit import (TRAINING_PURPOSE, FedAvg, FederationError, ProductSource, make_model, open_domain_home,
                     run_federated, training_data)
from meshkit.tutorial.engines import FLOWER_MISSING, compare_engines, engine_table, governed_sources, training_inputs
from meshkit.tutorial.experiment import Setup, domain_datasets, prepare


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


def test_governed_sources_with_the_federations_scaling_train_as_the_setups_datasets(scenarios, tmp_path):
    sc = scenarios["healthcare"]
    setup = prepare(sc, seed=3)
    assert setup.scaling is not None and len(setup.scaling[0]) == len(sc.task.features)
    sources = governed_sources(sc, sc.frames, tmp_path / "gov", scaling=setup.scaling)
    assert list(sources) == list(setup.datasets)
    for i, (domain, source) in enumerate(sources.items()):
        assert source.standardize is False
        assert ProductSource.from_node_config(source.node_config(domain)).scaling == source.scaling
        data, expected = source.read(domain, seed=3, index=i), setup.datasets[domain]
        for field in ("X_train", "y_train", "X_test", "y_test"):
            np.testing.assert_array_equal(getattr(data, field), getattr(expected, field))
    governed = run_federated(setup.model, sources, FedAvg(), rounds=2, seed=3, progress=False)
    plain = run_federated(setup.model, domain_datasets(sc, seed=3), FedAvg(), rounds=2, seed=3, progress=False)
    for a, b in zip(governed.parameters, plain.parameters):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    own = run_federated(setup.model, governed_sources(sc, sc.frames, tmp_path / "own"), FedAvg(), rounds=2,
                        seed=3, progress=False)  # each domain's own statistics: another job
    assert not np.allclose(own.parameters[0], plain.parameters[0], atol=1e-6)


def test_training_inputs_are_the_setups_datasets_on_the_local_engine_and_refuse_what_cannot_run(scenarios, tmp_path):
    sc = scenarios["healthcare"]
    setup = prepare(sc, seed=3)
    assert training_inputs(setup, "local", sc, sc.frames, tmp_path / "unused") is setup.datasets
    assert not (tmp_path / "unused").exists()  # nothing built for the local engine
    with pytest.raises(FederationError, match="unknown engine"):
        training_inputs(setup, "spark", sc, sc.frames, tmp_path / "x")
    if importlib.util.find_spec("flwr") is not None:
        unscaled = Setup(setup.datasets, setup.model, setup.metric, setup.metrics)
        with pytest.raises(FederationError, match="standardized"):
            training_inputs(unscaled, "flower", sc, sc.frames, tmp_path / "x")
    with pytest.raises(FederationError, match="one mean and one deviation per feature"):
        governed_sources(sc, sc.frames, tmp_path / "bad", scaling=(np.zeros(2), np.ones(2)))
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_a_product_source_refuses_a_scaling_it_cannot_apply(tmp_path):
    args = ("p", tmp_path, tmp_path / "k", tmp_path / "t", ("x0", "x1"), "y")
    with pytest.raises(FederationError, match="positive"):
        ProductSource(*args, scaling=([0.0, 1.0], [1.0, 0.0]))
    with pytest.raises(FederationError, match="not both"):
        ProductSource(*args, standardize=True, scaling=([0.0, 1.0], [1.0, 2.0]))
    source = ProductSource(*args, scaling=(np.array([0.1, 1 / 3]), np.array([2.0, np.pi])))
    assert ProductSource.from_node_config(source.node_config("a")).scaling == ((0.1, 1 / 3), (2.0, np.pi))
    with pytest.raises(FederationError, match="not JSON"):
        ProductSource.from_node_config({**source.node_config("a"), "scaling": "[0.1,"})
    frame = pl.DataFrame({"x0": [1.0, 2.0, 3.0, 5.0], "x1": [0.0, 1.0, 0.0, 1.0], "y": [0, 1, 0, 1]})
    scaled = training_data(frame, "a", features=["x0", "x1"], target="y", scaling=([1.0, 0.5], [2.0, 0.5]))
    plain = training_data(frame, "a", features=["x0", "x1"], target="y")
    np.testing.assert_array_equal(scaled.X_train, (plain.X_train - [1.0, 0.5]) / [2.0, 0.5])
    np.testing.assert_array_equal(scaled.y_test, plain.y_test)


@pytest.mark.slow
def test_the_main_run_on_flower_trains_each_domain_from_its_governed_product_as_the_local_engine(scenarios,
                                                                                                tmp_path):
    pytest.importorskip("flwr")
    sc = scenarios["retail"]  # 2 domains, 2 rounds
    setup = prepare(sc, seed=3)
    inputs = training_inputs(setup, "flower", sc, sc.frames, tmp_path / "gov")
    assert all(isinstance(s, ProductSource) and s.scaling is not None for s in inputs.values())
    flower = run_federated(setup.model, inputs, FedAvg(), rounds=2, seed=3, progress=False, engine="flower")
    local = run_federated(setup.model, setup.datasets, FedAvg(), rounds=2, seed=3, progress=False)
    for a, b in zip(flower.parameters, local.parameters):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    for k in ("accuracy", "log_loss", "auc"):
        assert flower.final[k] == pytest.approx(local.final[k], abs=1e-6)
    reads = [r for r in open_domain_home(inputs["orders"].home, inputs["orders"].master_key).model.audit.records()
             if r.get("action") == "read"]
    assert reads and reads[-1]["principal"] == "train-orders" and reads[-1]["purpose"] == TRAINING_PURPOSE
