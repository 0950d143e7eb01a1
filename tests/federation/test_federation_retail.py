"""The tutorial's training set-up: read from what a scenario declares, never from its name.

The federated recommender over the declared interactions (item factors shared, user factors
local), the supervised task's per-domain datasets, and the retail purchase task.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from meshkit import FederationError, MatrixFactorization, run_federated
from meshkit.scenarios import InteractionSource, Interactions, load_scenario
from meshkit.tutorial.experiment import domain_datasets, prepare, prepare_recommender
from meshkit.tutorial.recommender import compare_recommenders, interaction_datasets


def test_only_item_factors_travel_and_user_factors_stay_local():
    data, n_users, n_items = interaction_datasets(load_scenario("retail", scale=0.2, seed=42), seed=0)
    proto = MatrixFactorization(n_items=n_items, n_users=n_users, factors=8)
    h = run_federated(proto, data, rounds=2, progress=False)
    assert [p.shape for p in h.parameters] == [(n_items, 8), (n_items,)]


@pytest.mark.slow
def test_federated_recommender_vs_centralized_and_local():
    # Settings: retail scale=1.0 seed=42; leave-one-out with 99 negatives; MF with 16 factors,
    # lr=0.05, 4 negatives per positive; 10 rounds x 1 local epoch (local and centralized: 10
    # epochs); FedAvg over the orders and clickstream domains.
    data, n_users, n_items = interaction_datasets(load_scenario("retail", scale=1.0, seed=42), seed=0)
    out = compare_recommenders(data, n_users, n_items, rounds=10, seed=0)
    table = {(r["setting"], r["domain"]): r for r in out["rows"]}
    for setting in ("local", "federated", "centralized"):
        for domain in data:
            assert 0.1 < table[(setting, domain)]["hr@10"] <= 1.0  # 0.1 is chance with 100 candidates
    # the small orders domain gains from the clickstream's item factors
    assert table[("federated", "orders")]["hr@10"] > table[("local", "orders")]["hr@10"] + 0.05
    assert table[("centralized", "orders")]["ndcg@10"] > table[("local", "orders")]["ndcg@10"]
    assert np.isfinite([r["ndcg@10"] for r in out["rows"]]).all()


def _declaring(mesh, **declarations):
    """A copy of ``mesh`` declaring other roles (a scenario reads its task and interactions
    from its mesh)."""
    other = copy.copy(mesh)
    for name, value in declarations.items():
        setattr(other, name, value)
    return other


def test_domain_datasets_from_a_supervised_scenario():
    sc = load_scenario("healthcare", scale=0.2, seed=42)
    data = domain_datasets(sc, seed=0)
    assert list(data) == [sc.mesh.product(p).domain for p in sc.training_products]
    d = next(iter(data.values()))
    assert d.X_train.shape[1] == len(sc.task.features)
    assert set(np.unique(d.y_train)) <= {0, 1}
    again = domain_datasets(sc, seed=0)
    assert all(np.array_equal(data[k].X_test, again[k].X_test) for k in data)
    retail = load_scenario("retail", scale=0.1)
    without_task = dataclasses.replace(retail, mesh=_declaring(retail.mesh, task=None), task=None)
    with pytest.raises(FederationError, match="supervised"):
        domain_datasets(without_task)


def test_interaction_datasets_split_each_domain():
    data, n_users, n_items = interaction_datasets(load_scenario("retail", scale=0.2, seed=42), seed=0)
    assert list(data) == ["orders", "clickstream"]
    for d in data.values():
        assert d.X_test.shape[1] == 2 and d.y_test.shape == (d.n_test, 99)
        assert d.X_train[:, 1].max() < n_items and d.X_train[:, 0].max() < n_users
    with pytest.raises(FederationError, match="interactions"):
        interaction_datasets(load_scenario("healthcare", scale=0.1))


def test_interaction_sizes_cover_interactions_read_from_another_generation():
    big = load_scenario("retail", scale=0.4, seed=42)
    small = load_scenario("retail", scale=0.2, seed=42)
    stored = {p: big.frames[p] for p in ("purchases", "page_views")}
    data, n_users, n_items = interaction_datasets(small, frames=stored)
    assert n_items == big.frames["items"].height and n_users == big.frames["customer_profiles"].height
    assert all(d.X_train[:, 1].max() < n_items for d in data.values())


def test_the_setup_follows_the_declaration_not_the_name():
    # a scenario that declares its interactions under other domain names and columns is read
    # as declared: nothing looks for "retail", "orders" or "user_id"
    sc = load_scenario("retail", scale=0.1, seed=1)
    renamed = {"purchases": sc.frames["purchases"].rename({"user_id": "buyer", "item_id": "sku"})}
    declared = Interactions({"shop": InteractionSource("purchases", user="buyer", item="sku"),
                             "web": InteractionSource("page_views")})
    other = dataclasses.replace(sc, name="my_shop", mesh=_declaring(sc.mesh, interactions=declared),
                                interactions=declared, frames={**sc.frames, **renamed})
    data, _, n_items = interaction_datasets(other)
    assert list(data) == ["shop", "web"]
    # no items listing declared: the catalogue is sized by the largest item id seen
    assert n_items == 1 + max(int(sc.frames["purchases"]["item_id"].max()),
                              int(sc.frames["page_views"]["item_id"].max()))
    wrong = Interactions({"shop": InteractionSource("purchases", user="customer", item="sku")})
    broken = dataclasses.replace(other, mesh=_declaring(other.mesh, interactions=wrong),
                                 interactions=wrong)
    with pytest.raises(FederationError, match="column") as info:
        interaction_datasets(broken)
    assert "customer" in str(info.value)


def test_missing_training_product_or_column_is_named():
    sc = load_scenario("retail", scale=0.1)
    frames = dict(sc.frames)
    frames["view_outcomes"] = frames["view_outcomes"].drop("list_price")
    with pytest.raises(FederationError, match="lacks the task's columns") as info:
        domain_datasets(sc, frames=frames)
    assert "list_price" in str(info.value)
    gone = dataclasses.replace(sc, frames={k: v for k, v in sc.frames.items()
                                           if k != "basket_outcomes"})
    with pytest.raises(FederationError, match="missing"):
        domain_datasets(gone)


def test_retail_purchase_task_is_learnable_and_non_iid():
    # the two domains' populations differ (engaged pairs are bought far more often), and
    # one logistic model over the browsing features ranks purchases well above chance
    from meshkit import train_centralized

    sc = load_scenario("retail", scale=0.3, seed=42)
    rates = {p: sc.frames[p]["purchased"].mean() for p in sc.training_products}
    assert rates["basket_outcomes"] > 2 * rates["view_outcomes"] > 0
    setup = prepare(sc, lr=0.05, seed=0)
    _, central = train_centralized(setup.model, setup.datasets, epochs=5, seed=0)
    assert central["overall"]["auc"] > 0.6  # 0.5 is chance; about 0.65 at scale 1


def test_prepare_refuses_a_regressor_and_recommender_setup_uses_interactions():
    sc = load_scenario("retail", scale=0.1)
    with pytest.raises(FederationError, match="classifier"):
        prepare(sc, model="linear")
    rec = prepare_recommender(sc, seed=0)
    assert rec.metric == "hr@10" and list(rec.datasets) == list(sc.interactions.sources)
    assert rec.model.n_items == sc.frames["items"].height
