"""Finance: three banks, each owning its card transactions; target fraud (about 9 % positive).

The banks serve different customers (an alpine private bank with large, often foreign
payments; a harbour-city retail bank with many small online ones; a rural bank with few,
local ones), so their feature distributions and sizes differ (non-IID), while one shared
logistic model labels every transaction as fraud or not.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("finance", scale=0.1)
>>> sc.task.target, len(sc.training_products)
('is_fraud', 3)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from meshkit.scenarios._base import (
    DomainPopulation, Feature, Scenario, SupervisedSpec, build_supervised, column, person_names,
    timestamps,
)

__all__ = ["build", "SPEC", "MERCHANT_CATEGORIES"]

MERCHANT_CATEGORIES = ["grocery", "fuel", "travel", "electronics", "restaurants", "online_services"]

FEATURES = [
    Feature("amount", "Transaction amount, EUR.", "lognormal", 80.0, 120.0, 1.10, 0.5, 20000, 2),
    Feature("distance_from_home_km",
            "Distance between the merchant and the card holder's home, km.",
            "lognormal", 30.0, 60.0, 0.90, 0, 20000, 1),
    Feature("transactions_last_24h", "Transactions on the card in the previous 24 hours.",
            "poisson", 3.0, 2.0, 0.80, 0, 100, 0),
    Feature("account_age_days", "Age of the account, days.", "normal", 1500.0, 900.0, -1.10,
            1, 20000, 0),
    Feature("merchant_risk_score", "The merchant's historical chargeback risk, 0 to 1.",
            "normal", 0.3, 0.15, 1.20, 0, 1, 3),
    Feature("is_foreign", "1 when the merchant is abroad, else 0.", "bernoulli",
            0.15, 0.36, 0.90, 0, 1, 0),
    Feature("is_online", "1 for a card-not-present (online) payment, else 0.", "bernoulli",
            0.4, 0.49, 0.70, 0, 1, 0),
    Feature("is_night", "1 between midnight and 6 a.m. local time, else 0.", "bernoulli",
            0.1, 0.3, 0.80, 0, 1, 0),
]

# per bank, in FEATURES order: amount and distance (log mean, log sigma), transactions (lam),
# account age (mean, sd), merchant risk (mean, sd), foreign / online / night (p)
_PARAMS = {
    "alpine": [(4.9, 1.0), (3.6, 1.3), (2.0,), (2600, 900), (0.28, 0.14),
               (0.35,), (0.30,), (0.08,)],
    "harbor": [(3.6, 0.9), (2.4, 1.1), (4.5,), (1100, 700), (0.34, 0.16),
               (0.10,), (0.65,), (0.14,)],
    "prairie": [(4.0, 0.8), (2.3, 1.0), (2.5,), (1700, 800), (0.31, 0.13),
                (0.06,), (0.30,), (0.08,)],
}
_DESCRIPTIONS = {
    "alpine": "Alpine Private Bank: wealthy clients, large and often foreign payments",
    "harbor": "Harbor City Bank: young urban clients, many small online payments",
    "prairie": "Prairie Savings: rural clients, few local payments",
}
_SIZES = {"alpine": 3000, "harbor": 5000, "prairie": 2500}


def _extra_columns(rng: np.random.Generator, population: DomainPopulation, n: int) -> dict:
    first, last = person_names(rng, n)
    account = pl.Series(rng.integers(0, 10**10, size=n)).cast(pl.String).str.zfill(10)
    return {
        "account_number": population.prefix + account,
        "card_holder_name": pl.Series(first) + " " + pl.Series(last),
        "merchant_category": rng.choice(np.array(MERCHANT_CATEGORIES), size=n),
        "transaction_time": timestamps(rng, n),
    }


SPEC = SupervisedSpec(
    scenario="finance",
    description="Three banks, each owning its card transactions; label: fraud.",
    product_description="Card transactions with confirmed fraud outcome",
    features=FEATURES,
    intercept=-5.0,
    target="is_fraud",
    target_description="1 when the transaction was confirmed as fraud.",
    id_column="transaction_id",
    populations=[
        DomainPopulation(
            domain=f"{key}_bank", product=f"{key}_transactions",
            owner=f"fraud-analytics@{key}-bank.example.org", description=_DESCRIPTIONS[key],
            size=_SIZES[key], prefix=key[:3].upper(),
            params={f.name: p for f, p in zip(FEATURES, _PARAMS[key])})
        for key in ("alpine", "harbor", "prairie")
    ],
    extra_columns=_extra_columns,
    extra_properties=[
        column("account_number", "string", "The card holder's account number.", pii=True),
        column("card_holder_name", "string", "The card holder's full name.", pii=True),
        column("merchant_category", "string", "The merchant's category.",
               valid_values=MERCHANT_CATEGORIES),
        column("transaction_time", "timestamp", "When the payment was authorised."),
    ],
)


def build(scale: float = 1.0, seed: int = 42) -> Scenario:
    """Generate the finance scenario (about 10,500 transactions at ``scale=1``)."""
    return build_supervised(SPEC, scale, seed)
