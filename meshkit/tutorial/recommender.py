"""Federated collaborative filtering over a mesh's interactions (retail: the source material's case).

Each domain of the scenario's :class:`~meshkit.scenarios.Interactions` (retail: ``orders``
with its purchases, ``clickstream`` with its page views) trains matrix factorization on its
own interactions; item factors are aggregated, user factors stay in their domain.
:func:`compare_recommenders` sets the federated recommender against a centralized one (pooled
interactions) and each domain alone.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.baselines import train_centralized, train_local
from meshkit._federation.data import DomainData
from meshkit._federation.recommender import MatrixFactorization, leave_one_out
from meshkit._federation.rounds import run_federated
from meshkit._federation.strategies import FedAvg

__all__ = ["interaction_datasets", "compare_recommenders"]


def interaction_datasets(scenario, *, n_negatives: int = 99, seed: int = 0, frames=None):
    """Leave-one-out splits of a scenario's interactions, one per domain.

    The interactions are implicit feedback: a source's ``weight`` and ``time`` columns are
    not used (the held-out pair of each user is drawn at random, as in the NCF protocol).

    Parameters
    ----------
    scenario : Scenario
        A scenario whose ``interactions`` are declared.
    n_negatives : int, default 99
    seed : int, default 0
    frames : dict of str to polars.DataFrame, optional
        The interaction products as read elsewhere, e.g. from the run's store (default
        ``scenario.frames``).

    Returns
    -------
    datasets : dict of str to DomainData
        ``X_train``/``X_test`` are ``(user, item)`` pairs; ``y_test`` the negatives.
    n_users, n_items : int

    Raises
    ------
    FederationError
        The scenario declares no interactions, or a declared product or column is missing.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> data, n_users, n_items = interaction_datasets(load_scenario("retail", scale=0.1))
    >>> sorted(data)
    ['clickstream', 'orders']
    """
    spec = scenario.interactions
    if spec is None or not spec.sources:
        raise FederationError("the scenario declares no interactions to recommend from",
                              where=f"scenario {scenario.name!r}",
                              expected="Scenario.interactions with one source per domain",
                              found="interactions=None")
    frames = {**scenario.frames, **(frames or {})}

    def column(product: str, name: str):
        if product not in frames:
            raise FederationError("a declared interaction product is missing",
                                  where=f"scenario {scenario.name!r}", expected=repr(product),
                                  found=", ".join(sorted(frames)) or "no products")
        frame = frames[product]
        if name not in frame.columns:
            raise FederationError("a declared interaction column is missing",
                                  where=f"product {product!r}", expected=repr(name),
                                  found=", ".join(frame.columns))
        return frame[name]

    sources = spec.sources.values()
    # interactions read from a store may hold ids beyond the listing products: never go
    # below the largest id seen
    n_users = 1 + max(int(column(s.product, s.user).max()) for s in sources)
    n_items = 1 + max(int(column(s.product, s.item).max()) for s in sources)
    first = next(iter(sources))
    if spec.users is not None:
        n_users = max(n_users, 1 + int(column(spec.users, first.user).max()))
    if spec.items is not None:
        n_items = max(n_items, 1 + int(column(spec.items, first.item).max()))
    out = {}
    for i, (domain, source) in enumerate(spec.sources.items()):
        pairs = np.column_stack([column(source.product, source.user).to_numpy(),
                                 column(source.product, source.item).to_numpy()]).astype(np.int64)
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
