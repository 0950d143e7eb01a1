"""Federated collaborative filtering on the retail scenario, the source material's case.

The ``orders`` domain (purchases) and the ``clickstream`` domain (page views) each train
matrix factorization on their own interactions; item factors are aggregated, user factors
stay in their domain. :func:`compare_recommenders` sets the federated recommender against a
centralized one (pooled interactions) and each domain alone.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.baselines import train_centralized, train_local
from meshkit._federation.data import DomainData
from meshkit._federation.recommender import MatrixFactorization, leave_one_out
from meshkit._federation.rounds import run_federated
from meshkit._federation.strategies import FedAvg

__all__ = ["retail_datasets", "compare_recommenders"]

#: interaction product of each recommending domain
RETAIL_PRODUCTS = {"orders": "purchases", "clickstream": "page_views"}


def retail_datasets(scenario, *, n_negatives: int = 99, seed: int = 0, frames=None):
    """Leave-one-out splits of the retail interactions, one per domain.

    Parameters
    ----------
    scenario : Scenario or str
        The retail scenario (or ``"retail"``, loaded with ``seed``).
    n_negatives : int, default 99
    seed : int, default 0
    frames : dict of str to polars.DataFrame, optional
        The interaction products as read elsewhere (default ``scenario.frames``).

    Returns
    -------
    datasets : dict of str to DomainData
        ``X_train``/``X_test`` are ``(user, item)`` pairs; ``y_test`` the negatives.
    n_users, n_items : int

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> data, n_users, n_items = retail_datasets(load_scenario("retail", scale=0.1))
    >>> sorted(data)
    ['clickstream', 'orders']
    """
    if isinstance(scenario, str):
        from meshkit.scenarios import load_scenario

        scenario = load_scenario(scenario, seed=seed)
    frames = {**scenario.frames, **(frames or {})}
    missing = [p for p in RETAIL_PRODUCTS.values() if p not in frames]
    if missing:
        raise FederationError("not a retail scenario", where=f"scenario {scenario.name!r}",
                              expected=f"products {', '.join(RETAIL_PRODUCTS.values())}",
                              found=f"missing {', '.join(missing)}")
    # the catalogue and customer tables give the sizes; interactions read from a store may
    # come from another generation of the scenario, so never go below their largest ids
    n_users = 1 + max(int(frames[p]["user_id"].max()) for p in RETAIL_PRODUCTS.values())
    n_items = 1 + max(int(frames[p]["item_id"].max()) for p in RETAIL_PRODUCTS.values())
    if "customer_profiles" in frames:
        n_users = max(n_users, int(frames["customer_profiles"].height))
    if "items" in frames:
        n_items = max(n_items, int(frames["items"].height))
    out = {}
    for i, (domain, product) in enumerate(RETAIL_PRODUCTS.items()):
        pairs = frames[product].select("user_id", "item_id").to_numpy().astype(np.int64)
        train, test, neg = leave_one_out(pairs, n_items, n_negatives=n_negatives, seed=seed + i)
        out[domain] = DomainData(domain, train, np.zeros(len(train)), test, neg)
    return out, n_users, n_items


def compare_recommenders(datasets, n_users: int, n_items: int, *, factors: int = 16, lr: float = 0.05,
                         rounds: int = 10, local_epochs: int = 1, strategy=None, seed: int = 0,
                         progress: bool = False) -> dict:
    """Federated vs centralized vs local-only matrix factorization, on each domain's test set.

    Every setting sees the same number of passes over its data (``rounds * local_epochs``).

    Returns
    -------
    dict
        ``rows``: list of ``{"setting", "domain", "hr@10", "ndcg@10"}`` (settings
        ``local``, ``federated``, ``centralized``); ``history``: the federated
        :class:`~meshkit._federation.History`.
    """
    proto = MatrixFactorization(n_items=n_items, n_users=n_users, factors=factors, lr=lr, seed=seed)
    epochs = rounds * local_epochs
    local = train_local(proto, datasets, epochs=epochs, seed=seed)
    history = run_federated(proto, datasets, strategy or FedAvg(), rounds=rounds, local_epochs=local_epochs,
                            seed=seed, progress=progress)
    _, central = train_centralized(proto, datasets, epochs=epochs, seed=seed)
    rows = []
    for domain in datasets:
        rows.append({"setting": "local", "domain": domain, **local.cross[(domain, domain)]})
        rows.append({"setting": "federated", "domain": domain, **history.rounds[-1]["per_domain"][domain]})
        rows.append({"setting": "centralized", "domain": domain, **central["per_domain"][domain]})
    return {"rows": rows, "history": history}
