"""Shared pieces of the embedded scenarios: the result types and small generators.

Every scenario module builds plain ODCS v3.1 contract dictionaries with :func:`column` and
:func:`contract_dict`, draws its frames from one :class:`numpy.random.Generator`, and returns
a :class:`Scenario`: its mesh, its frames, and what the mesh means for training, as data (a
supervised :class:`Task`, the :class:`Interactions` a recommender learns from), so that no
consumer branches on a scenario's name. Supervised scenarios (one labelled product per
domain, shared labelling model, domain-specific feature distributions) are built by
:func:`build_supervised` from a :class:`SupervisedSpec`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from meshkit._display import Code, Displayable, Heading, Table
from meshkit._errors import SpecError
from meshkit._roles import Access, InteractionSource, Interactions, Task

__all__ = [
    "Task",
    "InteractionSource",
    "Interactions",
    "Scenario",
    "Feature",
    "DomainPopulation",
    "SupervisedSpec",
    "column",
    "contract_dict",
    "scaled_size",
    "check_scale",
    "timestamps",
    "sequential_ids",
    "person_names",
    "build_supervised",
    "build_mesh",
    "supervised_access",
]

#: The scenarios' data covers this calendar year.
YEAR_START = dt.datetime(2024, 1, 1)
SECONDS_PER_YEAR = 366 * 24 * 3600  # 2024 is a leap year

FIRST_NAMES = np.array([
    "Ada", "Bruno", "Chen", "Dana", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kemal", "Lena", "Mateo", "Nadia", "Oscar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Amara", "Boris", "Carla", "Dmitri",
])
LAST_NAMES = np.array([
    "Abe", "Baptiste", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Quispe", "Rossi",
    "Silva", "Tanaka", "Ulloa", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Ahmed", "Berg",
    "Chowdhury", "Diaz",
])


@dataclass(frozen=True, repr=False)
class Scenario(Displayable):
    """An embedded scenario: a mesh, its products' frames, the truth behind them, and what
    the mesh means for training.

    Attributes
    ----------
    name : str
        The scenario's name, one of :data:`meshkit.scenarios.SCENARIOS`.
    mesh : meshkit._mesh.Mesh
        Domains, owners, products and their contracts (products have no source file).
    frames : dict of str to polars.DataFrame
        One frame per product name; each passes its product's contract.
    truth : dict
        What generated the data, for tests (latent factors, true coefficients...).
    task : Task or None
        The supervised task and the product of each domain carrying it, or ``None``.
    interactions : Interactions or None
        The user-item interactions a recommender learns from, or ``None``.
    scale, seed : float, int
        The arguments the scenario was generated with.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> sc = load_scenario("healthcare", scale=0.1)
    >>> sc.training_products[0], sc.task.target, sc.interactions
    ('north_admissions', 'readmitted_30d', None)
    """

    name: str
    mesh: Any
    frames: dict[str, pl.DataFrame]
    truth: dict[str, Any]
    task: Task | None = None
    interactions: Interactions | None = None
    scale: float = 1.0
    seed: int = 42

    def __post_init__(self) -> None:
        # the mesh declares what it means for training; the scenario reads it from there
        for name in ("task", "interactions"):
            declared = getattr(self.mesh, name, None)
            given = getattr(self, name)
            if given is None:
                object.__setattr__(self, name, declared)
            elif declared is not None and declared != given:
                raise SpecError(f"the scenario's {name} differs from its mesh's",
                                where=f"scenario {self.name!r}", expected=repr(declared),
                                found=repr(given))

    @property
    def training_products(self) -> list[str]:
        """The product of each domain carrying :attr:`task`, in domain order (empty without)."""
        return list(self.task.products.values()) if self.task is not None else []

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={frame.height}" for name, frame in self.frames.items())
        return f"Scenario({self.name!r}, scale={self.scale}, seed={self.seed}, rows: {sizes})"

    def _render(self) -> list:
        rows = [(name, frame.height, frame.width) for name, frame in self.frames.items()]
        return [Heading("Scenario ", Code(self.name), f" (scale={self.scale}, seed={self.seed})"),
                Table(["product", "rows", "columns"], rows, max_rows=max(len(rows), 1))
                ] + self.mesh._render()


# --------------------------------------------------------------------------- contracts


def column(name: str, logical_type: str, description: str, *, required: bool = True,
           unique: bool = False, primary_key: bool = False, pii: bool = False,
           minimum: float | None = None, maximum: float | None = None,
           valid_values: list | None = None, pattern: str | None = None) -> dict:
    """One ODCS v3.1 schema property as a plain dict.

    Examples
    --------
    >>> column("email", "string", "Contact e-mail.", pii=True, pattern="@")["classification"]
    'pii'
    """
    prop: dict[str, Any] = {
        "name": name,
        "logicalType": logical_type,
        "description": description,
        "required": required,
    }
    if unique or primary_key:
        prop["unique"] = True
    if primary_key:
        prop["primaryKey"] = True
        prop["primaryKeyPosition"] = 1
    if pii:
        prop["classification"] = "pii"
    options: dict[str, Any] = {}
    if minimum is not None:
        options["minimum"] = minimum
    if maximum is not None:
        options["maximum"] = maximum
    if pattern is not None:
        options["pattern"] = pattern
    if options:
        prop["logicalTypeOptions"] = options
    if valid_values is not None:
        prop["quality"] = [{
            "type": "library",
            "metric": "invalidValues",
            "arguments": {"validValues": list(valid_values)},
            "mustBe": 0,
            "description": f"{name} takes one of the listed values",
        }]
    return prop


def contract_dict(*, scenario: str, product: str, domain: str, description: str,
                  properties: list[dict], version: str = "1.0.0") -> dict:
    """A whole ODCS v3.1 data contract for one product, as a plain dict.

    Examples
    --------
    >>> d = contract_dict(scenario="retail", product="items", domain="catalog",
    ...                   description="Items on sale.",
    ...                   properties=[column("item_id", "integer", "Item.", primary_key=True)])
    >>> d["id"], d["schema"][0]["properties"][0]["primaryKey"]
    ('retail-items', True)
    """
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"{scenario}-{product}",
        "name": product,
        "version": version,
        "status": "active",
        "domain": domain,
        "description": {"purpose": description},
        "schema": [{
            "name": product,
            "physicalType": "table",
            "logicalType": "object",
            "description": description,
            "properties": properties,
            "quality": [{
                "type": "library",
                "metric": "rowCount",
                "mustBeGreaterThan": 0,
                "description": "the product is never empty",
            }],
        }],
    }


# --------------------------------------------------------------------------- generators


def check_scale(scale: float, seed: int) -> None:
    """Raise :class:`~meshkit._errors.SpecError` unless ``scale > 0`` and ``seed`` is an int."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) \
            or scale <= 0:
        raise SpecError("scale must be a positive finite number", where="load_scenario(scale=...)",
                        expected="a number > 0, e.g. 0.1 or 1.0", found=repr(scale))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError("seed must be a non-negative integer", where="load_scenario(seed=...)",
                        expected="an int >= 0", found=repr(seed))


def scaled_size(default: int, scale: float, minimum: int = 50) -> int:
    """``default * scale`` rounded, never below ``minimum``.

    Examples
    --------
    >>> scaled_size(2000, 0.1), scaled_size(2000, 0.001)
    (200, 50)
    """
    return max(minimum, int(round(default * scale)))


def timestamps(rng: np.random.Generator, n: int, *, sort: bool = True) -> pl.Series:
    """``n`` timestamps (whole seconds, ``Datetime("us")``) spread over 2024.

    Examples
    --------
    >>> ts = timestamps(np.random.default_rng(0), 3)
    >>> ts.dtype, ts.is_sorted()
    (Datetime(time_unit='us', time_zone=None), True)
    """
    seconds = rng.integers(0, SECONDS_PER_YEAR, size=n)
    if sort:
        seconds = np.sort(seconds)
    values = np.datetime64(YEAR_START, "s") + seconds.astype("timedelta64[s]")
    return pl.Series(values.astype("datetime64[us]"))


def sequential_ids(prefix: str, n: int, width: int = 6) -> pl.Series:
    """``prefix-000001`` ... identifiers.

    Examples
    --------
    >>> sequential_ids("ORD", 2).to_list()
    ['ORD-000001', 'ORD-000002']
    """
    numbers = pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(width)
    return (prefix + "-" + numbers).alias("id")


def person_names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fictional first and last names (arrays of ``n`` strings)."""
    return rng.choice(FIRST_NAMES, size=n), rng.choice(LAST_NAMES, size=n)


# --------------------------------------------------------------------------- meshes


def build_mesh(name: str, description: str, domains: list[dict], contracts: dict[str, dict],
               **declarations):
    """Build a :class:`~meshkit._mesh.Mesh` from domain dicts and contract dicts.

    ``domains`` items: ``{"name", "owner", "description", "products": [{"name",
    "description", "consumers"}]}``; ``contracts`` maps product name to an ODCS dict;
    ``declarations`` are the mesh's ``task``, ``interactions``, ``entities`` and ``access``.
    """
    from meshkit._contracts import DataContract
    from meshkit._mesh import DataProduct, Domain, Mesh

    built = []
    for domain in domains:
        products = [
            DataProduct(
                name=p["name"],
                description=p["description"],
                consumers=list(p.get("consumers", [])),
                contract=DataContract.from_dict(contracts[p["name"]],
                                                where=f"scenario {name}: {p['name']}"),
            )
            for p in domain["products"]
        ]
        built.append(Domain(name=domain["name"], owner=domain["owner"],
                            description=domain["description"], products=products))
    return Mesh(name=name, description=description, domains=built, **declarations)


# --------------------------------------------------------------------------- supervised


@dataclass(frozen=True)
class Feature:
    """One numeric feature of a supervised scenario.

    Parameters
    ----------
    name, description : str
        Column name and its meaning (with unit).
    distribution : str
        ``"normal"`` (loc, scale), ``"lognormal"`` (mean, sigma of the log),
        ``"poisson"`` (lam,), ``"bernoulli"`` (p,) or ``"uniform"`` (low, high).
    center, spread : float
        Reference location and scale the labelling model standardizes with.
    weight : float
        The labelling model's coefficient on the standardized feature.
    lower, upper : float, optional
        Values are clipped into ``[lower, upper]``.
    decimals : int
        Rounding of the stored values.
    """

    name: str
    description: str
    distribution: str
    center: float
    spread: float
    weight: float
    lower: float | None = None
    upper: float | None = None
    decimals: int = 2


@dataclass(frozen=True)
class DomainPopulation:
    """One domain's population: its size and its feature distribution parameters."""

    domain: str
    product: str
    owner: str
    description: str
    size: int
    prefix: str
    params: dict[str, tuple]


@dataclass(frozen=True)
class SupervisedSpec:
    """Everything a supervised scenario module declares; see :func:`build_supervised`."""

    scenario: str
    description: str
    product_description: str
    features: list[Feature]
    intercept: float
    target: str
    target_description: str
    id_column: str
    populations: list[DomainPopulation]
    extra_columns: Any  # callable(rng, population, n) -> dict column name -> values
    extra_properties: list[dict] = field(default_factory=list)


def supervised_access(domains: list[str]) -> Access:
    """Who may read what in a supervised scenario: an analyst (``ana``) of the second domain,
    the first domain's consumer, and, with four domains or more, the last domain open to
    analysts."""
    grants = ([{"id": f"{domains[-1]}-open", "role": "analyst", "domain": domains[-1],
                "action": "read"}] if len(domains) >= 4 else [])
    return Access(principals=[{"name": "ana", "kind": "person", "domain": domains[1],
                               "roles": ["analyst"]}], grants=grants)


def _draw(rng: np.random.Generator, feature: Feature, params: tuple, n: int) -> np.ndarray:
    kind = feature.distribution
    if kind == "normal":
        values = rng.normal(params[0], params[1], size=n)
    elif kind == "lognormal":
        values = rng.lognormal(params[0], params[1], size=n)
    elif kind == "poisson":
        values = rng.poisson(params[0], size=n).astype(float)
    elif kind == "bernoulli":
        values = (rng.random(n) < params[0]).astype(float)
    elif kind == "uniform":
        values = rng.uniform(params[0], params[1], size=n)
    else:  # a programming error in a scenario module, not user input
        raise ValueError(f"unknown distribution {kind!r} for feature {feature.name!r}")
    if feature.lower is not None or feature.upper is not None:
        values = np.clip(values, feature.lower, feature.upper)
    return np.round(values, feature.decimals)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def build_supervised(spec: SupervisedSpec, scale: float, seed: int):
    """Generate a supervised scenario: one labelled product per domain.

    Features are drawn per domain from that domain's distribution parameters (non-IID);
    labels from one shared logistic model on standardized features::

        P(y = 1 | x) = sigmoid(intercept + sum_j weight_j * (x_j - center_j) / spread_j)

    Returns
    -------
    Scenario
        ``truth`` holds ``feature_names``, raw-unit ``coefficients`` and ``intercept``,
        ``standardized_coefficients``/``standardized_intercept`` with ``center`` and
        ``spread``, and per-domain ``sizes`` and ``positive_rates``.
    """
    check_scale(scale, seed)
    rng = np.random.default_rng(seed)
    names = [f.name for f in spec.features]
    center = np.array([f.center for f in spec.features])
    spread = np.array([f.spread for f in spec.features])
    weights = np.array([f.weight for f in spec.features])

    frames: dict[str, pl.DataFrame] = {}
    contracts: dict[str, dict] = {}
    domains: list[dict] = []
    sizes, rates = {}, {}
    all_domains = [p.domain for p in spec.populations]
    for population in spec.populations:
        n = scaled_size(population.size, scale)
        x = np.column_stack([_draw(rng, f, population.params[f.name], n) for f in spec.features])
        logits = spec.intercept + ((x - center) / spread) @ weights
        y = (rng.random(n) < _sigmoid(logits)).astype(np.int64)
        extra = spec.extra_columns(rng, population, n)
        product = population.product
        frame = pl.DataFrame({
            spec.id_column: sequential_ids(population.prefix, n),
            **extra,
            **{name: x[:, j] for j, name in enumerate(names)},
            spec.target: y,
        })
        frames[product] = frame
        sizes[population.domain] = n
        rates[population.domain] = float(y.mean())
        properties = [
            column(spec.id_column, "string", "Row identifier, unique within the product.",
                   primary_key=True),
            *spec.extra_properties,
            *[column(f.name, "number", f.description, minimum=f.lower, maximum=f.upper)
              for f in spec.features],
            column(spec.target, "integer", spec.target_description, minimum=0, maximum=1),
        ]
        contracts[product] = contract_dict(
            scenario=spec.scenario, product=product, domain=population.domain,
            description=f"{spec.product_description} ({population.description})",
            properties=properties)
        domains.append({
            "name": population.domain, "owner": population.owner,
            "description": population.description,
            "products": [{
                "name": product,
                "description": f"{spec.product_description} at {population.domain}.",
                "consumers": [d for d in all_domains if d != population.domain],
            }],
        })

    task = Task(features=names, target=spec.target, kind="binary",
                products={p.domain: p.product for p in spec.populations})
    mesh = build_mesh(spec.scenario, spec.description, domains, contracts, task=task,
                      access=supervised_access(all_domains))
    truth = {
        "feature_names": names,
        "coefficients": weights / spread,
        "intercept": float(spec.intercept - np.sum(weights * center / spread)),
        "standardized_coefficients": weights.copy(),
        "standardized_intercept": float(spec.intercept),
        "center": center,
        "spread": spread,
        "sizes": sizes,
        "positive_rates": rates,
    }
    return Scenario(name=spec.scenario, mesh=mesh, frames=frames, truth=truth, task=task,
                    scale=scale, seed=seed)
