"""Embedded scenarios: deterministic, valid against their contracts, and true to their truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.linalg import subspace_angles
from scipy.optimize import minimize
from scipy.stats import spearmanr

from meshkit import validate
from meshkit._contracts.types import dtype_matches
from meshkit import MeshkitError, SpecError
from meshkit import Mesh
from meshkit.scenarios import SCENARIOS, Scenario, Task, load_scenario
from meshkit.scenarios import _export
from meshkit.scenarios.__main__ import main as scenarios_main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SUPERVISED = [name for name in SCENARIOS if name != "retail"]


@pytest.fixture(scope="module")
def small():
    """Every scenario at scale 0.1, generated once for the module."""
    return {name: load_scenario(name, scale=0.1) for name in SCENARIOS}


# ----------------------------------------------------------------------------- the API


def test_scenarios_lists_the_four_with_retail_first():
    assert SCENARIOS[0] == "retail"
    assert set(SCENARIOS) == {"retail", "healthcare", "finance", "manufacturing"}


def test_default_scenario_is_retail():
    sc = load_scenario(scale=0.05)
    assert isinstance(sc, Scenario) and sc.name == "retail"
    assert sc.task is None and sc.training_products == []


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(SpecError) as info:
        load_scenario("retial")
    message = str(info.value)
    assert all(name in message for name in SCENARIOS)
    assert "'retial'" in message and "did you mean 'retail'" in message


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), "big", True])
def test_bad_scale_is_a_clear_error(scale):
    with pytest.raises(SpecError, match="scale"):
        load_scenario("healthcare", scale=scale)


def test_bad_seed_is_a_clear_error():
    with pytest.raises(SpecError, match="seed"):
        load_scenario("finance", scale=0.1, seed=-3)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_frame_passes_its_contract(small, name):
    sc = small[name]
    assert set(sc.frames) == {p.name for p in sc.mesh.products()}
    for product in sc.mesh.products():
        report = validate(sc.frames[product.name], product.contract)
        assert report.passed, str(report)
        assert sc.frames[product.name].columns == product.columns


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_seed_same_frames_other_seed_other_frames(small, name):
    again = load_scenario(name, scale=0.1, seed=42)
    other = load_scenario(name, scale=0.1, seed=43)
    for product, frame in small[name].frames.items():
        assert frame.equals(again.frames[product])
        assert not frame.equals(other.frames[product])


@pytest.mark.parametrize("name", SCENARIOS)
def test_scale_multiplies_sizes(small, name):
    bigger = load_scenario(name, scale=0.3)
    for product, frame in small[name].frames.items():
        assert bigger.frames[product].height > 2 * frame.height


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_domain_has_an_owner_and_consumers_are_other_domains(small, name):
    mesh = small[name].mesh
    assert len(mesh.domains) >= 3
    for product in mesh.products():
        assert product.owner and product.description
        assert product.consumers and product.domain not in product.consumers


# ----------------------------------------------------------------------------- retail


def test_retail_default_sizes_and_products():
    sc = load_scenario("retail")
    assert sc.frames["customer_profiles"].height == 2000
    assert sc.frames["items"].height == 300
    assert sc.truth["user_factors"].shape == (2000, sc.truth["latent_dim"])
    assert sc.truth["item_factors"].shape == (300, sc.truth["latent_dim"])
    assert [p.domain for p in sc.mesh.products()] == ["orders", "clickstream", "customers",
                                                      "catalog"]


def test_retail_marks_pii_and_keys(small):
    mesh = small["retail"].mesh
    assert set(mesh.product("customer_profiles").pii_columns) == {"name", "email", "phone"}
    assert mesh.product("purchases").pii_columns == []
    assert mesh.product("purchases").primary_key == ["order_id"]
    assert mesh.product("page_views").primary_key == ["event_id"]


def test_retail_ids_refer_to_existing_users_and_items(small):
    sc = small["retail"]
    users = set(sc.frames["customer_profiles"]["user_id"])
    items = set(sc.frames["items"]["item_id"])
    for product in ("purchases", "page_views"):
        assert set(sc.frames[product]["user_id"]) <= users
        assert set(sc.frames[product]["item_id"]) <= items


def test_retail_users_overlap_between_orders_and_clickstream(small):
    sc = small["retail"]
    buyers = set(sc.frames["purchases"]["user_id"])
    browsers = set(sc.frames["page_views"]["user_id"])
    both = buyers & browsers
    assert len(both) > 0.6 * sc.truth["n_users"]
    assert buyers != browsers  # yet not the same population


def test_retail_prices_come_from_the_catalog_with_discounts(small):
    sc = small["retail"]
    joined = sc.frames["purchases"].join(sc.frames["items"].select("item_id", "price"),
                                         on="item_id", suffix="_list")
    ratio = (joined["price"] / joined["price_list"]).to_numpy()
    assert np.all(np.min(np.abs(ratio[:, None] - np.array([1.0, 0.9, 0.8])), axis=1) < 0.01)


def test_retail_interactions_follow_the_latent_preferences():
    sc = load_scenario("retail", scale=0.3)
    truth = sc.truth
    affinity = truth["affinity"]
    bought = affinity[sc.frames["purchases"]["user_id"].to_numpy(),
                      sc.frames["purchases"]["item_id"].to_numpy()].mean()
    viewed = affinity[sc.frames["page_views"]["user_id"].to_numpy(),
                      sc.frames["page_views"]["item_id"].to_numpy()].mean()
    # purchases are more selective than views, and both far above a random pair
    assert bought > viewed > affinity.mean() + 0.8 * affinity.std()
    popularity = sc.frames["page_views"].group_by("item_id").len().sort("item_id")
    counts = np.zeros(truth["n_items"])
    counts[popularity["item_id"].to_numpy()] = popularity["len"].to_numpy()
    assert spearmanr(counts, truth["item_bias"]).statistic > 0.3


def test_retail_low_rank_structure_is_learnable():
    """A rank-k factorization of the interaction matrix recovers the true factor spaces."""
    sc = load_scenario("retail", scale=0.3)
    truth = sc.truth
    both = pl.concat([sc.frames["purchases"].select("user_id", "item_id"),
                      sc.frames["page_views"].select("user_id", "item_id")])
    counts = np.zeros((truth["n_users"], truth["n_items"]))
    np.add.at(counts, (both["user_id"].to_numpy(), both["item_id"].to_numpy()), 1)
    x = np.log1p(counts)
    x = x - x.mean(axis=0) - x.mean(axis=1, keepdims=True) + x.mean()
    u, _, vt = np.linalg.svd(x, full_matrices=False)
    k = truth["latent_dim"]
    assert np.cos(subspace_angles(vt[:k].T, truth["item_factors"])).min() > 0.7
    assert np.cos(subspace_angles(u[:, :k], truth["user_factors"])).min() > 0.6
    # and a random rank-k space would not come close
    random = np.random.default_rng(0).normal(size=(truth["n_items"], k))
    assert np.cos(subspace_angles(random, truth["item_factors"])).min() < 0.6


# ----------------------------------------------------------------------------- supervised


@pytest.mark.parametrize("name", SUPERVISED)
def test_supervised_task_and_training_products(small, name):
    sc = small[name]
    assert isinstance(sc.task, Task) and sc.task.kind == "binary"
    assert sc.training_products == [next(iter(d.products)) for d in sc.mesh.domains.values()]
    for product in sc.training_products:
        frame = sc.frames[product]
        features = frame.select(sc.task.features)
        assert all(dtype == pl.Float64 for dtype in features.dtypes)
        assert features.null_count().sum_horizontal().item() == 0
        assert frame[sc.task.target].dtype == pl.Int64
        assert set(frame[sc.task.target].unique()) <= {0, 1}
        assert sc.task.target not in sc.task.features
    assert sc.truth["feature_names"] == sc.task.features
    assert sc.truth["coefficients"].shape == (len(sc.task.features),)


@pytest.mark.parametrize("name", SUPERVISED)
def test_supervised_domains_are_not_iid(small, name):
    sc = small[name]
    means = np.array([sc.frames[p].select(sc.task.features).mean().row(0)
                      for p in sc.training_products])
    pooled = pl.concat([sc.frames[p].select(sc.task.features) for p in sc.training_products])
    spread = np.array(pooled.std().row(0))
    # some feature's mean moves by more than half a pooled deviation between domains
    assert ((means.max(axis=0) - means.min(axis=0)) / spread).max() > 0.5
    sizes = [sc.frames[p].height for p in sc.training_products]
    assert len(set(sizes)) > 1


def _pooled(sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    frame = pl.concat([sc.frames[p] for p in sc.training_products])
    return frame.select(sc.task.features).to_numpy(), frame[sc.task.target].to_numpy()


def _log_loss(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    z = theta[0] + x @ theta[1:]
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@pytest.mark.parametrize("name", SUPERVISED)
def test_labels_come_from_the_true_model(name):
    sc = load_scenario(name)
    x, y = _pooled(sc)
    truth = sc.truth
    true_theta = np.concatenate([[truth["intercept"]], truth["coefficients"]])
    base_rate = y.mean()
    null_theta = np.concatenate([[np.log(base_rate / (1 - base_rate))], np.zeros(x.shape[1])])
    assert _log_loss(true_theta, x, y) < _log_loss(null_theta, x, y) - 0.05
    # a logistic regression fitted on standardized features finds the true coefficients
    z = (x - truth["center"]) / truth["spread"]
    fit = minimize(_log_loss, np.zeros(z.shape[1] + 1), args=(z, y), method="BFGS")
    learned = fit.x[1:]
    expected = truth["standardized_coefficients"]
    assert np.corrcoef(learned, expected)[0, 1] > 0.9
    assert np.all(np.sign(learned) == np.sign(expected))
    accuracy = np.mean(((truth["intercept"] + x @ truth["coefficients"]) > 0) == y)
    assert accuracy > max(base_rate, 1 - base_rate)


def test_finance_fraud_is_rare_but_present():
    sc = load_scenario("finance")
    _, y = _pooled(sc)
    assert 0.05 <= y.mean() <= 0.10
    assert all(sc.frames[p][sc.task.target].sum() > 0 for p in sc.training_products)


@pytest.mark.parametrize("name", SUPERVISED)
def test_positive_rates_in_truth_match_the_frames(small, name):
    sc = small[name]
    for product, domain in zip(sc.training_products, sc.mesh.domains):
        assert sc.truth["positive_rates"][domain] == pytest.approx(
            sc.frames[product][sc.task.target].mean())
        assert sc.truth["sizes"][domain] == sc.frames[product].height


def test_pii_is_marked_where_it_exists(small):
    assert small["healthcare"].mesh.product("north_admissions").pii_columns == [
        "medical_record_number", "patient_name"]
    assert small["finance"].mesh.product("harbor_transactions").pii_columns == [
        "account_number", "card_holder_name"]
    assert all(not p.pii_columns for p in small["manufacturing"].mesh.products())


# ----------------------------------------------------------------------------- data/


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_committed_data_folder_equals_a_fresh_export(tmp_path):
    written = _export.export(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == _files(tmp_path)
    assert _files(DATA) == _files(tmp_path), "run: python -m meshkit.scenarios export data/"
    for name in _files(tmp_path):
        fresh, committed = tmp_path / name, DATA / name
        if fresh.suffix == ".parquet":  # compare content, not encoder bytes
            assert pl.read_parquet(committed).equals(pl.read_parquet(fresh)), name
        else:
            assert committed.read_bytes() == fresh.read_bytes(), name


def test_data_folder_is_small():
    assert sum((DATA / name).stat().st_size for name in _files(DATA)) < 1_000_000


@pytest.mark.parametrize("name", SCENARIOS)
def test_committed_specs_load_and_samples_validate(name):
    mesh = Mesh.load(DATA / name / "mesh.yaml")
    generated = load_scenario(name, scale=0.1).mesh
    assert [p.name for p in mesh.products()] == [p.name for p in generated.products()]
    for product in mesh.products():
        assert product.contract.to_dict() == generated.product(product.name).contract.to_dict()
        frame = mesh.read_source(product.name)
        assert 0 < frame.height <= _export.SAMPLE_ROWS
        report = validate(frame, product.contract)
        assert report.passed, str(report)
        for prop in product.contract.properties:
            assert dtype_matches(prop.logical_type, frame.schema[prop.name]), prop.name
    assert {Path(s).suffix for s in mesh.catalog()["source"]} <= {".csv", ".parquet"}


def test_samples_show_both_formats():
    suffixes = {Path(name).suffix for name in _files(DATA) if "/samples/" in name}
    assert suffixes == {".csv", ".parquet"}


def test_export_command_writes_one_scenario(tmp_path, capsys):
    assert scenarios_main(["export", str(tmp_path), "--scenario", "finance"]) == 0
    printed = capsys.readouterr().out.split()
    assert "finance/mesh.yaml" in printed and "README.md" in printed
    assert not (tmp_path / "retail").exists()
    assert Mesh.load(tmp_path / "finance").product("alpine_transactions").source.is_file()


def test_export_removes_stale_generated_files_only(tmp_path):
    folder = tmp_path / "finance"
    (folder / "contracts").mkdir(parents=True)
    (folder / "contracts" / "old_product.yaml").write_text("stale")
    (folder / "notes.txt").write_text("mine")
    _export.export(tmp_path, scenarios=["finance"])
    assert not (folder / "contracts" / "old_product.yaml").exists()
    assert (folder / "notes.txt").read_text() == "mine"


def test_export_refuses_an_unknown_scenario(tmp_path):
    with pytest.raises(MeshkitError, match="unknown scenario"):
        _export.export(tmp_path, scenarios=["space"])
    with pytest.raises(SystemExit):
        scenarios_main(["export", str(tmp_path), "--scenario", "space"])
