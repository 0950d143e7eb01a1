"""The provenance of every round: audit records, saved models verified against the log."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from meshkit import (AuditLog, FedAvg, FederationError, Identity, IntegrityError, Krum, LogisticRegression,
                     Principal, load_model, parameters_digest, run_federated, verify_model)
from toy_domains import toy_domains


def _toy(n_domains=6, seed=0, rows=60):
    data = toy_domains(n_domains, seed=seed, rows=rows)
    return {name: replace(d, provenance={"product": f"{name}.orders", "product_version": k + 1,
                                         "contract_version": "1.0.0"})
            for k, (name, d) in enumerate(data.items())}


def _log():
    return AuditLog(Identity.generate(Principal("audit", "service")))  # a fresh OS-random key


class Accounted(FedAvg):
    """A strategy that accounts privacy the way the DP wrapper does: ``epsilon_`` after each round."""

    def aggregate_fit(self, server_round, current, results, *, names=None):
        self.epsilon_ = 0.5 * server_round
        return super().aggregate_fit(server_round, current, results, names=names)


def test_every_round_appends_its_provenance():
    data, log = _toy(), _log()
    h = run_federated(LogisticRegression(lr=0.3), data, Krum(f=1), rounds=3, fraction=0.8, progress=False,
                      audit=log)
    records = log.records()
    assert [r["audit_index"] for r in h.rounds] == [0, 1, 2] and len(records) == 3
    for row, rec in zip(h.rounds, records):
        assert rec["event"] == "federated_round" and rec["round"] == row["round"]
        assert rec["strategy"] == "Krum" and rec["strategy_params"] == {"f": 1, "m": None}
        assert rec["selected"] == row["selected"] and rec["answered"] == row["answered"]
        assert rec["failed"] == {} and rec["epsilon"] is None
        assert set(rec["products"]) == set(row["selected"])
        assert rec["products"]["d2" if "d2" in row["selected"] else row["selected"][0]]["contract_version"] == "1.0.0"
    assert records[-1]["parameters_sha256"] == parameters_digest(h.parameters)
    assert log.verify().ok


def test_epsilon_spent_so_far_is_recorded_from_the_strategy():
    log = _log()
    run_federated(LogisticRegression(lr=0.3), _toy(), Accounted(), rounds=2, progress=False, audit=log)
    assert [r["epsilon"] for r in log.records()] == [0.5, 1.0]


def test_a_saved_model_names_its_round_and_checkpoint_and_verifies(tmp_path):
    log = _log()
    h = run_federated(LogisticRegression(lr=0.3), _toy(), rounds=2, progress=False, audit=log)
    path = h.save_model(tmp_path / "model.json")
    params, meta = load_model(path)
    for a, b in zip(params, h.parameters):
        np.testing.assert_array_equal(a, b)
    assert meta["round"] == 2 and meta["audit"]["index"] == 1
    assert meta["audit"]["checkpoint_size"] == 2 and meta["audit"]["log_id"] == log.log_id
    assert verify_model(path, log)["round"] == 2


def test_verification_refuses_a_changed_model_another_log_or_an_edited_log(tmp_path):
    log = _log()
    h = run_federated(LogisticRegression(lr=0.3), _toy(), rounds=2, progress=False, audit=log)
    path = h.save_model(tmp_path / "model.json")
    # parameters edited in the file: the digest written with them no longer matches
    doc = json.loads(path.read_text())
    other = run_federated(LogisticRegression(lr=0.3), _toy(seed=1), rounds=2, progress=False, audit=_log())
    doc_other = json.loads(other.save_model(tmp_path / "other.json").read_text())
    doc["parameters"] = doc_other["parameters"]
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="digest"):
        verify_model(tmp_path / "edited.json", log)
    # a model from another run presented against this log
    with pytest.raises(IntegrityError, match="not the one the log recorded"):
        verify_model(tmp_path / "other.json", log)
    # the log's entry edited after the fact
    log.entries[1] = log.entries[1].replace(b'"round":2', b'"round":3')
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_model(path, log)


def test_saving_without_an_audit_log_says_so_at_verification(tmp_path):
    h = run_federated(LogisticRegression(lr=0.3), _toy(), rounds=1, progress=False)
    assert h.rounds[0]["audit_index"] is None and h.checkpoint is None
    path = h.save_model(tmp_path / "m.json")
    with pytest.raises(IntegrityError, match="names no audit log entry"):
        verify_model(path, _log())
    with pytest.raises(FederationError, match="not a saved meshkit model"):
        load_model(tmp_path / "missing.json")
