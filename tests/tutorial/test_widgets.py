"""The explorers, driven in Python: move a control, the view changes, and it shows what the
tested library call returns for the controls' values (no browser, no kernel)."""

from datetime import UTC, datetime

import polars as pl
import pytest

import meshkit as mk
from meshkit import ConsistencyError, FederationError, PolicyError, ProductStore
from meshkit.scenarios import load_scenario
from meshkit._display import fmt as mk_fmt
from meshkit.widgets._base import to_html
from meshkit.widgets._consistency import drift_measures
from meshkit.widgets import (consistency_explorer, consistency_view, grant_explorer, grant_view,
                             product_explorer, product_view, training_explorer, training_view)

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    sc = load_scenario("retail", scale=0.1, seed=3)
    store = ProductStore(tmp_path_factory.mktemp("widgets") / "store")
    for product in sc.mesh.products():
        store.publish(product, sc.frames[product.name])
    return sc, store


# ---------------------------------------------------------------- 01: products
def test_product_view_is_the_contract_validation_of_the_published_version(published):
    sc, store = published
    name = next(sc.mesh.products()).name
    report = product_view(sc.mesh, store, name)
    assert report.to_dict() == mk.validate(store.read(name), sc.mesh.product(name).contract).to_dict()
    assert report.passed


def test_product_explorer_shows_the_chosen_product_and_failing_rows_of_a_batch(published):
    from meshkit.tutorial.batches import broken_batch

    sc, store = published
    target = next(sc.mesh.products())
    broken = broken_batch(sc.frames[target.name], target.contract)
    explorer = product_explorer(sc.mesh, store, batches={"broken batch": (target.name, broken)})
    choice = explorer.controls["product"]
    first = explorer.view.value
    assert target.name in first and "PASSED" in first
    other = [o for o in choice.options if o not in (target.name, "broken batch")][0]
    choice.value = other
    assert explorer.view.value != first and other in explorer.view.value
    choice.value = "broken batch"
    report = mk.validate(broken, target.contract)
    assert not report.passed and "FAILED" in explorer.view.value
    assert "failing rows of" in explorer.view.value
    assert all(c.name in explorer.view.value for c in report.failed)


# ---------------------------------------------------------------- 03: training
@pytest.fixture(scope="module")
def setup(published):
    from meshkit.tutorial.experiment import prepare

    sc, store = published
    return prepare(sc, seed=3, frames={n: store.read(n) for n in sc.training_products})


def test_training_view_is_run_federated_with_the_controls_values(setup):
    h = training_view(setup, strategy="fedprox", mu=0.5, rounds=3, seed=1)
    same = mk.run_federated(setup.model, setup.datasets, mk.FedProx(mu=0.5), rounds=3, seed=1,
                            progress=False)
    assert h.strategy == same.strategy == "FedProx(mu=0.5)"
    assert h.to_dict() == same.to_dict()


def test_training_view_wraps_privacy_and_sends_attacks(setup):
    first = list(setup.datasets)[0]
    private = training_view(setup, rounds=2, noise_multiplier=1.0, clip_norm=0.5, dp_seed=0)
    assert private.strategy.startswith("DPFixedClipping(") and "noise_multiplier=1.0" in private.strategy
    attacked = training_view(setup, rounds=2, attack="sign_flip", attacked=[first])
    assert all(r["attacked"] == [first] for r in attacked.rounds)
    assert training_view(setup, rounds=2, attacked=[first]).rounds[0]["attacked"] == []
    with pytest.raises(FederationError, match="unknown attack"):
        training_view(setup, rounds=1, attack="teleport")


def test_run_federated_calls_on_round_after_each_round(setup):
    seen = []
    h = mk.run_federated(setup.model, setup.datasets, rounds=3, progress=False,
                         on_round=lambda history: seen.append(len(history.rounds)))
    assert seen == [1, 2, 3] and len(h.rounds) == 3

    def stop(history):
        if len(history.rounds) == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        mk.run_federated(setup.model, setup.datasets, rounds=5, progress=False, on_round=stop)


def test_training_explorer_retrains_when_a_control_moves(setup):
    explorer = training_explorer(setup, rounds=2, seed=1)
    progress = explorer.children[-2]
    first = explorer.view.value
    assert "<img" in first and progress.value == 2
    explorer.controls["rounds"].value = 4
    assert explorer.view.value != first and progress.value == progress.max == 4
    assert "round 4" not in explorer.view.value  # the finished run, not a live frame
    explorer.controls["strategy"].value = "fedprox"
    assert "FedProx" in explorer.view.value
    honest = explorer.view.value
    explorer.controls["attack"].value = "sign_flip"  # the first domain sends flipped updates
    assert explorer.view.value != honest and "<img" in explorer.view.value
    explorer.controls["fraction"].value = 0.0  # below the slider's minimum: clamped, still runs
    assert explorer.controls["fraction"].value == 0.1


def test_interrupting_the_training_explorer_keeps_the_rounds_done(setup):
    """The kernel's stop button raises KeyboardInterrupt in the running callback."""
    import _thread
    import threading

    explorer = training_explorer(setup, rounds=1, seed=1)
    progress = explorer.children[-2]
    stop = threading.Event()

    def interrupt_after_two_rounds():
        while not stop.is_set():
            if progress.max == 50 and progress.value >= 2:
                _thread.interrupt_main()
                return
            stop.wait(0.005)

    watcher = threading.Thread(target=interrupt_after_two_rounds)
    watcher.start()
    try:
        explorer.controls["rounds"].value = 50
    finally:
        stop.set()
        watcher.join()
    assert 2 <= progress.value < 50
    assert f"interrupted after round {progress.value}" in explorer.view.value
    assert "<img" in explorer.view.value  # the plot of the rounds done stays


def test_an_explorer_shows_as_one_stable_line_beside_its_widget_view(setup):
    bundle = training_explorer(setup, rounds=1, seed=1)._repr_mimebundle_()
    assert bundle["text/plain"] == ("training explorer (9 controls): "
                                    "run the notebook in JupyterLab to use them")
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]


# ---------------------------------------------------------------- 04: consistency
@pytest.fixture(scope="module")
def report(published):
    from meshkit.tutorial.inject import stale_copy

    sc, store = published
    source = store.read("customer_profiles")
    copy, injections = stale_copy(source, "user_id", seed=3, fraction=0.2)
    return mk.consistency(source, copy, keys="user_id", threshold=0.9), injections


def test_consistency_view_moves_the_verdict_without_recomputing(report):
    rep, _ = report
    low, high = consistency_view(rep, 0.0), consistency_view(rep, 1.0)
    assert low["verdict"].consistent and not high["verdict"].consistent
    assert low["verdict"].similarity is rep.similarity  # the layers are the report's own
    assert rep.threshold == 0.9  # the given report is left unchanged
    column = rep.similarity.layers["distributions"].evidence["column"][0]
    drift = consistency_view(rep, 0.5, column)["drift"]
    assert drift.height == 1 and drift["column"][0] == column
    with pytest.raises(ConsistencyError, match="θ"):
        consistency_view(rep, 1.5)
    with pytest.raises(ConsistencyError, match="no drift test"):
        consistency_view(rep, 0.5, "no_such_column")


def test_consistency_explorer_theta_slider_changes_the_verdict(report):
    rep, injections = report
    explorer = consistency_explorer(rep, injections=injections)
    theta, column = explorer.controls["theta"], explorer.controls["column"]
    theta.value = 0.0
    consistent = explorer.view.value
    assert "CONSISTENT" in consistent and "NOT consistent" not in consistent
    theta.value = 1.0
    assert "NOT consistent" in explorer.view.value
    before = explorer.view.value
    column.value = column.options[-1]
    assert explorer.view.value != before
    stale = explorer.children[-2].value
    assert "how stale the copy is" in stale and all(i.name in stale for i in injections)


def test_consistency_explorer_shows_the_verdict_line_first_and_folds_the_report(report):
    rep, injections = report
    explorer = consistency_explorer(rep, injections=injections)
    explorer.controls["theta"].value = 0.5
    view = explorer.view.value
    verdict = consistency_view(rep, 0.5)["verdict"]
    assert view.index("CONSISTENT") < view.index("<img") < view.index("<details")
    assert "θ = 0.5" in view[:view.index("<img")]
    folded = view[view.index("<details"):]
    assert all(reason.split(":")[0] in folded for reason in verdict.reasons)
    assert "Similarity" in folded and "Similarity" not in view[:view.index("<details")]
    column = explorer.controls["column"].value
    evidence = rep.similarity.layers["distributions"].evidence
    tested = evidence.filter(evidence["column"] == column).row(0, named=True)
    shown = drift_measures(consistency_view(rep, 0.5, column)["drift"])
    assert dict(shown.iter_rows()) == {k: mk_fmt(v) for k, v in tested.items() if v is not None}
    assert shown["measure"].to_list()[:2] == ["column", "kind"] and "measure" in view


# ---------------------------------------------------------------- 05: grants
@pytest.fixture(scope="module")
def secured(published, tmp_path_factory):
    from meshkit.tutorial.walkthrough import plan_walkthrough

    sc, store = published
    plan = plan_walkthrough(sc.mesh, sc.frames)
    model, people = mk.SecurityModel.for_mesh(
        sc.mesh, principals=plan.principals, policy=mk.Policy(),
        source=mk.SeededKeySource(3), clock=lambda: NOW.timestamp(),
        audit_path=tmp_path_factory.mktemp("audit") / "audit.jsonl")
    return sc, store, plan, model, people


def test_grant_view_decides_under_the_edited_grant_only(secured):
    sc, store, plan, model, people = secured
    logged = len(model.audit)
    shown = grant_view(model, store, people, principal="ana", product=plan.product,
                       columns=list(plan.request_columns), masks={"email": "redact"},
                       purpose="analytics", stated_purpose="analytics")
    assert shown["decision"].allowed is False  # not in a secure store: the encryption layer
    assert shown["decision"].layer("authentication").passed
    assert shown["decision"].layer("authorization").passed
    assert len(model.audit) == logged and model.policy.grants == []  # the model is untouched
    wrong = grant_view(model, store, people, principal="ana", product=plan.product,
                       purpose="analytics", stated_purpose="marketing")
    assert wrong["decision"].layer("authorization").passed is False
    with pytest.raises(PolicyError):
        grant_view(model, store, people, principal="ana", product=plan.product,
                   columns=["no_such_column"])


def test_grant_view_serves_the_masked_filtered_frame_from_a_secure_store(secured, tmp_path):
    sc, store, plan, model, people = secured
    secure = mk.SecureStore(tmp_path / "secure", model, deterministic=plan.deterministic,
                            reset=True)
    secure.protect(store, people)
    key = plan.request_columns[0]
    first = store.read(plan.product)[key][0]
    shown = grant_view(model, store, people, principal="ana", product=plan.product,
                       columns=list(plan.request_columns), masks={"email": "redact"},
                       row_filter=f"{key} == {first!r}" if isinstance(first, str)
                       else f"{key} == {first}")
    assert shown["decision"].allowed, shown["decision"].reason
    frame = shown["frame"]
    assert frame.columns == list(plan.request_columns) and frame.height == 1
    assert frame["email"][0] != store.read(plan.product).filter(pl.col(key) == first)["email"][0]


def test_grant_explorer_shows_a_new_decision_when_the_grant_changes(secured):
    sc, store, plan, model, people = secured
    explorer = grant_explorer(model, store, people, principal="ana", product=plan.product)
    first = explorer.view.value
    assert "authorization" in first
    explorer.controls["stated_purpose"].value = "marketing"
    assert explorer.view.value != first and "purpose" in explorer.view.value
    explorer.controls["row_filter"].value = "no_such_column == 1"
    assert "PolicyError" in explorer.view.value
    explorer.controls["row_filter"].value = ""
    other = [p for p in explorer.controls["product"].options if p != plan.product][0]
    explorer.controls["product"].value = other
    assert set(explorer.controls["columns"].options) == set(model.products[other].columns)


def test_grant_explorer_starts_from_an_approved_grant(secured):
    sc, store, plan, model, people = secured
    policy = mk.Policy(products=model.products.values())
    approved = policy.grant(id="approved", principal="ana", product=plan.product, action="read",
                            columns=list(plan.request_columns), masks={"email": "redact"},
                            purpose="analytics")
    explorer = grant_explorer(model, store, people, grant=approved)
    values = {name: c.value for name, c in explorer.controls.items()}
    assert values["principal"] == "ana" and values["product"] == plan.product
    assert values["columns"] == tuple(plan.request_columns) and values["masked"] == ("email",)
    assert values["mask"] == "redact" and values["purpose"] == values["stated_purpose"] == "analytics"
    shown = grant_view(model, store, people, principal="ana", product=plan.product,
                       columns=list(plan.request_columns), masks={"email": "redact"},
                       purpose="analytics", stated_purpose="analytics")
    frame = shown["frame"].head(10) if shown["frame"] is not None else None
    assert explorer.view.value == to_html(shown["decision"], frame)
    mixed = policy.grant(id="mixed", principal="ana", product=plan.product, action="read",
                         masks={"email": "redact", plan.request_columns[0]: "partial"})
    with pytest.raises(mk.SecurityError, match="one mask"):
        grant_explorer(model, store, people, grant=mixed)
