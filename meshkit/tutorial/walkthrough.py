"""The security walk-through's cast, derived from a mesh rather than named for one scenario.

The ``05_security`` notebook runs on every embedded scenario. :func:`plan_walkthrough` picks,
from the mesh's domains, products and PII columns: the product a consumer asks for (the one
with the most PII columns), the consumer's domain (the product's first consumer), the columns
asked for and the PII column tokenized in the grant, a column outside it, a product nobody
granted, and the default principals and grants (a domain-wide grant to analysts, and an
expired, filtered grant for a reporting service). The principals and grants the mesh
declares (``principals:``, ``grants:`` or ``policy:`` of its spec) replace the derived ones
of the same name or id and join the others; the denies it declares are kept as they are.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("retail", scale=0.1)
>>> plan = plan_walkthrough(sc.mesh, sc.frames)
>>> plan.product, plan.consumer_domain, plan.request_columns, plan.masks
('customer_profiles', 'orders', ('user_id', 'email', 'country'), {'email': 'tokenize'})
>>> plan.hidden_column, plan.unshared_product, plan.decoy_product, plan.reporting_product
('phone', 'page_views', 'items', 'purchases')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshkit._display import Details, Displayable, Facts, Heading, Table, fmt
from meshkit._errors import SecurityError
from meshkit._security.policy import as_product_info

__all__ = ["Walkthrough", "plan_walkthrough"]

#: the consumer asking for access and the reporting service, as principal names.
ANALYST, SERVICE = "ana", "bi-dashboard"


@dataclass(frozen=True)
class Walkthrough(Displayable):
    """Who asks for what in the walk-through, and the default principals and grants.

    Attributes
    ----------
    product : str
        The product a consumer asks for.
    consumer_domain : str
        The domain of the consumer (``ana``) and of the reporting service.
    request_columns : tuple of str
        The key, the PII column to tokenize (when the product has PII), and non-PII columns
        up to three in all.
    masks : dict
        ``{pii column: "tokenize"}`` for the approval (empty without PII).
    deterministic : tuple of str
        PII columns protected with deterministic AES-SIV (joinable tokens).
    hidden_column : str
        A column outside the request (a PII column when one is left).
    unshared_product : str
        A product of another domain that no grant covers.
    decoy_product : str
        Another product, whose ciphertext the "moved ciphertext" attack overwrites.
    open_domain : str or None
        A domain every analyst may read (a broad grant the posture report flags).
    reporting_product : str
        The product of the consumer's domain the reporting service was granted (expired).
    principals, grants : list of dict
        Default ``principals`` and ``grants`` parameters of the notebook.
    denies : list of dict
        The denies the mesh declares (none are derived).
    """

    product: str
    consumer_domain: str
    request_columns: tuple[str, ...]
    masks: dict
    deterministic: tuple[str, ...]
    hidden_column: str
    unshared_product: str
    decoy_product: str
    open_domain: str | None
    reporting_product: str
    principals: list = field(default_factory=list)
    grants: list = field(default_factory=list)
    denies: list = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.request_columns[0]

    def to_dict(self) -> dict:
        """JSON-ready: every choice, the default principals and grants."""
        return {"product": self.product, "consumer_domain": self.consumer_domain,
                "request_columns": list(self.request_columns), "masks": dict(self.masks),
                "deterministic": list(self.deterministic), "hidden_column": self.hidden_column,
                "unshared_product": self.unshared_product, "decoy_product": self.decoy_product,
                "open_domain": self.open_domain, "reporting_product": self.reporting_product,
                "principals": [dict(p) for p in self.principals],
                "grants": [dict(g) for g in self.grants],
                "denies": [dict(d) for d in self.denies]}

    def _render(self) -> list:
        facts = Facts({
            "product asked for": self.product,
            "consumer domain": self.consumer_domain,
            "columns requested": list(self.request_columns),
            "masks": fmt(self.masks) or "none",
            "deterministic (joinable) PII": list(self.deterministic) or "none",
            "column outside the request": self.hidden_column,
            "product nobody granted": self.unshared_product,
            "decoy product": self.decoy_product,
            "domain open to analysts": self.open_domain,
            "reporting product (expired grant)": self.reporting_product,
        })
        principals = Table(["name", "kind", "domain", "roles"],
                           [(p.get("name"), p.get("kind"), p.get("domain"), p.get("roles"))
                            for p in self.principals])
        grant_columns = ["id", "principal", "role", "product", "domain", "action", "columns",
                         "row_filter", "expires"]
        grants = Table(grant_columns, [tuple(g.get(c) for c in grant_columns)
                                       for g in self.grants])
        out = [Heading(f"Security walk-through on {self.product}"), facts,
               Details(f"{len(self.principals)} default principal(s)", [principals], open=True),
               Details(f"{len(self.grants)} default grant(s)", [grants], open=True)]
        if self.denies:
            deny_columns = ["id", "principal", "role", "product", "domain", "action", "reason"]
            out.append(Details(f"{len(self.denies)} deny(ies) the mesh declares", [
                Table(deny_columns, [tuple(d.get(c) for c in deny_columns)
                                     for d in self.denies])], open=True))
        return out


def _distinct(frames, name: str, column: str) -> int:
    frame = (frames or {}).get(name)
    return frame[column].n_unique() if frame is not None and column in frame.columns else 0


def _median_filter(frames, name: str, column: str) -> str | None:
    frame = (frames or {}).get(name)
    if frame is None or column not in frame.columns:
        return None
    median = frame[column].median()
    if median is None:
        return None
    value = int(median) if frame.schema[column].is_integer() else round(float(median), 2)
    return f"{column} > {value}"


def _merged(derived: list[dict], declared: list[dict], key: str) -> list[dict]:
    """``derived`` with each item the mesh declares under the same ``key`` replaced by the
    declared one, and the other declared items after them."""
    by_key = {item.get(key): dict(item) for item in declared}
    merged = [by_key.pop(item.get(key), item) for item in derived]
    return merged + list(by_key.values())


def plan_walkthrough(mesh, frames=None, *, product: str = "",
                     expired: str = "2026-05-31T00:00:00+00:00") -> Walkthrough:
    """Derive the walk-through from ``mesh`` (and, optionally, its ``frames``).

    Parameters
    ----------
    mesh : meshkit._mesh.Mesh
    frames : dict, optional
        Product name -> frame (``Scenario.frames``): the PII column to tokenize is then the one
        with the most distinct values (an e-mail, a record number) and the reporting grant
        filters rows on a median; without frames, the first PII column and no filter.
    product : str
        The product asked for; empty: the one with the most PII columns (on ties, the
        reference of an entity the mesh declares, else the first in mesh order).
    expired : str
        When the reporting service's grant expired (ISO 8601).
    """
    infos = [as_product_info(p) for p in mesh.products()]
    domains = list(dict.fromkeys(i.domain for i in infos))
    if len(domains) < 3:
        raise SecurityError("the walk-through needs three domains", where="mesh",
                            expected="a product's domain, a consumer's and a third",
                            found=f"{domains}")
    if product:
        info = as_product_info(mesh.product(product))  # SpecError names the products
    else:  # a declared entity's reference before its copies, on ties
        references = [e.reference for e in getattr(mesh, "entities", ())]
        ordered = sorted(infos, key=lambda i: i.name not in references)
        info = max(ordered, key=lambda i: len(i.pii_columns))
    mesh_product = mesh.product(info.name)
    consumers = [d for d in getattr(mesh_product, "consumers", ()) if d in domains
                 and d != info.domain]
    consumer = consumers[0] if consumers else next(d for d in domains if d != info.domain)
    contract = mesh_product.contract
    key = (list(contract.primary_key) if contract is not None and contract.primary_key
           else list(info.columns[:1]))[0]
    pii = [c for c in info.pii_columns if c != key]
    tokenized = max(pii, key=lambda c: _distinct(frames, info.name, c)) if pii else None
    plain = [c for c in info.columns if c != key and c not in info.pii_columns]
    asked = [key] + ([tokenized] if tokenized else [])
    request = tuple(asked + plain[:3 - len(asked)])
    outside = [c for c in pii if c not in request] or [c for c in info.columns
                                                        if c not in request]
    hidden = outside[-1]
    others = [d for d in domains if d not in (info.domain, consumer)]
    open_domain = others[-1] if len(others) >= 2 else None
    unshared = next(i.name for i in infos if i.domain in others and i.domain != open_domain)
    decoy = (next(i.name for i in infos if i.domain == open_domain) if open_domain
             else next(i.name for i in infos if i.name not in (info.name, unshared)))
    reporting = next(i for i in infos if i.domain == consumer)
    rep_contract = mesh.product(reporting.name).contract
    rep_pk = list(rep_contract.primary_key) if rep_contract is not None else []
    frame = (frames or {}).get(reporting.name)
    numeric = [c for c in reporting.columns if c not in rep_pk and c not in reporting.pii_columns
               and (frame is None or frame.schema[c].is_numeric())][:3]
    columns = rep_pk[:1] + numeric
    grants = []
    if open_domain:
        grants.append({"id": f"{open_domain}-open", "role": "analyst", "domain": open_domain,
                       "action": "read"})
    service_grant = {"id": f"bi-{reporting.name}", "principal": SERVICE,
                     "product": reporting.name, "action": "read", "columns": columns,
                     "expires": expired}
    row_filter = _median_filter(frames, reporting.name, numeric[-1]) if numeric else None
    if row_filter:
        service_grant["row_filter"] = row_filter
    grants.append(service_grant)
    principals = [{"name": ANALYST, "kind": "person", "domain": consumer, "roles": ["analyst"]},
                  {"name": SERVICE, "kind": "service", "domain": consumer,
                   "roles": ["reporting"]}]
    access = getattr(mesh, "access", None)
    denies = []
    if access is not None and not access.is_empty():  # what the mesh declares comes first
        declared = access.policy_dict()
        principals = _merged(principals, access.principals, "name")
        grants = _merged(grants, declared["grants"], "id")
        denies = [dict(d) for d in declared.get("denies") or []]
    return Walkthrough(
        product=info.name, consumer_domain=consumer, request_columns=request,
        masks={tokenized: "tokenize"} if tokenized else {},
        deterministic=(tokenized,) if tokenized else (), hidden_column=hidden,
        unshared_product=unshared, decoy_product=decoy, open_domain=open_domain,
        reporting_product=reporting.name, principals=principals, grants=grants,
        denies=denies)
