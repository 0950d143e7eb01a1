"""The federated recommender: item factors shared, user factors local."""

from __future__ import annotations

import numpy as np

from meshkit import MatrixFactorization, run_federated
from meshkit.tutorial.recommender import compare_recommenders, retail_datasets


def test_only_item_factors_travel_and_user_factors_stay_local():
    from meshkit.scenarios import load_scenario

    data, n_users, n_items = retail_datasets(load_scenario("retail", scale=0.2, seed=42), seed=0)
    proto = MatrixFactorization(n_items=n_items, n_users=n_users, factors=8)
    h = run_federated(proto, data, rounds=2, progress=False)
    assert [p.shape for p in h.parameters] == [(n_items, 8), (n_items,)]


def test_federated_recommender_vs_centralized_and_local():
    # Settings: retail scale=1.0 seed=42; leave-one-out with 99 negatives; MF with 16 factors,
    # lr=0.05, 4 negatives per positive; 10 rounds x 1 local epoch (local and centralized: 10
    # epochs); FedAvg over the orders and clickstream domains.
    from meshkit.scenarios import load_scenario

    data, n_users, n_items = retail_datasets(load_scenario("retail", scale=1.0, seed=42), seed=0)
    out = compare_recommenders(data, n_users, n_items, rounds=10, seed=0)
    table = {(r["setting"], r["domain"]): r for r in out["rows"]}
    for setting in ("local", "federated", "centralized"):
        for domain in data:
            assert 0.1 < table[(setting, domain)]["hr@10"] <= 1.0  # 0.1 is chance with 100 candidates
    # the small orders domain gains from the clickstream's item factors
    assert table[("federated", "orders")]["hr@10"] > table[("local", "orders")]["hr@10"] + 0.05
    assert table[("centralized", "orders")]["ndcg@10"] > table[("local", "orders")]["ndcg@10"]
    assert np.isfinite([r["ndcg@10"] for r in out["rows"]]).all()
