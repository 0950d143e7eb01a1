"""The tutorial layer the notebooks call instead of carrying logic: results, comparisons,
the unsigned-token attack, and the generated navigation."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import meshkit as mk
from meshkit import AuthenticationError, Identity, Principal, RunError, SeededKeySource, train_local
from meshkit._security.tokens import Directory, TokenVerifier
from meshkit.scenarios import load_scenario
from meshkit.tutorial import navigation
from meshkit.tutorial.attacks import deleted_file, truncated_log, unsigned_token
from meshkit.tutorial.compare import compare_copy, sketch_bounds
from meshkit.tutorial.experiment import (compare_strategies, prepare, private_runs, recommender_comparison,
                                         secure_against_plain, strategy_table)
from meshkit.tutorial.chain import CHAIN, default_notebooks
from meshkit.tutorial.inject import stale_copy
from meshkit.tutorial.results import (aggregation_results, home_and_visitors, local_summary,
                                      local_training_results, rounded)

NOTEBOOKS = default_notebooks()


# ------------------------------------------------------------------------------ results


def test_home_and_visitors_read_the_cross_matrix_by_column():
    cross = np.array([[0.9, 0.2, 0.4], [0.6, 0.8, 0.1], [0.3, 0.5, 0.7]])
    scores = home_and_visitors(["a", "b", "c"], cross)
    assert scores["a"] == (0.9, pytest.approx(0.45))
    assert scores["b"] == (0.8, pytest.approx(0.35))
    assert scores["c"] == (0.7, pytest.approx(0.25))
    assert home_and_visitors(["alone"], np.array([[0.6]])) == {"alone": (0.6, 0.0)}


def test_local_training_results_match_the_local_models():
    sc = load_scenario("healthcare", scale=0.1, seed=2)
    setup = prepare(sc, seed=0)
    local = train_local(setup.model, setup.datasets, epochs=2, seed=0)
    results = local_training_results("healthcare", setup, local, epochs=2)
    names, cross = local.matrix("accuracy")
    assert results["domains"] == names == list(sc.task.products)
    assert results["cross"] == np.round(cross, 4).tolist()
    for j, name in enumerate(names):
        assert results["home"][name] == round(cross[j, j], 4)
        others = [cross[i, j] for i in range(len(names)) if i != j]
        assert results["visitors"][name] == pytest.approx(np.mean(others), abs=1e-4)
    assert results["mean_home"] == pytest.approx(np.mean(np.diag(cross)), abs=1e-4)
    json.dumps(results)  # plain JSON values
    table = local_summary(setup, local, "accuracy")
    assert table["test_domain"].to_list() == names
    assert table["home_accuracy"].to_list() == [results["home"][n] for n in names]


def test_aggregation_results_record_a_skipped_recommender_with_its_reason():
    sc = load_scenario("finance", scale=0.1, seed=2)
    setup = prepare(sc, seed=0)
    history = mk.run_federated(setup.model, setup.datasets, mk.FedAvg(), rounds=2, progress=False)
    _, central = mk.train_centralized(setup.model, setup.datasets, epochs=2, seed=0)
    skipped = recommender_comparison(sc)
    assert skipped["rows"] == [] and "declares no interactions" in skipped["skipped"]
    results = aggregation_results("finance", setup, mk.FedAvg(), history, central,
                                  {"accuracy": 0.123456}, strategies=[], privacy=[],
                                  recommender=skipped, rounds=2, fraction=1.0, local_epochs=1)
    assert results["recommender"] == {"skipped": skipped["skipped"]}
    assert results["local_mean"] == {"accuracy": 0.1235}
    assert results["federated"] == {k: round(v, 4) for k, v in history.final.items()}
    assert len(results["curve"]) == 2
    assert results["record_privacy"] == [] and results["robustness"] == []
    more = aggregation_results("finance", setup, mk.FedAvg(), history, central, {}, strategies=[],
                               privacy=[], recommender=skipped, rounds=2, fraction=1.0,
                               local_epochs=1, record_privacy=[{"epsilon_max": 1.234567}],
                               robustness=pl.DataFrame({"rule": ["fedavg"], "none": [0.812345]}),
                               secure={"max_difference": 1e-12, "within_bound": True})
    assert more["record_privacy"] == [{"epsilon_max": 1.2346}]
    assert more["robustness"] == [{"rule": "fedavg", "none": 0.8123}]
    assert more["secure_aggregation"]["within_bound"] is True
    json.dumps(more)


def test_private_runs_report_epsilon_and_metrics_per_noise_level():
    setup = prepare(load_scenario("healthcare", scale=0.1, seed=2), seed=0)
    rows = private_runs(setup, [0.5, 4.0], clip_norm=0.5, rounds=3, seed=1)
    assert [r["noise_multiplier"] for r in rows] == [0.5, 4.0]
    assert rows[0]["epsilon"] > rows[1]["epsilon"] > 0  # more noise, less privacy loss
    assert {"accuracy", "auc", "log_loss"} <= set(rows[0])
    assert all(r["private"] for r in rows)  # noise from the OS CSPRNG
    assert private_runs(setup, [], clip_norm=0.5, rounds=3) == []
    # epsilon is dp-accounting's for 3 rounds, all domains sampled (fraction 1)
    from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent, SelfComposedDpEvent
    from dp_accounting.rdp import RdpAccountant
    accountant = RdpAccountant()
    accountant.compose(SelfComposedDpEvent(PoissonSampledDpEvent(1.0, GaussianDpEvent(0.5)), 3))
    assert rows[0]["epsilon"] == round(accountant.get_epsilon(1e-5), 2)
    # fewer sampled per round: a smaller sampling rate, less privacy loss
    sampled = private_runs(setup, [0.5], clip_norm=0.5, rounds=3, seed=1, num_sampled=1)
    assert sampled[0]["epsilon"] < rows[0]["epsilon"]
    # seeded noise is labelled not private and repeats exactly
    seeded = [private_runs(setup, [0.5], clip_norm=0.5, rounds=3, seed=1, noise_seed=7)[0]
              for _ in range(2)]
    assert seeded[0] == seeded[1] and not seeded[0]["private"]


def test_strategy_table_keeps_the_note_only_when_a_strategy_could_not_run():
    setup = prepare(load_scenario("healthcare", scale=0.1, seed=2), seed=0)
    rows, _ = compare_strategies(setup, {"fedavg": {}, "fedmedian": {}}, rounds=1, progress=False)
    table = strategy_table(rows)
    assert "note" not in table.columns and table["strategy"].to_list() == ["FedAvg", "FedMedian"]
    rows, _ = compare_strategies(setup, {"fedavg": {}, "bulyan": {"f": 1}}, rounds=1, progress=False)
    table = strategy_table(rows)
    assert table["note"].to_list()[0] == "" and "bulyan" in table["note"].to_list()[1]


def test_secure_aggregation_matches_plain_fedavg_within_its_stated_bound():
    rng = np.random.default_rng(3)
    thetas = {f"d{i}": [rng.normal(size=(4, 3)), rng.normal(size=3)] for i in range(5)}
    weights = {name: int(rng.integers(10, 500)) for name in thetas}
    out = secure_against_plain(thetas, weights)
    total = sum(weights.values())
    plain = [sum(weights[n] * thetas[n][k] for n in thetas) / total for k in range(2)]
    secure = mk.aggregate(thetas, weights, secure=True)
    assert out["max_difference"] == pytest.approx(
        max(float(np.max(np.abs(p - s))) for p, s in zip(plain, secure)), abs=1e-12)
    assert out["domains"] == 5 and 0 < out["error_bound"] < 1e-6
    assert out["within_bound"] and out["max_difference"] <= out["error_bound"]


def test_rounded_keeps_non_floats():
    assert rounded({"a": [np.float64(0.123456), 3, None, "x"], "b": (1 / 3,)}, 2) == {
        "a": [0.12, 3, None, "x"], "b": [0.33]}


# ------------------------------------------------------------------------- comparisons


@pytest.fixture(scope="module")
def copy_pair():
    sc = load_scenario("retail", scale=0.2, seed=5)
    source = sc.frames["customer_profiles"]
    copy, _ = stale_copy(source, "user_id", seed=1, fraction=0.2)
    return source, copy


@pytest.mark.parametrize("mode", ["exact", "sketch"])
def test_compare_copy_equals_the_library_call_in_each_mode(copy_pair, mode):
    source, copy = copy_pair
    report = compare_copy(source, copy, keys="user_id", threshold=0.9, mode=mode,
                          names=("ref", "copy"))
    if mode == "sketch":
        expected = mk.consistency(mk.profile(source, "user_id", name="ref"),
                                  mk.profile(copy, "user_id", name="copy"), threshold=0.9,
                                  keys="user_id", names=("ref", "copy"))
    else:
        expected = mk.consistency(source, copy, threshold=0.9, keys="user_id",
                                  names=("ref", "copy"))
    assert report.consistent == expected.consistent
    assert report.similarity.mode == expected.similarity.mode
    assert report.similarity.weights == expected.similarity.weights
    if mode == "exact":
        assert report.score == expected.score
    else:  # KLL sketches are randomized: equal on the exact layers, close on the estimated one
        mine, theirs = report.similarity.layers, expected.similarity.layers
        assert list(mine) == list(theirs)
        for name in mine:
            if mine[name].estimated:
                assert mine[name].score == pytest.approx(theirs[name].score, abs=0.02)
            else:
                assert mine[name].score == theirs[name].score
    with pytest.raises(mk.ConsistencyError, match="mode"):
        compare_copy(source, copy, keys="user_id", threshold=0.9, mode="approximate")


def test_sketch_bounds_hold_and_would_flag_an_estimate_outside(copy_pair):
    source, copy = copy_pair
    exact = mk.similarity(source, copy, keys="user_id")
    sketched = mk.similarity(mk.profile(source, "user_id"), mk.profile(copy, "user_id"))
    bounds = sketch_bounds(exact, sketched)
    assert bounds["figure"][0] == "keys jaccard" and bounds["within"].all()
    assert bounds.filter(pl.col("figure").str.starts_with("KS ")).height >= 1
    # against a different pair's exact figures the same estimates fall outside
    other = mk.similarity(source, source.head(source.height // 3), keys="user_id")
    assert not sketch_bounds(other, sketched)["within"].all()


# ------------------------------------------------------------------------------ attacks


def test_unsigned_token_is_refused_by_the_verifier():
    now = datetime(2026, 6, 1, 9, tzinfo=UTC)
    ana = Identity.generate(Principal("ana"), source=SeededKeySource(1))
    verifier = TokenVerifier(Directory([ana.public()]), audience="mesh")
    verifier.verify(ana.issue_token(audience="mesh", now=now), now=now)  # a signed one passes
    token = unsigned_token(subject="ana", audience="mesh", now=now)
    header = json.loads(_b64(token.split(".")[0]))
    claims = json.loads(_b64(token.split(".")[1]))
    assert header["alg"] == "none" and token.endswith(".")
    assert claims["aud"] == "mesh" and claims["exp"] - claims["iat"] == 900
    with pytest.raises(AuthenticationError):
        verifier.verify(token, now=now)


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# --------------------------------------------------------------------------- navigation


def test_committed_navigation_and_contents_are_up_to_date():
    assert navigation.update(NOTEBOOKS, check=True) == [], \
        "run: python -m meshkit.tutorial.navigation notebooks"


def test_every_link_of_every_notebook_resolves():
    import re

    names = [navigation.CONTENTS, *CHAIN]
    for name in names:
        notebook = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
        text = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
        for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", text):
            assert (NOTEBOOKS / target).is_file(), f"{name} links to missing {target}"
    contents = json.loads((NOTEBOOKS / "00_contents.ipynb").read_text())
    text = "".join(contents["cells"][0]["source"])
    assert all(f"({name}.ipynb)" in text for name in CHAIN)


def test_navigation_is_one_style_first_and_last(tmp_path):
    for name in CHAIN:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path)
    assert navigation.update(tmp_path) == [tmp_path / "00_contents.ipynb"]
    titles = {}
    for name in CHAIN:
        notebook = json.loads((tmp_path / f"{name}.ipynb").read_text())
        first, last = notebook["cells"][0], notebook["cells"][-1]
        assert first["source"] == last["source"] and "navigation" in first["metadata"]["tags"]
        titles[name] = navigation.title(notebook)
    line = "".join(json.loads((tmp_path / "03_aggregation.ipynb").read_text())["cells"][0]["source"])
    assert line == ("*[Contents](00_contents.ipynb) · ← [02 · Local training](02_local_training.ipynb)"
                    " · [04 · Consistency](04_consistency.ipynb) →*")
    first = "".join(json.loads((tmp_path / "01_domain_setup.ipynb").read_text())["cells"][0]["source"])
    assert "←" not in first and "→" in first
    # a retitled notebook changes its neighbours' links, and running again changes nothing
    notebook = json.loads((tmp_path / "02_local_training.ipynb").read_text())
    notebook["cells"][1]["source"] = ["# 02 · Alone: each domain\n"] + notebook["cells"][1]["source"][1:]
    (tmp_path / "02_local_training.ipynb").write_text(json.dumps(notebook))
    changed = {p.name for p in navigation.update(tmp_path)}
    assert {"01_domain_setup.ipynb", "03_aggregation.ipynb", "00_contents.ipynb"} <= changed
    assert navigation.update(tmp_path, check=True) == []
    assert navigation.main(["--check", str(tmp_path)]) == 0


def test_a_notebook_without_a_title_is_named(tmp_path):
    (tmp_path / "01_domain_setup.ipynb").write_text(json.dumps(
        {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["no heading"]}],
         "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(RunError, match="no title") as info:
        navigation.update(tmp_path)
    assert "01_domain_setup.ipynb" in str(info.value)


# ------------------------------------------------------------------------------ batches


@pytest.mark.parametrize("name", ["retail", "healthcare", "finance", "manufacturing"])
def test_the_broken_batch_is_refused_and_the_next_batch_accepted(name):
    from meshkit.tutorial.batches import broken_batch, next_batch

    sc = load_scenario(name, scale=0.1, seed=4)
    product = next(sc.mesh.products())
    frame = sc.frames[product.name]
    key = product.contract.primary_key[0]
    broken = broken_batch(frame, product.contract)
    assert broken.height == min(200, frame.height) + 1
    assert broken[key].null_count() == len(range(7, broken.height, 50))
    report = mk.validate(broken, product.contract)
    assert not report.passed
    failed = " ".join(c.name for c in report.failed)
    assert key in failed
    grown = next_batch(frame, product.contract)
    assert grown.height == frame.height + max(1, int(frame.height * 0.1))
    assert grown[key].n_unique() == grown.height
    assert mk.validate(grown, product.contract).passed
    assert grown.head(frame.height).equals(frame)


def test_batches_need_a_key():
    from meshkit import ContractError
    from meshkit.tutorial.batches import broken_batch

    sc = load_scenario("retail", scale=0.1)
    contract = sc.mesh.product("items").contract
    keyless = mk.DataContract.from_dict({**contract.to_dict(), "schema": [{
        **contract.to_dict()["schema"][0],
        "properties": [{k: v for k, v in prop.items() if k not in ("primaryKey", "primaryKeyPosition")}
                       for prop in contract.to_dict()["schema"][0]["properties"]]}]})
    with pytest.raises(ContractError, match="key"):
        broken_batch(sc.frames["items"], keyless)


# ----------------------------------------------------------------------------- layering


def test_federation_knows_no_scenario_and_the_library_no_tutorial():
    # what a scenario means for training is data it carries: the federation package never
    # imports the scenarios nor names one of their products, and no library module imports
    # the tutorial layer
    import ast

    package = Path(mk.__file__).parent
    retail = load_scenario("retail", scale=0.1)
    product_names = {p.name for p in retail.mesh.products()}
    for path in sorted(package.glob("_*/*.py")) + sorted(package.glob("_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert not any(m and m.startswith("meshkit.tutorial") for m in imported), path.name
        if path.parent.name == "_federation":
            assert not any(m and m.startswith("meshkit.scenarios") for m in imported), path.name
            strings = {node.value for node in ast.walk(tree)
                       if isinstance(node, ast.Constant) and isinstance(node.value, str)}
            assert not strings & (product_names | {"retail"}), path.name


def test_deleted_file_moves_the_file_aside_and_puts_it_back(tmp_path):
    path = tmp_path / "part-0.parquet"
    path.write_bytes(b"ciphertext")
    with deleted_file(path):
        assert not path.exists() and list(tmp_path.iterdir()) != []
    assert path.read_bytes() == b"ciphertext"
    with pytest.raises(RuntimeError), deleted_file(path):
        raise RuntimeError("the step failed")
    assert path.read_bytes() == b"ciphertext"  # restored on errors too


def test_truncated_log_is_found_only_by_a_witness_and_restored(tmp_path):
    log = mk.AuditLog(Identity.generate(Principal("audit", "service")), path=tmp_path / "audit.jsonl")
    for k in range(12):
        log.append({"action": "read", "k": k})
    log.checkpoint()
    witness = mk.Witness()
    witness.watch(log)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with truncated_log(log.path, 5):
        entries, checkpoints = mk.AuditLog.read(log.path)
        assert len(entries) == 5 and max(c.size for c in checkpoints) <= 5
        alone = mk.AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
        assert alone.ok  # the cut log agrees with itself
        witnessed = mk.AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id,
                                            witness=witness)
        assert not witnessed.ok and "cut back" in str(witnessed)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert mk.AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id, witness=witness).ok


@pytest.mark.slow
def test_two_publisher_processes_each_get_their_own_readable_version(tmp_path):
    from meshkit.tutorial.attacks import demo_store, publish_concurrently

    versions = publish_concurrently(tmp_path / "secure", seed=4, publishers=2)
    assert sorted(versions.values()) == [0, 1]  # never two publishers told the same version
    _, store, owner = demo_store(tmp_path / "secure", seed=4)
    for publisher, version in versions.items():
        assert store.read("notes", owner, version=version)["id"].to_list() == [publisher]
    assert store.history("notes")["version"].to_list() == [1, 0]
