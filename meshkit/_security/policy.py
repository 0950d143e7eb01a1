"""Authorization: grants, explicit denies, access requests, masks and row filters.

Deny by default. A :class:`Grant` binds a principal or a role to a domain or a product, an
action (``read``, ``write``, ``publish``, ``administer``), allowed columns and masks, a row
filter, a purpose and an expiry. A :class:`Deny` beats any grant. A product's owner (and its
domain's owners) hold every action on the domain's own products; ``administer`` is never
granted across domains. Consumers :meth:`Policy.request` access; an owner of the product's
domain :meth:`Policy.approve` s it (data autonomy with ownership).

Effective access is the union of what each matching, unexpired grant allows, *row by row*: a
row is visible when some grant's row filter admits it, and in that row a column shows the most
revealing level among the grants that admit the row (clear > ``partial`` > ``tokenize`` >
``redact`` > hidden). A grant's masks never leak to rows only another grant admits, so removing
a grant or adding a deny can only narrow access, cell by cell. :class:`AccessResult` keeps the
per-grant parts (:class:`GrantAccess`); :func:`apply_access` and :func:`access_levels` apply
them to a frame with one polars ``when/then`` chain per column.

Examples
--------
>>> from meshkit._security.tokens import Principal
>>> orders = ProductInfo("orders", "sales", owner="sam", columns=("id", "email", "amount"),
...                      pii_columns=("email",))
>>> policy = Policy.from_dict({"grants": [{"principal": "ana", "product": "orders",
...     "action": "read", "columns": ["id", "amount", "email"], "masks": {"email": "partial"},
...     "row_filter": "amount > 10"}]})
>>> result = policy.authorize(Principal("ana", domain="marketing"), orders, "read", now=0)
>>> result.allowed, result.masks, result.row_filters
(True, {'email': 'partial'}, ('amount > 10',))
>>> [part.grant_id for part in result.parts]
['g1']
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import yaml

from meshkit._errors import PolicyError
from meshkit._files import atomic_write_text
from meshkit._time import to_utc
from meshkit._yaml import load_yaml

__all__ = ["ACTIONS", "MASKS", "ProductInfo", "as_product_info", "Grant", "Deny",
           "AccessRequest", "AccessResult", "GrantAccess", "Policy", "parse_row_filter",
           "check_row_filter", "apply_access", "access_levels"]

ACTIONS = ("read", "write", "publish", "administer")
#: Masks, from most to least revealing (a clear column is more revealing than any mask).
MASKS = ("partial", "tokenize", "redact")
_LEVEL = {None: 4, "partial": 3, "tokenize": 2, "redact": 1}
#: Characters a ``partial`` mask keeps at the end of a value that is not an e-mail address.
_PARTIAL_TAIL = 4

_GRANT_FIELDS = {"id", "principal", "role", "domain", "product", "action", "columns", "masks",
                 "row_filter", "purpose", "expires"}
_DENY_FIELDS = {"id", "principal", "role", "domain", "product", "action", "reason"}
_TOP_FIELDS = {"grants", "denies", "version"}


# ---------------------------------------------------------------------------------------
# products as the policy sees them
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProductInfo:
    """What authorization needs to know about a product.

    ``types`` pairs columns with their ODCS logical type (``("amount", "number")``...): a
    row filter comparing a column with a literal of another type is refused when the policy
    is bound to the products, not when a read runs.
    """

    name: str
    domain: str
    owner: str | None = None
    columns: tuple[str, ...] = ()
    pii_columns: tuple[str, ...] = ()
    types: tuple[tuple[str, str], ...] = ()

    @property
    def logical_types(self) -> dict[str, str]:
        return dict(self.types)


def as_product_info(product) -> ProductInfo:
    """A :class:`ProductInfo` from a ``DataProduct`` (``.name``, ``.domain``, ``.owner``,
    ``.contract.columns``, ``.contract.pii_columns``, the properties' logical types) or a
    ``ProductInfo``."""
    if isinstance(product, ProductInfo):
        return product
    contract = getattr(product, "contract", None)
    columns = tuple(getattr(contract, "columns", ()) or ()) if contract is not None else ()
    pii = tuple(getattr(contract, "pii_columns", ()) or ()) if contract is not None else ()
    types = tuple((prop.name, prop.logical_type)
                  for prop in (getattr(contract, "properties", ()) or ())
                  if getattr(prop, "logical_type", None))
    domain = getattr(product, "domain", None)
    domain = getattr(domain, "name", domain)
    owner = getattr(product, "owner", None)
    owner = getattr(owner, "name", owner)
    return ProductInfo(str(product.name), str(domain), owner, columns, pii, types)


# ---------------------------------------------------------------------------------------
# row filters
# ---------------------------------------------------------------------------------------
_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|\bin\b)\s*(.+?)\s*$")


def parse_row_filter(text: str, *, where: str = "row_filter") -> pl.Expr:
    """A polars expression from ``"col op literal [and col op literal ...]"``.

    Operators: ``== != < <= > >= in`` (``in`` takes a list literal). No code is evaluated:
    literals go through :func:`ast.literal_eval`.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"region": ["n", "s"], "x": [1, 5]})
    >>> df.filter(parse_row_filter("region in ['n'] and x < 3"))["x"].to_list()
    [1]
    """
    if not isinstance(text, str) or not text.strip():
        raise PolicyError("row filter must be a non-empty string", where=where,
                          expected="e.g. \"region == 'north'\"", found=repr(text))
    exprs = []
    for clause in re.split(r"\s+and\s+", text.strip()):
        m = _CLAUSE.match(clause)
        if not m:
            raise PolicyError("row filter clause not understood", where=where,
                              expected="column op literal (op: == != < <= > >= in)",
                              found=repr(clause))
        column, op, literal = m.groups()
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            raise PolicyError("row filter value is not a literal", where=where,
                              expected="a number, a quoted string or a list", found=literal) \
                from None
        col = pl.col(column)
        if op == "in":
            if not isinstance(value, (list, tuple)):
                raise PolicyError("'in' needs a list", where=where, expected="[...]",
                                  found=literal)
            kinds = {type(v) for v in value}
            if len(kinds) > 1:
                raise PolicyError("'in' needs values of one type", where=where,
                                  expected="e.g. ['north', 'south'] or [1, 2]", found=literal)
            exprs.append(col.is_in(list(value)))
        else:
            exprs.append({"==": col == value, "!=": col != value, ">": col > value,
                          ">=": col >= value, "<": col < value, "<=": col <= value}[op])
    out = exprs[0]
    for e in exprs[1:]:
        out = out & e
    return out


def _filter_columns(text: str) -> set[str]:
    return {m.group(1) for c in re.split(r"\s+and\s+", text.strip())
            if (m := _CLAUSE.match(c))}


def _filter_clauses(text: str) -> list[tuple[str, str, object]]:
    """``(column, operator, literal value)`` of each clause of a parsed row filter."""
    out = []
    for clause in re.split(r"\s+and\s+", text.strip()):
        m = _CLAUSE.match(clause)
        if m:
            column, op, literal = m.groups()
            out.append((column, op, ast.literal_eval(literal)))
    return out


#: Python literal types a row filter may compare each ODCS logical type with.
_FILTER_LITERALS = {"string": (str,), "integer": (int,), "number": (int, float),
                    "boolean": (bool,)}


def _literal_fits(logical_type: str, value) -> bool:
    accepted = _FILTER_LITERALS.get(logical_type)
    if accepted is None:
        return False
    if isinstance(value, bool) and bool not in accepted:
        return False  # True is an int to Python, not a number to a contract
    return isinstance(value, accepted)


def check_row_filter(text: str, product: "ProductInfo", *, where: str) -> None:
    """:class:`PolicyError` unless every column the filter names is a column of ``product``
    and every literal has the column's logical type (string, integer, number or boolean
    columns only). Products without declared columns or types are checked as far as known.

    Examples
    --------
    >>> p = ProductInfo("o", "d", columns=("amount",), types=(("amount", "number"),))
    >>> check_row_filter("amount > 10", p, where="g1")
    >>> try:
    ...     check_row_filter("amount > '10'", p, where="g1")
    ... except PolicyError as err:
    ...     print(err.expected, "|", err.found)
    a number literal for amount | '10' (str)
    """
    types = product.logical_types
    for column, op, value in _filter_clauses(text):
        if product.columns and column not in product.columns:
            raise PolicyError("row filter names a column the product does not have",
                              where=where,
                              expected=f"one of {sorted(product.columns)} ({product.name})",
                              found=repr(column))
        if column not in types:
            continue
        logical = types[column]
        values = list(value) if op == "in" else [value]
        if logical not in _FILTER_LITERALS:
            raise PolicyError("row filters compare string, integer, number or boolean columns",
                              where=where, expected="a column of one of those types",
                              found=f"{column} ({logical}) in {product.name}")
        for v in values:
            if not _literal_fits(logical, v):
                raise PolicyError("row filter compares a column with a literal of another "
                                  "type", where=where,
                                  expected=f"a {logical} literal for {column}",
                                  found=f"{v!r} ({type(v).__name__})")


# ---------------------------------------------------------------------------------------
# grants and denies
# ---------------------------------------------------------------------------------------
def _parse_time(value, where: str) -> datetime | None:
    return None if value is None else to_utc(value, error=PolicyError, where=where)


def _now(now) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return _parse_time(now, "now")


def _check_fields(d, allowed: set[str], kind: str, where: str) -> None:
    """:class:`PolicyError` unless ``d`` is a mapping whose keys are all in ``allowed``."""
    if not isinstance(d, dict):
        raise PolicyError(f"a {kind} must be a mapping", where=where, expected="a mapping",
                          found=type(d).__name__)
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise PolicyError(f"unknown field in {kind}", where=f"{where}.{unknown[0]}",
                          expected=f"one of {sorted(allowed)}", found=repr(unknown[0]))


def _subject(d: dict, where: str) -> tuple[str | None, str | None]:
    principal, role = d.get("principal"), d.get("role")
    if (principal is None) == (role is None):
        raise PolicyError("name exactly one subject", where=where,
                          expected="'principal' or 'role'",
                          found=f"principal={principal!r}, role={role!r}")
    return principal, role


@dataclass(frozen=True)
class Grant:
    """Allows ``action`` on a product (or every product of a domain) to a principal or role.

    ``columns=None`` means every column (in clear, unless masked); ``masks`` maps a column to
    one of :data:`MASKS`; ``row_filter`` keeps only matching rows; ``purpose``, when set, must
    equal the purpose of the request; ``expires`` ends the grant.
    """

    id: str
    action: str
    principal: str | None = None
    role: str | None = None
    domain: str | None = None
    product: str | None = None
    columns: tuple[str, ...] | None = None
    masks: dict = field(default_factory=dict)
    row_filter: str | None = None
    purpose: str | None = None
    expires: datetime | None = None

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "grant", default_id: str = "g") -> "Grant":
        """Parse and check one grant; :class:`PolicyError` names the field at fault."""
        _check_fields(d, _GRANT_FIELDS, "grant", where)
        principal, role = _subject(d, where)
        domain, product = d.get("domain"), d.get("product")
        if (domain is None) == (product is None):
            raise PolicyError("name exactly one scope", where=where,
                              expected="'domain' or 'product'",
                              found=f"domain={domain!r}, product={product!r}")
        action = d.get("action")
        if action not in ACTIONS:
            raise PolicyError("unknown action", where=f"{where}.action",
                              expected=" or ".join(ACTIONS), found=repr(action))
        columns = d.get("columns")
        if columns is not None:
            if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str)
                                                                  for c in columns):
                raise PolicyError("columns must be a list of names", where=f"{where}.columns",
                                  expected="a list of strings", found=repr(columns))
            columns = tuple(columns)
        masks = d.get("masks") or {}
        if not isinstance(masks, dict):
            raise PolicyError("masks must map column -> mask", where=f"{where}.masks",
                              expected="a mapping", found=repr(masks))
        for col, mask in masks.items():
            if mask not in MASKS:
                raise PolicyError("unknown mask", where=f"{where}.masks.{col}",
                                  expected=" or ".join(MASKS), found=repr(mask))
        row_filter = d.get("row_filter")
        if row_filter is not None:
            parse_row_filter(row_filter, where=f"{where}.row_filter")
        return cls(id=str(d.get("id") or default_id), action=action, principal=principal,
                   role=role, domain=domain, product=product, columns=columns,
                   masks=dict(masks), row_filter=row_filter, purpose=d.get("purpose"),
                   expires=_parse_time(d.get("expires"), f"{where}.expires"))

    def to_dict(self) -> dict:
        out = {"id": self.id, "action": self.action}
        for name in ("principal", "role", "domain", "product", "row_filter", "purpose"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.columns is not None:
            out["columns"] = list(self.columns)
        if self.masks:
            out["masks"] = dict(self.masks)
        if self.expires is not None:
            out["expires"] = self.expires.isoformat()
        return out

    def subject_matches(self, principal) -> bool:
        if self.principal is not None:
            return self.principal == principal.name
        return self.role in principal.roles

    def scope_matches(self, product: ProductInfo) -> bool:
        if self.product is not None:
            return self.product == product.name
        return self.domain == product.domain

    def describe(self) -> str:
        who = f"principal {self.principal}" if self.principal else f"role {self.role}"
        what = f"product {self.product}" if self.product else f"domain {self.domain}"
        return f"grant {self.id} ({self.action} on {what} to {who})"


@dataclass(frozen=True)
class Deny:
    """Refuses ``action`` (or ``"*"``) on a product, a domain or ``"*"`` to a principal/role."""

    id: str
    action: str = "*"
    principal: str | None = None
    role: str | None = None
    domain: str | None = None
    product: str | None = None
    reason: str | None = None

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "deny", default_id: str = "d") -> "Deny":
        _check_fields(d, _DENY_FIELDS, "deny", where)
        principal, role = _subject(d, where)
        action = d.get("action", "*")
        if action != "*" and action not in ACTIONS:
            raise PolicyError("unknown action", where=f"{where}.action",
                              expected=" or ".join((*ACTIONS, "*")), found=repr(action))
        return cls(id=str(d.get("id") or default_id), action=action, principal=principal,
                   role=role, domain=d.get("domain"), product=d.get("product"),
                   reason=d.get("reason"))

    def to_dict(self) -> dict:
        return {k: v for k, v in (("id", self.id), ("action", self.action),
                                  ("principal", self.principal), ("role", self.role),
                                  ("domain", self.domain), ("product", self.product),
                                  ("reason", self.reason)) if v is not None}

    def matches(self, principal, product: ProductInfo, action: str) -> bool:
        if self.principal is not None and self.principal not in ("*", principal.name):
            return False
        if self.role is not None and self.role not in principal.roles:
            return False
        if self.action not in ("*", action):
            return False
        if self.product is not None and self.product not in ("*", product.name):
            return False
        if self.domain is not None and self.domain not in ("*", product.domain):
            return False
        return True


# ---------------------------------------------------------------------------------------
# results and requests
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GrantAccess:
    """What one matching grant allows: the rows its ``row_filter`` admits (None: every row),
    the ``columns`` it shows (None: every column) and their ``masks``."""

    grant_id: str
    row_filter: str | None = None
    columns: tuple[str, ...] | None = None
    masks: dict = field(default_factory=dict)

    def level(self, column: str) -> int:
        """0 hidden, 1 redact, 2 tokenize, 3 partial, 4 clear, in the rows this grant admits."""
        if self.columns is not None and column not in self.columns:
            return 0
        return _LEVEL[self.masks.get(column)]

    def to_dict(self) -> dict:
        return {"id": self.grant_id, "row_filter": self.row_filter,
                "columns": list(self.columns) if self.columns is not None else None,
                "masks": dict(self.masks)}


@dataclass(frozen=True)
class AccessResult:
    """The authorization layer's answer: allowed or not, why, and what is visible.

    ``parts`` holds what each matching grant allows (:class:`GrantAccess`); a row is visible
    when some part's row filter admits it, and each of its cells shows the most revealing
    level among the parts that admit the row. ``columns`` (shown by some part; None: every
    column), ``masks`` (a column's most revealing mask on any row) and ``row_filters`` (a row
    is visible iff one of them admits it; None: every row, () no row) summarise the parts. A
    result built without ``parts`` applies ``masks`` to every row its ``row_filters`` admit.
    """

    allowed: bool
    reason: str
    grant_ids: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    masks: dict = field(default_factory=dict)
    row_filters: tuple[str, ...] | None = None  # None: every row; () would be no row
    parts: tuple[GrantAccess, ...] = ()

    def level(self, column: str) -> int:
        """The most revealing level ``column`` has on any visible row: 0 hidden, 1 redact,
        2 tokenize, 3 partial, 4 clear (for comparing access; :func:`access_levels` gives
        the level of every cell)."""
        if not self.allowed:
            return 0
        return max((p.level(column) for p in self.effective_parts()
                    if self.columns is None or column in self.columns), default=0)

    def effective_parts(self) -> tuple[GrantAccess, ...]:
        """``parts``, or for a result built without them one part per row filter, each with
        the result's columns and masks. Empty when no row is visible."""
        if not self.allowed:
            return ()
        if self.parts:
            return self.parts
        gid = ",".join(self.grant_ids)
        filters = (None,) if self.row_filters is None else self.row_filters
        return tuple(GrantAccess(gid, f, self.columns, dict(self.masks)) for f in filters)


@dataclass
class AccessRequest:
    """A consumer's request for access, waiting for the owning domain's decision."""

    id: str
    principal: str
    product: str
    action: str = "read"
    columns: tuple[str, ...] | None = None
    purpose: str | None = None
    status: str = "pending"  # pending | approved | rejected
    decided_by: str | None = None
    grant_id: str | None = None


# ---------------------------------------------------------------------------------------
# the policy
# ---------------------------------------------------------------------------------------
class Policy:
    """Grants, denies and pending requests; answers :meth:`authorize`.

    Build with :meth:`from_dict` / :meth:`from_yaml` (unknown fields are a
    :class:`PolicyError` naming the field), or programmatically with :meth:`grant` and
    :meth:`deny`. :meth:`check` verifies every grant and deny names products, domains and
    columns that exist, and that row filters compare columns with literals of their type;
    :meth:`bind` (the security model calls it when it is built) checks every item now and
    every one added later, so a deny for ``"Customers"`` is refused instead of matching
    nothing.
    """

    def __init__(self, grants=(), denies=(), *, products=None) -> None:
        self.grants: list[Grant] = []
        self.denies: list[Deny] = []
        self.requests: list[AccessRequest] = []
        self._index: dict[tuple[str, str], list[Grant]] = {}
        self._products: dict[str, ProductInfo] | None = None
        if products is not None:
            self.bind(products)
        for g in grants:
            self.add_grant(g)
        for d in denies:
            self.add_deny(d)

    # -- loading -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict, *, where: str = "policy", products=None) -> "Policy":
        """A policy from a mapping (``grants``, ``denies``); with ``products``, bound to them
        (:meth:`bind`): an item naming an unknown product, domain or column is refused."""
        if d is None:
            d = {}
        if not isinstance(d, dict):
            raise PolicyError("a policy must be a mapping", where=where,
                              expected="a mapping with 'grants' and 'denies'",
                              found=type(d).__name__)
        unknown = sorted(set(d) - _TOP_FIELDS)
        if unknown:
            raise PolicyError("unknown field in policy", where=f"{where}.{unknown[0]}",
                              expected=f"one of {sorted(_TOP_FIELDS)}", found=repr(unknown[0]))
        for key in ("grants", "denies"):
            if not isinstance(d.get(key) or [], list):
                raise PolicyError(f"'{key}' must be a list", where=f"{where}.{key}",
                                  expected="a list", found=type(d[key]).__name__)
        grants = [Grant.from_dict(g, where=f"{where}.grants[{i}]", default_id=f"g{i + 1}")
                  for i, g in enumerate(d.get("grants") or [])]
        denies = [Deny.from_dict(x, where=f"{where}.denies[{i}]", default_id=f"d{i + 1}")
                  for i, x in enumerate(d.get("denies") or [])]
        ids = [g.id for g in grants]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise PolicyError("duplicate grant id", where=f"{where}.grants",
                              expected="unique ids", found=repr(dup[0]))
        policy = cls(grants, denies)
        return policy.bind(products) if products is not None else policy

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, *, products=None) -> "Policy":
        """Load a YAML policy file (``grants:`` and ``denies:`` lists)."""
        path = Path(path)
        data = load_yaml(path, error=PolicyError, what="the policy file")
        return cls.from_dict(data, where=path.name, products=products)

    def to_dict(self) -> dict:
        return {"grants": [g.to_dict() for g in self.grants],
                "denies": [d.to_dict() for d in self.denies]}

    def to_yaml(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        return atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def copy(self) -> "Policy":
        return Policy(list(self.grants), list(self.denies),
                      products=None if self._products is None else self._products.values())

    def __repr__(self) -> str:
        return f"Policy(grants={len(self.grants)}, denies={len(self.denies)})"

    # -- editing -------------------------------------------------------------------
    def _key(self, g: Grant) -> tuple[str, str]:
        return ("p:" + g.principal) if g.principal else ("r:" + g.role), g.action

    def add_grant(self, grant: Grant | dict) -> Grant:
        if isinstance(grant, dict):
            grant = Grant.from_dict(grant, default_id=f"g{len(self.grants) + 1}")
        if any(g.id == grant.id for g in self.grants):
            raise PolicyError("duplicate grant id", where="policy.grants",
                              expected="a new id", found=repr(grant.id))
        if self._products is not None:
            self._check_item(grant, "grants", self._products)
        self.grants.append(grant)
        self._index.setdefault(self._key(grant), []).append(grant)
        return grant

    def grant(self, **fields) -> Grant:
        """Add a grant from keyword fields (see :class:`Grant`)."""
        fields.setdefault("id", f"g{len(self.grants) + 1}")
        return self.add_grant(Grant.from_dict(fields, where=f"grant {fields['id']}"))

    def remove_grant(self, grant_id: str) -> Grant:
        for g in self.grants:
            if g.id == grant_id:
                self.grants.remove(g)
                self._index[self._key(g)].remove(g)
                return g
        raise PolicyError("no such grant", where="policy.grants",
                          expected=f"one of {[g.id for g in self.grants]}", found=repr(grant_id))

    def add_deny(self, deny: Deny | dict) -> Deny:
        if isinstance(deny, dict):
            deny = Deny.from_dict(deny, default_id=f"d{len(self.denies) + 1}")
        if self._products is not None:
            self._check_item(deny, "denies", self._products)
        self.denies.append(deny)
        return deny

    def deny(self, **fields) -> Deny:
        """Add an explicit deny from keyword fields (see :class:`Deny`)."""
        fields.setdefault("id", f"d{len(self.denies) + 1}")
        return self.add_deny(Deny.from_dict(fields, where=f"deny {fields['id']}"))

    def bind(self, products) -> "Policy":
        """Check every grant and deny against ``products`` (DataProducts or ProductInfos)
        and keep them: grants and denies added from now on are checked when added.

        Raises
        ------
        PolicyError
            Naming the first item at fault (see :meth:`check`); the policy is left unbound.
        """
        infos = {p.name: p for p in map(as_product_info, products)}
        self.check(infos.values())
        self._products = infos
        return self

    def check(self, products, domains=None) -> None:
        """:class:`PolicyError` when a grant or deny names a product, domain or column that
        does not exist, or a row filter compares a column with a literal of another type.
        ``products``: DataProducts or ProductInfos."""
        infos = {p.name: p for p in map(as_product_info, products)}
        extra = set(domains or ())
        for kind, items in (("grants", self.grants), ("denies", self.denies)):
            for item in items:
                self._check_item(item, kind, infos, extra)

    @staticmethod
    def _check_item(item, kind: str, infos: dict, extra_domains=()) -> None:
        where = f"policy.{kind}[{item.id}]"
        domains = set(extra_domains) | {p.domain for p in infos.values()}
        if item.product not in (None, "*") and item.product not in infos:
            raise PolicyError(f"{kind[:-1]} for a product that does not exist",
                              where=f"{where}.product", expected=f"one of {sorted(infos)}",
                              found=repr(item.product))
        if item.domain not in (None, "*") and item.domain not in domains:
            raise PolicyError(f"{kind[:-1]} for a domain that does not exist",
                              where=f"{where}.domain", expected=f"one of {sorted(domains)}",
                              found=repr(item.domain))
        if not isinstance(item, Grant):
            return
        scoped = ([infos[item.product]] if item.product is not None
                  else [p for p in infos.values() if p.domain == item.domain])
        known = {c for p in scoped for c in p.columns}
        if known:  # columns and masks: a column of the product (of some product of a domain)
            named = set(item.columns or ()) | set(item.masks)
            bad = sorted(named - known)
            if bad:
                raise PolicyError("grant names a column the product does not have",
                                  where=f"{where}.columns", expected=f"one of {sorted(known)}",
                                  found=repr(bad[0]))
        if item.row_filter:  # a row filter must run on every product it scopes
            for p in scoped:
                check_row_filter(item.row_filter, p, where=f"{where}.row_filter")

    # -- requests ------------------------------------------------------------------
    def request(self, principal, product, *, action: str = "read", columns=None,
                purpose: str | None = None) -> AccessRequest:
        """A consumer asks for access; returns the pending :class:`AccessRequest`."""
        if action not in ACTIONS:
            raise PolicyError("unknown action", where="request.action",
                              expected=" or ".join(ACTIONS), found=repr(action))
        name = getattr(principal, "name", principal)
        req = AccessRequest(id=f"r{len(self.requests) + 1}", principal=name,
                            product=as_product_info(product).name if not isinstance(product, str)
                            else product, action=action,
                            columns=tuple(columns) if columns is not None else None,
                            purpose=purpose)
        self.requests.append(req)
        return req

    def approve(self, request: AccessRequest, approver, product, *, masks=None,
                row_filter: str | None = None, expires=None) -> Grant:
        """The owning domain approves: only an owner of ``product``'s domain may. Adds a grant
        limited to the requested columns and purpose."""
        info = as_product_info(product)
        if request.status != "pending":
            raise PolicyError("request already decided", where=f"request {request.id}",
                              expected="pending", found=request.status)
        if request.product != info.name:
            raise PolicyError("request is for another product", where=f"request {request.id}",
                              expected=request.product, found=info.name)
        if not is_owner(approver, info):
            raise PolicyError("only an owner of the product's domain may approve",
                              where=f"request {request.id}",
                              expected=f"an owner of domain {info.domain!r}",
                              found=f"{approver.name!r} (domain {approver.domain!r})")
        fields = {"id": f"g{len(self.grants) + 1}-{request.id}", "principal": request.principal,
                  "product": info.name, "action": request.action, "purpose": request.purpose,
                  "expires": expires, "masks": masks or {}, "row_filter": row_filter}
        if request.columns is not None:
            fields["columns"] = list(request.columns)
        grant = self.add_grant(Grant.from_dict({k: v for k, v in fields.items()
                                                if v is not None}, where=f"request {request.id}"))
        request.status, request.decided_by, request.grant_id = "approved", approver.name, grant.id
        return grant

    def reject(self, request: AccessRequest, approver, product) -> None:
        info = as_product_info(product)
        if not is_owner(approver, info):
            raise PolicyError("only an owner of the product's domain may reject",
                              where=f"request {request.id}",
                              expected=f"an owner of domain {info.domain!r}", found=approver.name)
        request.status, request.decided_by = "rejected", approver.name

    # -- deciding ------------------------------------------------------------------
    def authorize(self, principal, product, action: str, *, now=None, purpose=None,
                  columns=None) -> AccessResult:
        """Decide whether ``principal`` may ``action`` ``product`` (deny by default).

        ``now`` and ``purpose`` are what the security model verified: its clock and the
        ``purpose`` claim of the caller's signed token (a read never passes them; see
        :meth:`~meshkit._security.model.SecurityModel.decide`). ``columns`` (optional) are
        the columns asked for: every one must be visible under the grants, or the request is
        denied naming the first column outside them.
        """
        if action not in ACTIONS:
            return AccessResult(False, f"unknown action {action!r} (expected one of "
                                       f"{', '.join(ACTIONS)})")
        if principal is None:
            return AccessResult(False, "unknown principal")
        info = as_product_info(product)
        for d in self.denies:
            if d.matches(principal, info, action):
                why = f": {d.reason}" if d.reason else ""
                return AccessResult(False, f"explicit deny {d.id}{why}")
        all_columns = info.columns or None
        if is_owner(principal, info):
            return self._restrict(AccessResult(True, f"{principal.name} owns domain "
                                                     f"{info.domain}", ("owner",),
                                               all_columns, {}, None,
                                               (GrantAccess("owner", None, all_columns),)),
                                  columns)
        if action == "administer":
            return AccessResult(False, f"only owners of domain {info.domain} administer its "
                                       f"products")
        t = _now(now)
        candidates = list(self._index.get(("p:" + principal.name, action), ()))
        for role in principal.roles:
            candidates += self._index.get(("r:" + role, action), ())
        live, expired, wrong_purpose = [], [], []
        for g in candidates:
            if not g.scope_matches(info):
                continue
            if g.expires is not None and g.expires <= t:
                expired.append(g)
            elif g.purpose is not None and g.purpose != purpose:
                wrong_purpose.append(g)
            else:
                live.append(g)
        if not live:
            if expired:
                g = expired[0]
                return AccessResult(False, f"{g.describe()} expired at "
                                           f"{g.expires.isoformat()}")
            if wrong_purpose:
                g = wrong_purpose[0]
                return AccessResult(False, f"{g.describe()} is for purpose {g.purpose!r}, "
                                           f"not {purpose!r}")
            return AccessResult(False, f"no grant of {action} on {info.name} to "
                                       f"{principal.name} (deny by default)")
        # what each live grant allows; apply_access combines them row by row
        parts = []
        for g in live:
            cols = g.columns if g.columns is not None else all_columns
            masks = {c: m for c, m in g.masks.items() if cols is None or c in cols}
            parts.append(GrantAccess(g.id, g.row_filter, cols, masks))
        # the summary: a column's most revealing level on any row, rows of any filter
        mentioned: list[str] = list(all_columns or ())
        for p in parts:
            for c in (*(p.columns or ()), *p.masks):
                if c not in mentioned:
                    mentioned.append(c)
        levels = {c: max(p.level(c) for p in parts) for c in mentioned}
        everything = all_columns is None and any(p.columns is None for p in parts)
        inverse = {v: k for k, v in _LEVEL.items()}
        visible = None if everything else tuple(c for c in (all_columns or mentioned)
                                                if levels.get(c, 0) > 0)
        masks = {c: inverse[lv] for c, lv in levels.items()
                 if 0 < lv < _LEVEL[None] and (visible is None or c in visible)}
        filters: list[str] = []
        for p in parts:
            if p.row_filter is not None and p.row_filter not in filters:
                filters.append(p.row_filter)
        unfiltered = any(p.row_filter is None for p in parts)
        result = AccessResult(True, " + ".join(g.describe() for g in live),
                              tuple(g.id for g in live), visible, masks,
                              None if unfiltered else tuple(filters), tuple(parts))
        return self._restrict(result, columns)

    @staticmethod
    def _restrict(result: AccessResult, columns) -> AccessResult:
        if columns is None or not result.allowed:
            return result
        columns = tuple(columns)
        if result.columns is not None:
            outside = [c for c in columns if c not in result.columns]
            if outside:
                return AccessResult(False, f"column {outside[0]!r} is outside the grant "
                                           f"({result.reason})", result.grant_ids)
        parts = tuple(replace(p, columns=tuple(c for c in columns
                                               if p.columns is None or c in p.columns),
                              masks={c: m for c, m in p.masks.items() if c in columns})
                      for p in result.parts)
        return replace(result, columns=columns,
                       masks={c: m for c, m in result.masks.items() if c in columns},
                       parts=parts)


def is_owner(principal, product: ProductInfo) -> bool:
    """Owners of a domain: the product's named owner, the domain principal itself, or a
    principal of that domain holding the ``owner`` role."""
    if principal is None:
        return False
    if product.owner is not None and principal.name == product.owner:
        return True
    if principal.kind == "domain" and principal.name == product.domain:
        return True
    return principal.domain == product.domain and "owner" in principal.roles


# ---------------------------------------------------------------------------------------
# masks and row filters on frames
# ---------------------------------------------------------------------------------------
def _with_conditions(df: pl.DataFrame, parts) -> tuple[pl.DataFrame, list[str]]:
    """``df`` plus one boolean column per part: does the part's row filter admit the row."""
    prefix = "__meshkit_grant_"
    while any(c.startswith(prefix) for c in df.columns):
        prefix = "_" + prefix
    names = [f"{prefix}{i}" for i in range(len(parts))]
    exprs = [(pl.lit(True) if p.row_filter is None
              else parse_row_filter(p.row_filter).fill_null(False)).alias(name)
             for p, name in zip(parts, names)]
    return (df.with_columns(exprs) if exprs else df), names


def _output_columns(columns: list[str], result: AccessResult) -> list[str]:
    if result.columns is None:
        return list(columns)
    return [c for c in result.columns if c in columns]


def _any(names: list[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(n) for n in names])


def _level_expr(column: str, parts, conditions: list[str]) -> pl.Expr:
    """The level of ``column`` in each row: a when/then chain over the parts' row filters,
    most revealing level first; 0 in rows no part admits or no admitting part shows."""
    by_level: dict[int, list[str]] = {}
    for p, cond in zip(parts, conditions):
        if (lv := p.level(column)) > 0:
            by_level.setdefault(lv, []).append(cond)
    expr = None
    for lv in sorted(by_level, reverse=True):
        then = pl.lit(lv, dtype=pl.Int8)
        expr = (pl.when(_any(by_level[lv])) if expr is None
                else expr.when(_any(by_level[lv]))).then(then)
    zero = pl.lit(0, dtype=pl.Int8)
    return zero.alias(column) if expr is None else expr.otherwise(zero).alias(column)


def _frame(frame) -> tuple[pl.DataFrame, bool]:
    lazy = isinstance(frame, pl.LazyFrame)
    return (frame.collect() if lazy else frame), lazy


def access_levels(frame, result: AccessResult):
    """The level of every cell under ``result``: one Int8 column per visible column, one row
    per input row; 0 hidden (also every cell of a row no grant admits), 1 redact, 2 tokenize,
    3 partial, 4 clear.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"region": ["north", "south"], "email": ["a@x.io", "b@y.io"]})
    >>> r = AccessResult(True, "ok", ("a", "b"), ("email",), {}, None,
    ...                  (GrantAccess("a", "region == 'north'", ("email",)),
    ...                   GrantAccess("b", None, ("email",), {"email": "redact"})))
    >>> access_levels(df, r)["email"].to_list()
    [4, 1]
    """
    if not result.allowed:
        raise PolicyError("a denied access result shows no cell", where="access_levels",
                          expected="an allowed result", found=result.reason)
    df, lazy = _frame(frame)
    parts = result.effective_parts()
    columns = _output_columns(df.columns, result)
    df, conditions = _with_conditions(df, parts)
    out = (df.with_columns([_level_expr(c, parts, conditions) for c in columns])
           .select(columns))  # literals broadcast to every row
    return out.lazy() if lazy else out


def _partial(col: pl.Expr) -> pl.Expr:
    # an address keeps its domain; another value its last 4 characters, and only when it has
    # at least 2 * 4 of them (a short value would be shown nearly whole)
    s = col.cast(pl.String)
    return (pl.when(s.is_null()).then(pl.lit(None, dtype=pl.String))
            .when(s.str.contains("@"))
            .then(pl.lit("***@") + s.str.split("@").list.last())
            .when(s.str.len_chars() >= 2 * _PARTIAL_TAIL)
            .then(pl.lit("***") + s.str.slice(-_PARTIAL_TAIL))
            .otherwise(pl.lit("***")))


def apply_access(frame, result: AccessResult, *, tokenizer=None):
    """Apply an allowed :class:`AccessResult` to a polars DataFrame/LazyFrame: keep the rows
    some grant's filter admits, select the visible columns, and show each cell at the most
    revealing level among the grants that admit its row (a ``when/then`` chain per column
    over the grants' filters; no Python loop over rows).

    ``tokenizer(column, series) -> series`` implements the ``tokenize`` mask (the secure
    store passes a deterministic AES-SIV tokenizer); without one, ``tokenize`` redacts. A
    column that some row shows ``partial`` or tokenized is a string column.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"email": ["ann@x.io"], "amount": [3]})
    >>> r = AccessResult(True, "ok", ("g1",), ("email", "amount"), {"email": "partial"}, None)
    >>> apply_access(df, r)["email"].to_list()
    ['***@x.io']

    Two grants: ``a`` shows ``email`` in clear on northern rows, ``b`` every row redacted.

    >>> df = pl.DataFrame({"region": ["north", "south"], "email": ["a@x.io", "b@y.io"]})
    >>> r = AccessResult(True, "ok", ("a", "b"), ("email",), {}, None,
    ...                  (GrantAccess("a", "region == 'north'", ("email",)),
    ...                   GrantAccess("b", None, ("email",), {"email": "redact"})))
    >>> apply_access(df, r)["email"].to_list()
    ['a@x.io', None]
    """
    if not result.allowed:
        raise PolicyError("cannot apply a denied access result", where="apply_access",
                          expected="an allowed result", found=result.reason)
    df, lazy = _frame(frame)
    parts = result.effective_parts()
    columns = _output_columns(df.columns, result)
    df, conditions = _with_conditions(df, parts)
    df = df.filter(_any(conditions)) if conditions else df.head(0)

    def shown(level: int) -> int:
        # what a level shows: 4 clear, 3 partial, 2 token, 1 nothing (redact or hidden)
        return 1 if level == 0 or (level == 2 and tokenizer is None) else level

    exprs = []
    for column in columns:
        by_shown: dict[int, list[str]] = {}
        for p, cond in zip(parts, conditions):
            by_shown.setdefault(shown(p.level(column)), []).append(cond)
        as_string = 2 in by_shown or 3 in by_shown
        col = pl.col(column)
        values = {4: col.cast(pl.String) if as_string else col,
                  3: _partial(col),
                  1: pl.lit(None, dtype=pl.String if as_string else df.schema[column])}
        if 2 in by_shown:
            token = f"{conditions[0]}_token_{len(exprs)}"
            df = df.with_columns(tokenizer(column, df[column]).alias(token))
            values[2] = pl.col(token).cast(pl.String) if len(by_shown) > 1 else pl.col(token)
        if len(by_shown) <= 1:
            expr = values[next(iter(by_shown), 1)]
        else:
            expr = None
            for level in sorted((lv for lv in by_shown if lv > 1), reverse=True):
                cond = _any(by_shown[level])
                expr = (pl.when(cond) if expr is None else expr.when(cond)).then(values[level])
            expr = expr.otherwise(values[1])
        exprs.append(expr.alias(column))
    df = df.with_columns(exprs).select(columns)  # literals broadcast to every row
    return df.lazy() if lazy else df
