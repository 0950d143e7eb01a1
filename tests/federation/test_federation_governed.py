"""Training reads the domain's product through its governed path (ProductSource): the domain's
grants, row filters and the token's purpose decide what training sees. No Flower needed here;
the same reads on Flower nodes are in test_federation_flower_governed.py."""

from __future__ import annotations

import json
import os

import numpy as np
import polars as pl
import pytest

from meshkit import (AuthorizationError, FedAvg, IntegrityError, LogisticRegression, SecurityError,
                     TRAINING_PURPOSE, open_domain_home, read_master_key, run_federated, training_data)
from governed_domains import FEATURES, ROW_FILTER, governed_mesh


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    return governed_mesh(tmp_path_factory.mktemp("governed"))


def _expected(mesh, domain, seed=3, index=1):
    frame = mesh.frames[domain]
    if ROW_FILTER[domain]:
        frame = frame.filter(pl.col("x0") > 0)  # the grant's row filter, applied here by polars
    return training_data(frame, domain, features=FEATURES, target="y", seed=seed, index=index)


def test_the_node_reads_what_the_grant_allows_and_the_read_is_audited_in_the_domains_home(mesh):
    data = mesh.sources["b"].read("b", seed=3, index=1)
    expected = _expected(mesh, "b")
    assert data.n_train + data.n_test == int((mesh.frames["b"]["x0"] > 0).sum()) < len(mesh.frames["b"])
    np.testing.assert_array_equal(data.X_train, expected.X_train)
    np.testing.assert_array_equal(data.y_test, expected.y_test)
    assert data.provenance == {"product": "b_points", "product_version": 0}
    records = [r for r in open_domain_home(mesh.sources["b"].home, mesh.sources["b"].master_key).model.audit.records()
               if r.get("action") == "read"]
    assert records[-1]["principal"] == "train-b" and records[-1]["purpose"] == TRAINING_PURPOSE
    assert records[-1]["allowed"] is True and records[-1]["row_filters"] == ["x0 > 0"]


def test_a_token_with_another_purpose_is_refused(mesh):
    mesh.token("a", purpose="marketing")
    try:
        with pytest.raises(AuthorizationError, match="purpose"):
            mesh.sources["a"].read("a")
    finally:
        mesh.token("a")
    assert mesh.sources["a"].read("a").n_train > 0


def test_the_domain_home_opens_only_with_its_own_master_key_kept_private(mesh, tmp_path):
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    other.chmod(0o600)
    with pytest.raises(IntegrityError, match="does not open"):
        open_domain_home(mesh.sources["a"].home, other)
    other.chmod(0o644)
    with pytest.raises(SecurityError, match="open to others"):
        read_master_key(other)
    home = json.loads((mesh.sources["a"].home / "governance.json").read_text())
    text = json.dumps(home)
    for key in ("keyset", "audit_signer"):  # secrets only sealed
        assert "sealed" in home[key]
    assert read_master_key(mesh.sources["a"].master_key).hex() not in text


def test_the_local_engine_on_product_sources_trains_on_the_filtered_frame(mesh):
    model = LogisticRegression(lr=0.5)
    governed = run_federated(model, mesh.sources, FedAvg(), rounds=2, seed=3, progress=False)
    filtered = {d: _expected(mesh, d, seed=3, index=i) for i, d in enumerate(mesh.sources)}
    plain = {d: training_data(mesh.frames[d], d, features=FEATURES, target="y", seed=3, index=i)
             for i, d in enumerate(mesh.sources)}
    reference = run_federated(model, filtered, FedAvg(), rounds=2, seed=3, progress=False)
    unfiltered = run_federated(model, plain, FedAvg(), rounds=2, seed=3, progress=False)
    for a, b in zip(governed.parameters, reference.parameters):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert not np.allclose(governed.parameters[0], unfiltered.parameters[0], atol=1e-3)  # the filter shows


def test_training_data_names_the_columns_the_reader_may_not_see():
    from meshkit import FederationError

    frame = pl.DataFrame({"x0": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    with pytest.raises(FederationError, match="lacks the task's columns") as caught:
        training_data(frame, "a", features=["x0", "x1"], target="y")
    assert "x1" in str(caught.value)
    masked = pl.DataFrame({"x0": ["1***", "2***", "3***"], "y": [0, 1, 0]})
    with pytest.raises(FederationError, match="not numeric"):
        training_data(masked, "a", features=["x0"], target="y")
    standardized = training_data(pl.DataFrame({"x0": [1.0, 2.0, 3.0, 5.0], "y": [0, 1, 0, 1]}), "a",
                                 features=["x0"], target="y", standardize=True)
    assert standardized.X_train.mean() == pytest.approx(0.0, abs=1e-12)
    assert standardized.X_train.std() == pytest.approx(1.0)
