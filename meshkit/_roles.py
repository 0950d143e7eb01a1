"""What a mesh means for the steps after publishing, declared in its spec.

A mesh spec names domains, owners, products and contracts; these declarations say what the
later steps read, so that no step guesses and none branches on a mesh's name:

- :class:`Task`: a supervised task, carried by one product per domain (federated training);
- :class:`Interactions`: user-item interactions per domain (federated recommendation);
- :class:`Entity`: an entity several domains hold, its keys, the product that is its
  reference and the products that copy or reference it (consistency);
- :class:`Access`: principals and grants, or a policy file beside the spec (security).

The spec's YAML form of each is in :mod:`meshkit._mesh`; every declaration is checked
against the mesh's domains, products and contract columns when the mesh is built.

Examples
--------
>>> task = Task(features=["age", "bmi"], target="readmitted_30d",
...             products={"north_hospital": "north_admissions"})
>>> task.kind, task.products["north_hospital"]
('binary', 'north_admissions')
>>> Entity("customer", keys=["user_id"], reference="customer_profiles",
...        references=["purchases"]).products
['customer_profiles', 'purchases']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from meshkit._errors import SpecError

__all__ = ["Task", "InteractionSource", "Interactions", "Entity", "Access", "TASK_KINDS",
           "check_declarations"]

#: The supervised task kinds meshkit trains.
TASK_KINDS: tuple[str, ...] = ("binary",)


@dataclass(frozen=True)
class Task:
    """A supervised learning task carried by one product per domain.

    Parameters
    ----------
    features : list of str
        Numeric columns without nulls, in their natural units (standardize them, e.g. with
        federated means and deviations, before gradient training). Every training product
        has them, so one model fits every domain.
    target : str
        The label column (``Int64`` 0/1 for ``kind="binary"``).
    kind : str
        One of :data:`TASK_KINDS` (``"binary"`` for now).
    products : dict of str to str
        Domain name -> the product of that domain carrying the task, in domain order.

    Examples
    --------
    >>> Task(["x"], "y", products={"a": "a_rows"}).to_dict()["products"]
    {'a': 'a_rows'}
    """

    features: list[str]
    target: str
    kind: str = "binary"
    products: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The spec's ``task:`` mapping."""
        return {"kind": self.kind, "target": self.target, "features": list(self.features),
                "products": dict(self.products)}


@dataclass(frozen=True)
class InteractionSource:
    """Where one domain keeps its user-item interactions, and which columns say what.

    Parameters
    ----------
    product : str
        The product holding the interactions (one row per event).
    user, item : str
        Integer columns: the user and the item (ids ``0 .. n - 1``).
    weight : str, optional
        A column grading the interaction (quantity, rating); ``None`` for implicit feedback.
    time : str, optional
        The timestamp column of the event.

    Examples
    --------
    >>> InteractionSource("purchases", user="user_id", item="item_id", time="ordered_at").weight
    """

    product: str
    user: str = "user_id"
    item: str = "item_id"
    weight: str | None = None
    time: str | None = None

    def to_dict(self) -> dict:
        """The spec's mapping of one source (optional columns only when set)."""
        out = {"product": self.product, "user": self.user, "item": self.item}
        out.update({k: v for k, v in (("weight", self.weight), ("time", self.time)) if v})
        return out


@dataclass(frozen=True)
class Interactions:
    """The interactions a recommender learns from: one source per domain.

    Parameters
    ----------
    sources : dict of str to InteractionSource
        Domain name -> where that domain keeps its interactions.
    users, items : str, optional
        Products listing every user / item (by the sources' user / item column), which size
        the recommender beyond the ids seen in interactions.

    Examples
    --------
    >>> spec = Interactions({"orders": InteractionSource("purchases")}, items="items")
    >>> spec.products, spec.items
    (['purchases'], 'items')
    """

    sources: dict[str, InteractionSource]
    users: str | None = None
    items: str | None = None

    @property
    def products(self) -> list[str]:
        """The interaction products, in domain order."""
        return [source.product for source in self.sources.values()]

    def to_dict(self) -> dict:
        """The spec's ``interactions:`` mapping."""
        out: dict = {"sources": {d: s.to_dict() for d, s in self.sources.items()}}
        out.update({k: v for k, v in (("users", self.users), ("items", self.items)) if v})
        return out


@dataclass(frozen=True)
class Entity:
    """An entity several domains hold: its keys, its reference product, copies and references.

    Parameters
    ----------
    name : str
        What the entity is (``customer``, ``item``).
    keys : list of str
        The entity key: columns every listed product has.
    reference : str
        The product that is the standard (source of truth) for the entity.
    copies : list of str
        Products of other domains holding a copy of the reference's rows (compared with it
        and synchronised from it).
    references : list of str
        Products naming the entity by its keys (foreign keys into the reference).

    Examples
    --------
    >>> Entity("item", ["item_id"], "items", copies=["items_at_shop"]).to_dict()["copies"]
    ['items_at_shop']
    """

    name: str
    keys: list[str]
    reference: str
    copies: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)

    @property
    def products(self) -> list[str]:
        """The reference, then the copies, then the products referencing it."""
        return [self.reference, *self.copies, *self.references]

    def to_dict(self) -> dict:
        """The spec's mapping of one entity (empty lists left out)."""
        out: dict = {"name": self.name, "keys": list(self.keys), "reference": self.reference}
        if self.copies:
            out["copies"] = list(self.copies)
        if self.references:
            out["references"] = list(self.references)
        return out


@dataclass(frozen=True)
class Access:
    """Who may do what: principals besides the product owners, and the policy.

    Parameters
    ----------
    principals : list of dict
        ``{name, kind, domain, roles}`` each (see :class:`~meshkit.Principal`).
    grants, denies : list of dict
        The policy's items (see :class:`~meshkit.Policy`), when declared in the spec.
    policy_file : Path, optional
        A policy file beside the spec (``policy:``), instead of ``grants``/``denies``.

    Examples
    --------
    >>> Access(principals=[{"name": "ana", "roles": ["analyst"]}]).policy_dict()
    {'grants': [], 'denies': []}
    """

    principals: list[dict] = field(default_factory=list)
    grants: list[dict] = field(default_factory=list)
    denies: list[dict] = field(default_factory=list)
    policy_file: Path | None = None

    def policy_dict(self) -> dict:
        """The policy as a mapping: read from :attr:`policy_file`, else the spec's items."""
        if self.policy_file is not None:
            from meshkit._security.policy import Policy

            return Policy.from_yaml(self.policy_file).to_dict()
        return {"grants": [dict(g) for g in self.grants],
                "denies": [dict(d) for d in self.denies]}

    def policy(self, products=None):
        """A :class:`~meshkit.Policy`, bound to ``products`` when given."""
        from meshkit._security.policy import Policy

        if self.policy_file is not None:
            return Policy.from_yaml(self.policy_file, products=products)
        return Policy.from_dict(self.policy_dict(), where="mesh spec", products=products)

    def is_empty(self) -> bool:
        return not (self.principals or self.grants or self.denies or self.policy_file)



# =========================================================================== checks


def check_declarations(mesh, locate) -> None:
    """Check ``mesh``'s task, interactions, entities and access against its products.

    ``locate(path)`` turns a field path such as ``["task", "target"]`` into ``where``.
    Every problem is a :class:`~meshkit._errors.SpecError` saying what was expected.
    """
    products = {p.name: p for p in mesh.products()}

    def product_in(name, at, domain=None):
        if name not in products:
            raise SpecError("names no product of the mesh", where=locate(at),
                            expected=f"one of {', '.join(products) or 'no products'}",
                            found=repr(name))
        if domain is not None and products[name].domain != domain:
            raise SpecError("the product is not the domain's", where=locate(at),
                            expected=f"a product of domain {domain!r}: "
                                     f"{', '.join(mesh.domains[domain].products) or 'none'}",
                            found=f"{name!r}, of domain {products[name].domain!r}")
        return products[name]

    def columns_in(product, names, at):
        for k, column in enumerate(names):
            if column not in product.columns:
                where = locate(at if isinstance(names, dict) or len(names) == 1
                               else [*at, k])
                raise SpecError("names no column of the product's contract", where=where,
                                expected=f"a column of {product.name!r}: "
                                         f"{', '.join(product.columns)}",
                                found=repr(column))

    def domain_in(domain, at):
        if domain not in mesh.domains:
            raise SpecError("names no domain of the mesh", where=locate(at),
                            expected=f"one of {', '.join(mesh.domains)}", found=repr(domain))

    task = mesh.task
    if task is not None:
        if task.kind not in TASK_KINDS:
            raise SpecError("unknown task kind", where=locate(["task", "kind"]),
                            expected=" or ".join(TASK_KINDS), found=repr(task.kind))
        if not task.products:
            raise SpecError("a task needs its products", where=locate(["task", "products"]),
                            expected="domain -> the product carrying the task", found="none")
        for domain, name in task.products.items():
            domain_in(domain, ["task", "products", domain])
            product = product_in(name, ["task", "products", domain], domain)
            columns_in(product, task.features, ["task", "features"])
            columns_in(product, [task.target], ["task", "target"])
            if task.target in task.features:
                raise SpecError("the target is also a feature", where=locate(["task", "target"]),
                                expected="a label column outside features",
                                found=repr(task.target))
    interactions = mesh.interactions
    if interactions is not None:
        if not interactions.sources:
            raise SpecError("interactions need their sources",
                            where=locate(["interactions", "sources"]),
                            expected="domain -> {product, user, item}", found="none")
        for domain, source in interactions.sources.items():
            at = ["interactions", "sources", domain]
            domain_in(domain, at)
            product = product_in(source.product, [*at, "product"], domain)
            for role in ("user", "item", "weight", "time"):
                column = getattr(source, role)
                if column is not None:
                    columns_in(product, [column], [*at, role])
        first = next(iter(interactions.sources.values()))
        for role in ("users", "items"):
            name = getattr(interactions, role)
            if name is not None:
                listing = product_in(name, ["interactions", role])
                columns_in(listing, [getattr(first, role[:-1])], ["interactions", role])
    seen: dict[str, int] = {}
    for i, entity in enumerate(mesh.entities):
        at = ["entities", i]
        if entity.name in seen:
            raise SpecError("duplicate entity name", where=locate([*at, "name"]),
                            expected="entity names unique in the mesh",
                            found=f"{entity.name!r}, already entities[{seen[entity.name]}]")
        seen[entity.name] = i
        if not entity.keys:
            raise SpecError("an entity needs its keys", where=locate([*at, "keys"]),
                            expected="the key columns every listed product has", found="none")
        listed = [("reference", entity.reference)] + \
            [(("copies", k), n) for k, n in enumerate(entity.copies)] + \
            [(("references", k), n) for k, n in enumerate(entity.references)]
        names = [n for _, n in listed]
        for role, name in listed:
            place = [*at, *role] if isinstance(role, tuple) else [*at, role]
            if names.count(name) > 1:
                raise SpecError("a product listed twice for the entity", where=locate(place),
                                expected="the reference, its copies and its references, "
                                         "each once", found=repr(name))
            columns_in(product_in(name, place), entity.keys, [*at, "keys"])
    access = mesh.access
    if access is not None and not access.is_empty():
        _check_access(mesh, access, locate)


def _check_access(mesh, access: Access, locate) -> None:
    from meshkit._errors import PolicyError
    from meshkit._security.tokens import principals_from_specs

    try:
        principals = principals_from_specs(access.principals, where="principals")
    except PolicyError as exc:
        raise SpecError(exc.message, where=locate(["principals"]) + f" ({exc.where})",
                        expected=exc.expected, found=exc.found) from exc
    names = set()
    for i, principal in enumerate(principals):
        if not principal.name:
            raise SpecError("a principal needs a name", where=locate(["principals", i]),
                            expected="a name", found=repr(principal.name))
        if principal.name in names:
            raise SpecError("duplicate principal", where=locate(["principals", i, "name"]),
                            expected="principal names unique", found=repr(principal.name))
        names.add(principal.name)
        if principal.domain is not None and principal.domain not in mesh.domains:
            raise SpecError("names no domain of the mesh",
                            where=locate(["principals", i, "domain"]),
                            expected=f"one of {', '.join(mesh.domains)}",
                            found=repr(principal.domain))
    field_name = "policy" if access.policy_file is not None else "grants"
    try:
        access.policy(products=list(mesh.products()))
    except PolicyError as exc:
        raise SpecError(exc.message, where=locate([field_name]) + f" ({exc.where})",
                        expected=exc.expected, found=exc.found) from exc
