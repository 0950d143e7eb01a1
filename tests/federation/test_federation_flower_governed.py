"""On Flower, each SuperNode's node config names its domain's product and home; the ClientApp
reads it with SecureStore.read and the training service's token (purpose "federated
training"). The domain's row filter changes what is trained on, exactly as on the local
engine trained on the filtered frame; a token with another purpose stops the job."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from meshkit import FederationError, FedAvg, LogisticRegression, TRAINING_PURPOSE, run_federated, training_data
from governed_domains import FEATURES, ROW_FILTER, governed_mesh

pytest.importorskip("flwr")


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    """The two governed domains, each served by its own SuperNode; stopped at the end."""
    from meshkit import LocalFederation

    mesh = governed_mesh(tmp_path_factory.mktemp("governed-flower"))
    fed = LocalFederation({name: source.node_config(name) for name, source in mesh.sources.items()})
    try:
        fed.start()
        yield fed, mesh
    finally:
        fed.stop()
    assert fed._strays() == []


@pytest.mark.slow
def test_fedavg_on_governed_nodes_equals_the_local_engine_on_the_filtered_frames(governed):
    fed, mesh = governed
    model = LogisticRegression(lr=0.5)
    flower = run_federated(model, mesh.sources, FedAvg(), rounds=2, seed=3, progress=False, engine="flower",
                           flower={"federation": fed})
    filtered = {}
    for i, (d, frame) in enumerate(mesh.frames.items()):
        if ROW_FILTER[d]:
            frame = frame.filter(pl.col("x0") > 0)
        filtered[d] = training_data(frame, d, features=FEATURES, target="y", seed=3, index=i)
    local = run_federated(model, filtered, FedAvg(), rounds=2, seed=3, progress=False)
    for a, b in zip(local.parameters, flower.parameters):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    for r_local, r_flower in zip(local.rounds, flower.rounds):
        for k, v in r_local["metrics"].items():
            assert r_flower["metrics"][k] == pytest.approx(v, abs=1e-6)
    unfiltered = run_federated(model, {d: training_data(f, d, features=FEATURES, target="y", seed=3, index=i)
                                       for i, (d, f) in enumerate(mesh.frames.items())},
                               FedAvg(), rounds=2, seed=3, progress=False)
    assert not np.allclose(flower.parameters[0], unfiltered.parameters[0], atol=1e-3)  # the row filter shows
    # the node's read is in the domain's own audit log, with the purpose its token states
    from meshkit import open_domain_home

    reads = [r for r in open_domain_home(mesh.sources["b"].home, mesh.sources["b"].master_key).model.audit.records()
             if r.get("action") == "read"]
    assert reads and reads[-1]["principal"] == "train-b" and reads[-1]["purpose"] == TRAINING_PURPOSE


@pytest.mark.slow
def test_a_token_with_another_purpose_stops_the_job_naming_the_domain_and_the_reason(governed):
    fed, mesh = governed
    mesh.token("b", purpose="marketing")
    try:
        with pytest.raises(FederationError) as caught:
            run_federated(LogisticRegression(lr=0.5), mesh.sources, FedAvg(), rounds=1, seed=3, progress=False,
                          engine="flower", flower={"federation": fed})
    finally:
        mesh.token("b")
    text = str(caught.value)
    assert "cannot read its training data" in text and "'b'" in text
    assert "AuthorizationError" in text and "purpose" in text
