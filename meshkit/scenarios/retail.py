"""Retail (the default): four domains of one web shop over the same users and items.

- ``orders`` owns ``purchases`` (purchase history) and ``basket_outcomes``,
- ``clickstream`` owns ``page_views`` (browsing records) and ``view_outcomes``,
- ``customers`` owns ``customer_profiles`` (CRM, with PII: name, e-mail, phone),
- ``catalog`` owns ``items`` (category, list price).

Purchases and page views both come from the same latent preferences: every user ``u`` and
item ``i`` has an ``LATENT_DIM``-dimensional factor, and the chance that ``u`` picks ``i``
follows ``softmax_i(strength * <user_u, item_i> + item_bias_i)``. Purchases are more
selective than views (a larger strength), so a matrix factorization trained on both domains
has a real signal to recover; the factors are kept in ``truth``. Those two domains' interactions
are the scenario's :class:`~meshkit.scenarios.Interactions`.

The supervised task (:class:`~meshkit.scenarios.Task`, target ``purchased``) asks whether a
customer buys an item, from how they browsed it: one row per browsed ``(user, item)`` pair
with its page events, cart adds, wishlist adds, total dwell time and list price. The orders
domain, which runs the basket, labels the pairs that reached a basket or wishlist
(``basket_outcomes``); the clickstream domain labels the pairs only viewed
(``view_outcomes``). The two populations differ (engaged pairs are bought far more often),
the non-IID case federated training has to handle.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("retail", scale=0.1)
>>> sorted(sc.frames)
['basket_outcomes', 'customer_profiles', 'items', 'page_views', 'purchases', 'view_outcomes']
>>> sc.training_products, sc.task.target
(['basket_outcomes', 'view_outcomes'], 'purchased')
>>> sc.truth["user_factors"].shape[1]
8
"""

from __future__ import annotations

import numpy as np
import polars as pl

from meshkit._roles import Access, Entity
from meshkit.scenarios._base import (
    InteractionSource, Interactions, Scenario, Task, build_mesh, check_scale, column,
    contract_dict, person_names, scaled_size, sequential_ids, timestamps, YEAR_START,
)

__all__ = ["build", "CATEGORIES", "LATENT_DIM", "EVENT_TYPES", "COUNTRIES", "TASK", "INTERACTIONS",
           "ENTITIES", "ACCESS"]

LATENT_DIM = 8
N_USERS = 2000
N_ITEMS = 300
PURCHASES_PER_USER = 6.0
VIEWS_PER_USER = 20.0
PURCHASE_STRENGTH = 2.5
VIEW_STRENGTH = 1.5
#: one category per latent dimension: an item's category is its strongest factor
CATEGORIES = ["electronics", "books", "home", "garden", "sports", "toys", "beauty", "grocery"]
_CATEGORY_PRICE = np.array([250.0, 18.0, 60.0, 35.0, 70.0, 30.0, 25.0, 8.0])
EVENT_TYPES = ["view", "add_to_cart", "wishlist"]
COUNTRIES = ["DE", "FR", "ES", "IT", "NL", "SE", "PL", "GB"]

#: Features of the purchase task, in model order.
OUTCOME_FEATURES = ["page_events", "cart_adds", "wishlist_adds", "dwell_seconds", "list_price"]
#: What the retail mesh means for training, declared once.
TASK = Task(features=OUTCOME_FEATURES, target="purchased", kind="binary",
            products={"orders": "basket_outcomes", "clickstream": "view_outcomes"})
INTERACTIONS = Interactions(
    sources={"orders": InteractionSource("purchases", user="user_id", item="item_id",
                                         weight="quantity", time="ordered_at"),
             "clickstream": InteractionSource("page_views", user="user_id", item="item_id",
                                              time="viewed_at")},
    users="customer_profiles", items="items")
#: The entities several domains hold: customers and items, named by orders and clickstream.
ENTITIES = [
    Entity("customer", keys=["user_id"], reference="customer_profiles",
           references=["purchases", "page_views"]),
    Entity("item", keys=["item_id"], reference="items",
           references=["purchases", "page_views"]),
]
#: An analyst of the orders domain, and the catalog open to analysts.
ACCESS = Access(principals=[{"name": "ana", "kind": "person", "domain": "orders",
                             "roles": ["analyst"]}],
                grants=[{"id": "catalog-open", "role": "analyst", "domain": "catalog",
                         "action": "read"}])


def _sample_items(rng: np.random.Generator, users: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """One item per entry of ``users``, drawn from ``softmax(logits[user])`` (vectorized)."""
    n_users, n_items = logits.shape
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    # cumulative distribution of every user, offset by the user's row so one flat
    # searchsorted finds every draw at once
    cumulative = np.cumsum(probs, axis=1)
    cumulative[:, -1] = 1.0
    flat = (cumulative + np.arange(n_users)[:, None]).ravel()
    positions = np.searchsorted(flat, users + rng.random(users.size), side="right")
    return np.minimum(positions - users * n_items, n_items - 1)


def _interacting_users(rng: np.random.Generator, n_users: int, share: float,
                       per_user: float, activity: np.ndarray) -> np.ndarray:
    """User index of every event: a ``share`` of users, each with a Poisson count of events."""
    active = rng.random(n_users) < share
    counts = np.where(active, 1 + rng.poisson(per_user * activity), 0)
    return np.repeat(np.arange(n_users), counts)


_OUTCOME_PRODUCTS = [
    ("basket_outcomes", "orders",
     "Browsed items that reached a basket or wishlist, and whether they were bought."),
    ("view_outcomes", "clickstream",
     "Browsed items that were only viewed, and whether they were bought."),
]


def _outcome_columns() -> list[dict]:
    return [
        column("outcome_id", "string", "Row identifier, unique within the product.",
               primary_key=True),
        column("user_id", "integer", "The browsing customer (customer_profiles.user_id).",
               minimum=0),
        column("item_id", "integer", "The browsed item (items.item_id).", minimum=0),
        column("page_events", "number", "Page events of the customer on the item.", minimum=1),
        column("cart_adds", "number", "Add-to-cart events on the item.", minimum=0),
        column("wishlist_adds", "number", "Wishlist events on the item.", minimum=0),
        column("dwell_seconds", "number", "Seconds spent on the item's page, in all.",
               minimum=0),
        column("list_price", "number", "The item's list price, EUR.", minimum=0),
        column("purchased", "integer", "1 when the customer bought the item.", minimum=0,
               maximum=1),
    ]


def _outcomes(page_views: pl.DataFrame, purchases: pl.DataFrame,
              items: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The purchase task's training products: browsed pairs, split by basket engagement."""
    pairs = page_views.group_by("user_id", "item_id").agg(
        pl.len().cast(pl.Float64).alias("page_events"),
        (pl.col("event_type") == "add_to_cart").sum().cast(pl.Float64).alias("cart_adds"),
        (pl.col("event_type") == "wishlist").sum().cast(pl.Float64).alias("wishlist_adds"),
        pl.col("dwell_seconds").sum().round(1).alias("dwell_seconds"),
    )
    bought = purchases.select("user_id", "item_id").unique().with_columns(
        pl.lit(1, dtype=pl.Int64).alias("purchased"))
    pairs = (pairs
             .join(items.select("item_id", pl.col("price").alias("list_price")), on="item_id",
                   how="left")
             .join(bought, on=["user_id", "item_id"], how="left")
             .with_columns(pl.col("purchased").fill_null(0))
             .sort("user_id", "item_id"))
    engaged = (pl.col("cart_adds") + pl.col("wishlist_adds")) > 0
    out = {}
    for (product, _, _), rows, prefix in zip(_OUTCOME_PRODUCTS, (engaged, ~engaged),
                                             ("BSK", "VIE")):
        part = pairs.filter(rows)
        out[product] = part.insert_column(
            0, sequential_ids(prefix, part.height, width=7).alias("outcome_id"))
    return out


def _contracts() -> dict[str, dict]:
    purchases = [
        column("order_id", "string", "Order line identifier.", primary_key=True),
        column("user_id", "integer", "The buying customer (customer_profiles.user_id).",
               minimum=0),
        column("item_id", "integer", "The item bought (items.item_id).", minimum=0),
        column("quantity", "integer", "Units bought.", minimum=1, maximum=10),
        column("price", "number", "Unit price paid, EUR, after discount.", minimum=0),
        column("ordered_at", "timestamp", "When the order was placed."),
    ]
    page_views = [
        column("event_id", "string", "Browsing event identifier.", primary_key=True),
        column("user_id", "integer", "The browsing customer (customer_profiles.user_id).",
               minimum=0),
        column("item_id", "integer", "The item page (items.item_id).", minimum=0),
        column("event_type", "string", "What the user did on the page.",
               valid_values=EVENT_TYPES),
        column("dwell_seconds", "number", "Seconds spent on the page.", minimum=0),
        column("viewed_at", "timestamp", "When the page was viewed."),
    ]
    customers = [
        column("user_id", "integer", "Customer identifier.", primary_key=True, minimum=0),
        column("name", "string", "Full name.", pii=True),
        column("email", "string", "Contact e-mail address.", pii=True, unique=True,
               pattern=r"^[^@\s]+@[^@\s]+\.[a-z]+$"),
        column("phone", "string", "Contact phone number.", pii=True,
               pattern=r"^\+[0-9][0-9-]+$"),
        column("country", "string", "Country of the delivery address (ISO 3166 alpha-2).",
               valid_values=COUNTRIES),
        column("signup_date", "date", "When the customer registered."),
    ]
    items = [
        column("item_id", "integer", "Item identifier.", primary_key=True, minimum=0),
        column("title", "string", "Display title."),
        column("category", "string", "Shop category.", valid_values=CATEGORIES),
        column("price", "number", "List price, EUR.", minimum=0),
    ]
    return {
        **{product: contract_dict(scenario="retail", product=product, domain=domain,
                                  description=description, properties=_outcome_columns())
           for product, domain, description in _OUTCOME_PRODUCTS},
        "purchases": contract_dict(scenario="retail", product="purchases", domain="orders",
                                   description="Purchase history: one row per order line.",
                                   properties=purchases),
        "page_views": contract_dict(scenario="retail", product="page_views", domain="clickstream",
                                    description="Browsing records: one row per item page event.",
                                    properties=page_views),
        "customer_profiles": contract_dict(
            scenario="retail", product="customer_profiles", domain="customers",
            description="CRM customer profiles, with personal data.", properties=customers),
        "items": contract_dict(scenario="retail", product="items", domain="catalog",
                               description="The item catalog with list prices.",
                               properties=items),
    }


_DOMAINS = [
    {"name": "orders", "owner": "orders-team@shop.example.org",
     "description": "The web shop's order management.",
     "products": [{"name": "purchases", "description": "Purchase history, one row per order line.",
                   "consumers": ["clickstream", "customers", "catalog"]},
                  {"name": "basket_outcomes",
                   "description": "Browsed items that reached a basket, labelled bought or not.",
                   "consumers": ["clickstream"]}]},
    {"name": "clickstream", "owner": "web-analytics@shop.example.org",
     "description": "Browsing records collected on the shop's item pages.",
     "products": [{"name": "page_views", "description": "Item page events with dwell time.",
                   "consumers": ["orders", "catalog"]},
                  {"name": "view_outcomes",
                   "description": "Browsed items only viewed, labelled bought or not.",
                   "consumers": ["orders"]}]},
    {"name": "customers", "owner": "crm-team@shop.example.org",
     "description": "Customer relationship management.",
     "products": [{"name": "customer_profiles",
                   "description": "Customer profiles with contact details (PII).",
                   "consumers": ["orders"]}]},
    {"name": "catalog", "owner": "merchandising@shop.example.org",
     "description": "The assortment: items, categories and list prices.",
     "products": [{"name": "items", "description": "Items with category and list price.",
                   "consumers": ["orders", "clickstream"]}]},
]


def build(scale: float = 1.0, seed: int = 42) -> Scenario:
    """Generate the retail scenario (2,000 users x 300 items at ``scale=1``).

    ``truth`` holds ``user_factors`` (users x ``LATENT_DIM``), ``item_factors``,
    ``item_bias``, ``purchase_strength``, ``view_strength`` and ``affinity`` (the
    user x item matrix ``<user, item>``); row ``k`` of a factor matrix belongs to
    ``user_id``/``item_id`` ``k``. The outcome products are derived from the page views,
    purchases and list prices, so they add no random draw: the other frames are the same as
    without them.
    """
    check_scale(scale, seed)
    rng = np.random.default_rng(seed)
    n_users = scaled_size(N_USERS, scale, minimum=50)
    n_items = scaled_size(N_ITEMS, scale, minimum=20)

    user_factors = rng.normal(0.0, LATENT_DIM ** -0.25, size=(n_users, LATENT_DIM))
    item_factors = rng.normal(0.0, LATENT_DIM ** -0.25, size=(n_items, LATENT_DIM))
    item_bias = rng.normal(0.0, 0.5, size=n_items)
    activity = rng.lognormal(0.0, 0.5, size=n_users)
    affinity = user_factors @ item_factors.T

    # catalog: the category is the item's strongest latent dimension
    category_index = np.argmax(item_factors, axis=1)
    list_price = np.round(_CATEGORY_PRICE[category_index] * rng.lognormal(0.0, 0.35, n_items), 2)
    categories = np.array(CATEGORIES)[category_index]
    items = pl.DataFrame({
        "item_id": np.arange(n_items, dtype=np.int64),
        "title": pl.Series(categories).str.to_titlecase() + " item #"
        + pl.Series(np.arange(n_items)).cast(pl.String).str.zfill(4),
        "category": categories,
        "price": list_price,
    })

    # customers (CRM), with fictional personal data
    first, last = person_names(rng, n_users)
    user_ids = pl.Series(np.arange(n_users, dtype=np.int64))
    suffix = rng.integers(0, 10_000, size=n_users)
    customers = pl.DataFrame({
        "user_id": user_ids,
        "name": pl.Series(first) + " " + pl.Series(last),
        "email": (pl.Series(first).str.to_lowercase() + "." + pl.Series(last).str.to_lowercase()
                  + "." + user_ids.cast(pl.String) + "@mail.example.org"),
        # 555-01xx numbers are reserved for fiction
        "phone": "+1-202-555-01" + pl.Series(rng.integers(0, 100, n_users)).cast(pl.String)
        .str.zfill(2),
        "country": rng.choice(np.array(COUNTRIES), size=n_users),
        "signup_date": pl.Series(np.datetime64(YEAR_START.date(), "D")
                                 - (365 + suffix % 1500).astype("timedelta64[D]")),
    })

    # purchases: selective draws from the shared preferences
    buyers = _interacting_users(rng, n_users, 0.8, PURCHASES_PER_USER, activity)
    bought = _sample_items(rng, buyers, PURCHASE_STRENGTH * affinity + item_bias)
    n_orders = buyers.size
    discount = rng.choice(np.array([0.0, 0.1, 0.2]), size=n_orders, p=[0.7, 0.2, 0.1])
    purchases = pl.DataFrame({
        "user_id": buyers.astype(np.int64),
        "item_id": bought.astype(np.int64),
        "quantity": np.minimum(1 + rng.poisson(0.4, n_orders), 10).astype(np.int64),
        "price": np.round(list_price[bought] * (1.0 - discount), 2),
        "ordered_at": timestamps(rng, n_orders, sort=False),
    }).sort("ordered_at", "user_id", "item_id", maintain_order=True)
    purchases = purchases.insert_column(0, sequential_ids("ORD", n_orders, width=7)
                                        .alias("order_id"))

    # page views: broader draws from the same preferences; engagement grows with affinity
    viewers = _interacting_users(rng, n_users, 0.9, VIEWS_PER_USER, activity)
    viewed = _sample_items(rng, viewers, VIEW_STRENGTH * affinity + item_bias)
    n_views = viewers.size
    pair_affinity = affinity[viewers, viewed]
    engaged = rng.random(n_views) < 1.0 / (1.0 + np.exp(-(pair_affinity - 2.0) * 2.0))
    event_type = np.where(engaged, np.where(rng.random(n_views) < 0.6, "add_to_cart", "wishlist"),
                          "view")
    page_views = pl.DataFrame({
        "user_id": viewers.astype(np.int64),
        "item_id": viewed.astype(np.int64),
        "event_type": event_type,
        "dwell_seconds": np.round(rng.lognormal(3.0 + 0.4 * pair_affinity, 0.6), 1),
        "viewed_at": timestamps(rng, n_views, sort=False),
    }).sort("viewed_at", "user_id", "item_id", maintain_order=True)
    page_views = page_views.insert_column(0, sequential_ids("EV", n_views, width=8)
                                          .alias("event_id"))

    outcomes = _outcomes(page_views, purchases, items)
    frames = {"purchases": purchases, "basket_outcomes": outcomes["basket_outcomes"],
              "page_views": page_views, "view_outcomes": outcomes["view_outcomes"],
              "customer_profiles": customers, "items": items}
    mesh = build_mesh("retail", "A web shop: orders, clickstream, customers and catalog over "
                      "the same users and items.", _DOMAINS, _contracts(), task=TASK,
                      interactions=INTERACTIONS, entities=ENTITIES, access=ACCESS)
    truth = {
        "user_factors": user_factors,
        "item_factors": item_factors,
        "item_bias": item_bias,
        "affinity": affinity,
        "purchase_strength": PURCHASE_STRENGTH,
        "view_strength": VIEW_STRENGTH,
        "latent_dim": LATENT_DIM,
        "n_users": n_users,
        "n_items": n_items,
    }
    return Scenario(name="retail", mesh=mesh, frames=frames, truth=truth, scale=scale,
                    seed=seed)
