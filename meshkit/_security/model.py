"""The security model: ``security(D) = encryption(D) ∩ authentication(U) ∩ authorization(U, D)``.

:class:`SecurityModel` holds what a mesh needs to decide: the products, the domain keysets,
the principal directory and token verifier, the policy and the audit log. :meth:`decide`
(and the top-level :func:`security`) returns a :class:`Decision` that says layer by layer
whether the data is protected, who the caller is, and whether the caller may act, each with
its reason. Every decision is appended to the audit log.

Nothing that decides access comes from the caller: the *purpose* of a read is the
``purpose`` claim of the caller's signed token (bound when the token was issued and checked
against the grant), and the *time* is the model's own clock, given when the model is built
(a test passes a fixed or advancing clock there, never a time on a read).

Examples
--------
>>> from meshkit._security.keys import SeededKeySource
>>> from meshkit._security.tokens import Identity, Principal
>>> from meshkit._security.policy import ProductInfo
>>> src = SeededKeySource(0)
>>> orders = ProductInfo("orders", "sales", owner="sam", columns=("id", "amount"))
>>> sam = Identity.generate(Principal("sam", domain="sales"), source=src)
>>> model = SecurityModel.build([orders], identities=[sam], source=src, clock=lambda: 1_800_000_000)
>>> print(model.decide("orders", sam, "publish"))  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
ALLOWED  publish orders by sam
  layer           passed  reason
  encryption      yes     new versions are encrypted (Parquet Modular Encryption) under data keys wrapped by sales-k1-...
  authentication  yes     sam: Ed25519 token verified (aud meshkit)
  authorization   yes     sam owns domain sales
columns: id, amount; masks: none; rows: all
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from meshkit._display import Badge, Bullets, Code, Displayable, Heading, Paragraph, Table, fmt
from meshkit._errors import (AuthenticationError, AuthorizationError, MeshkitError, PolicyError,
                            SecurityError)
from meshkit._names import requested_columns
from meshkit._security.audit import AuditLog
from meshkit._security.keys import Keyset, SystemKeySource
from meshkit._security.policy import AccessResult, Policy, ProductInfo, as_product_info
from meshkit._security.tokens import Directory, Identity, Principal, TokenVerifier

__all__ = ["Layer", "Decision", "SecurityModel", "security", "use_model"]

LAYERS = ("encryption", "authentication", "authorization")


@dataclass(frozen=True)
class Layer:
    """One layer of a decision: ``passed`` is True, False, or None (not reached)."""

    name: str
    passed: bool | None
    reason: str


@dataclass(frozen=True)
class Decision(Displayable):
    """What :func:`security` returns: three layers, the verdict, and what is visible.

    ``allowed`` is True only when every layer passed. ``access`` carries the visible columns,
    masks and row filters when authorization passed, and what each grant used allows (its
    rows, columns and masks: grants combine row by row). ``audit_index`` is the entry of this
    decision in the audit log.
    """

    product: str
    action: str
    principal: str | None
    layers: tuple[Layer, ...]
    access: AccessResult | None = None
    purpose: str | None = None
    time: int = 0
    audit_index: int | None = None

    @property
    def allowed(self) -> bool:
        return all(layer.passed for layer in self.layers)

    def layer(self, name: str) -> Layer:
        return next(layer for layer in self.layers if layer.name == name)

    @property
    def reason(self) -> str:
        """The reason of the first layer that did not pass (or of authorization)."""
        for layer in self.layers:
            if not layer.passed:
                return f"{layer.name}: {layer.reason}"
        return f"authorization: {self.layer('authorization').reason}"

    def to_dict(self) -> dict:
        out = {"product": self.product, "action": self.action, "principal": self.principal,
               "allowed": self.allowed, "time": self.time, "purpose": self.purpose,
               "layers": {layer.name: {"passed": layer.passed, "reason": layer.reason}
                          for layer in self.layers}}
        if self.access is not None and self.access.allowed:
            out["columns"] = (list(self.access.columns) if self.access.columns is not None
                              else None)  # None: every column; [] none at all
            out["masks"] = dict(self.access.masks)
            out["row_filters"] = (list(self.access.row_filters)
                                  if self.access.row_filters is not None else None)
            # the summary above is an upper bound; each grant's own rows, columns and masks
            out["grants"] = [p.to_dict() for p in self.access.effective_parts()]
        return out

    def raise_if_denied(self) -> "Decision":
        """Raise :class:`AuthenticationError` / :class:`AuthorizationError` when denied."""
        if self.allowed:
            return self
        where = f"product {self.product!r}"
        authn = self.layer("authentication")
        if not authn.passed:
            raise AuthenticationError(f"{self.action} refused: caller not authenticated",
                                      where=where, expected="a valid token",
                                      found=authn.reason, decision=self)
        failed = next(layer for layer in self.layers if not layer.passed)
        raise AuthorizationError(f"{self.action} refused by the {failed.name} layer",
                                 where=where, expected=f"{self.action} allowed",
                                 found=failed.reason, decision=self)

    def _render(self) -> list:
        out = [Heading(Badge("ALLOWED" if self.allowed else "DENIED", self.allowed),
                       f"  {self.action} ", Code(self.product), " by ",
                       Code(self.principal or "unknown caller")),
               Table(["layer", "passed", "reason"],
                     [(layer.name, _MARK[layer.passed], layer.reason) for layer in self.layers],
                     row_ok=[layer.passed is not False for layer in self.layers])]
        if self.access is not None and self.access.allowed:
            cols = _names(self.access.columns)
            parts = self.access.effective_parts()
            if len(parts) > 1:  # grants combine row by row: show each one's rows and masks
                out += [Paragraph(f"columns: {cols}; by grant:"),
                        Bullets(f"grant {p.grant_id}: rows {p.row_filter or 'all'}; columns "
                                f"{_names(p.columns)}; masks {fmt(p.masks) or 'none'}"
                                for p in parts)]
            else:
                out.append(Paragraph(f"columns: {cols}; masks: "
                                     f"{fmt(self.access.masks or {}) or 'none'}; rows: "
                                     f"{fmt(self.access.row_filters or 'all')}"))
        return out

    def __repr__(self) -> str:
        return (f"Decision({self.action} {self.product!r} by {self.principal!r}: "
                f"{'allowed' if self.allowed else 'denied'})")


_MARK = {True: "yes", False: "NO", None: "not reached"}


def _names(columns) -> str:
    return "all" if columns is None else ", ".join(columns) or "none"


class SecurityModel:
    """Everything a decision needs, for one mesh.

    Parameters
    ----------
    products : iterable
        ``DataProduct`` s (or ``ProductInfo`` s); a ``Mesh`` works too (``.products()``).
    keysets : dict
        Domain name -> :class:`~meshkit._security.keys.Keyset`.
    directory : Directory
        Principals and their public keys.
    policy : Policy
    audit : AuditLog
    audience : str
        The token audience this mesh accepts.
    clock : callable, optional
        Returns epoch seconds; defaults to ``time.time``. Pass a fixed clock for
        reproducible notebooks. It is the only time a decision uses.
    trust_principals : bool
        When True, a bare :class:`Principal` from the directory counts as authenticated
        (in-process callers). Default False: pass a token or an :class:`Identity`.
    """

    def __init__(self, products, *, keysets: dict, directory: Directory, policy: Policy,
                 audit: AuditLog, audience: str = "meshkit", clock=None,
                 trust_principals: bool = False, source=None) -> None:
        if hasattr(products, "products") and callable(products.products):
            products = products.products()
        self.products: dict[str, ProductInfo] = {}
        self._originals: dict[str, object] = {}
        for p in products:
            info = as_product_info(p)
            self.products[info.name] = info
            self._originals[info.name] = p
        self.keysets = dict(keysets)
        self.directory = directory
        self.policy = policy
        self.audit = audit
        self.audience = audience
        self.clock = clock or time.time
        self.verifier = TokenVerifier(directory, audience=audience, clock=self.clock)
        self.trust_principals = trust_principals
        self.source = source or SystemKeySource()
        self.store = None  # set by SecureStore
        # a grant or deny naming a product, domain or column the mesh does not have is
        # refused now, and so is every one added later (not matched against nothing at read)
        self.policy.bind(self.products.values())

    @classmethod
    def build(cls, products, *, identities=(), policy: Policy | None = None,
              audience: str = "meshkit", source=None, clock=None, audit_path=None,
              audit: AuditLog | None = None, keys_created: datetime | None = None,
              **kwargs) -> "SecurityModel":
        """A model with a fresh keyset per domain, a directory of ``identities`` and an
        audit log.

        ``source`` (a :class:`~meshkit._security.keys.KeySource`) makes the domain keys and
        identities reproducible for demos; leave it out in production (``os.urandom``). The
        audit log's signing key never comes from ``source``: two demo runs with one seed
        never share an audit key (whoever knows the seed could otherwise sign a forged log).
        Pass ``audit`` (an :class:`AuditLog` with its signer) to append to a log kept across
        sessions; ``audit_path`` opens the log there with a new signer (a log already there
        under another key is refused, never erased). ``keys_created`` dates the domain keys
        (default: the clock's now).
        """
        if hasattr(products, "products") and callable(products.products):
            products = list(products.products())
        products = list(products)
        domains = sorted({as_product_info(p).domain for p in products})
        clock = clock or time.time
        created = keys_created or datetime.fromtimestamp(clock(), timezone.utc)
        keysets = {d: Keyset.generate(d, now=created, source=source) for d in domains}
        if audit is None:
            auditor = Identity.generate(Principal("meshkit-audit", "service"))  # os.urandom
            audit = AuditLog(auditor, path=audit_path)
        elif audit_path is not None:
            raise SecurityError("pass either an audit log or a path for one", where="build()",
                                expected="audit=... or audit_path=...", found="both")
        directory = Directory(identities)
        return cls(products, keysets=keysets, directory=directory, policy=policy or Policy(),
                   audit=audit, audience=audience, clock=clock, source=source, **kwargs)

    @classmethod
    def for_mesh(cls, mesh, *, principals=(), policy: Policy | None = None, source=None,
                 clock=None, keys_created: datetime | None = None, audit_path=None,
                 audience: str = "meshkit") -> tuple["SecurityModel", dict]:
        """Protect a mesh: an identity for every product owner (role ``owner`` in its domain)
        and for each extra principal (:class:`Principal` or spec dict), a keyset per domain,
        and ``policy`` checked against the mesh (grants for unknown products, domains or
        columns are a :class:`PolicyError`). Returns ``(model, identities by name)``.
        """
        from meshkit._security.tokens import principals_from_specs

        products = list(mesh.products()) if hasattr(mesh, "products") else list(mesh)
        people: dict[str, Principal] = {}
        for p in products:
            info = as_product_info(p)
            if info.owner and info.owner not in people:
                people[info.owner] = Principal(info.owner, "person", info.domain, ("owner",))
        extra = [p if isinstance(p, Principal) else None for p in principals]
        specs = [p for p in principals if not isinstance(p, Principal)]
        for p in [e for e in extra if e is not None] + principals_from_specs(specs):
            people[p.name] = p
        identities = {name: Identity.generate(p, source=source) for name, p in people.items()}
        policy = policy or Policy()
        policy.check(products)
        model = cls.build(products, identities=identities.values(), policy=policy,
                          audience=audience, source=source, clock=clock, audit_path=audit_path,
                          keys_created=keys_created)
        return model, identities

    def __repr__(self) -> str:
        return (f"SecurityModel(products={len(self.products)}, domains={len(self.keysets)}, "
                f"principals={len(self.directory)}, {self.policy!r})")

    def now(self) -> int:
        """The model's clock, in epoch seconds: the only time a decision uses."""
        return int(self.clock())

    def rotate_principal_key(self, identity) -> None:
        """Replace a known principal's public key (an explicit, audited key rotation).

        :meth:`Directory.add` refuses a principal that exists with another key; this is
        the one way to change it.
        """
        public = identity.public() if isinstance(identity, Identity) else identity
        self.directory.rotate(public)
        self.record("principal_key_rotation", principal=public.principal.name,
                    public_key=public.public_bytes.hex())

    def product_info(self, product) -> ProductInfo | None:
        name = product if isinstance(product, str) else getattr(product, "name", None)
        return self.products.get(name)

    # -- layers --------------------------------------------------------------------
    def _authenticate(self, who, t: int) -> tuple[Principal | None, str | None, Layer]:
        """The verified principal, the purpose its token states, and the layer."""
        if isinstance(who, Identity):
            token = who.issue_token(audience=self.audience, now=t, ttl=60)
            return self._authenticate(token, t)
        if isinstance(who, (str, bytes)):
            try:
                verified = self.verifier.verify(who, now=t)
            except AuthenticationError as exc:
                return None, None, Layer("authentication", False, str(exc))
            p = verified.principal
            purpose = verified.claims.get("purpose")
            stated = f", purpose {purpose!r}" if purpose is not None else ""
            return p, purpose, Layer("authentication", True,
                                     f"{p.name}: Ed25519 token verified (aud "
                                     f"{self.audience}{stated})")
        if isinstance(who, Principal):
            known = self.directory.principal(who.name)
            if known is None:
                return None, None, Layer("authentication", False,
                                         f"unknown principal {who.name!r}")
            if not self.trust_principals:
                return None, None, Layer("authentication", False,
                                         f"a bare principal ({who.name}) proves nothing: pass "
                                         f"a signed token or an Identity")
            return known, None, Layer("authentication", True,
                                      f"{who.name}: trusted in-process")
        return None, None, Layer("authentication", False,
                                 f"expected a token, an Identity or a Principal; found "
                                 f"{type(who).__name__}")

    def _encryption(self, info: ProductInfo | None, action: str, version) -> Layer:
        if info is None:
            return Layer("encryption", False, "unknown product")
        keyset = self.keysets.get(info.domain)
        if keyset is None:
            return Layer("encryption", False, f"domain {info.domain} has no keyset")
        if action != "read":
            return Layer("encryption", True,
                         f"new versions are encrypted (Parquet Modular Encryption) under data "
                         f"keys wrapped by {keyset.primary.key_id}")
        if self.store is None:
            return Layer("encryption", False, "no secure store holds this product")
        return self.store._encryption_layer(info, version)

    # -- the decision --------------------------------------------------------------
    def decide(self, product, who, action: str = "read", *, columns=None,
               version: int | None = None) -> Decision:
        """Decide (and audit) whether ``who`` may ``action`` ``product``.

        The time is the model's clock; the purpose is the ``purpose`` claim of the caller's
        verified token (an :class:`Identity` or a trusted principal states none). Neither
        can be passed here. When the stored product cannot even be described (a malformed
        manifest), the failed attempt is audited and the :class:`MeshkitError` raised.
        """
        t = self.now()
        info = self.product_info(product)
        name = info.name if info else (product if isinstance(product, str)
                                       else str(getattr(product, "name", product)))
        columns = requested_columns(columns, where=f"{action} request for {name!r}",
                                    error=PolicyError)
        failure = None
        try:
            enc = self._encryption(info, action, version)
        except MeshkitError as exc:
            failure = exc
            enc = Layer("encryption", False, f"{type(exc).__name__}: {exc}")
        principal, purpose, authn = self._authenticate(who, t)
        access = None
        if not authn.passed:
            authz = Layer("authorization", None, "not reached: caller not authenticated")
        elif info is None:
            authz = Layer("authorization", False, f"unknown product {name!r} (deny by default)")
        else:
            access = self.policy.authorize(principal, info, action,
                                           now=datetime.fromtimestamp(t, timezone.utc),
                                           purpose=purpose, columns=columns)
            authz = Layer("authorization", access.allowed, access.reason)
        decision = Decision(name, action, principal.name if principal else None,
                            (enc, authn, authz), access, purpose, t)
        index = self.audit.append({"time": t, **{k: v for k, v in decision.to_dict().items()
                                                 if k != "time"}})
        if failure is not None:
            raise failure
        return Decision(name, action, decision.principal, decision.layers, access, purpose, t,
                        index)

    def record(self, event: str, **fields) -> int:
        """Append a non-decision event (integrity failure, rotation...) to the audit log,
        stamped with the model's clock (a ``time`` in ``fields`` is refused)."""
        if "time" in fields or "now" in fields:
            raise SecurityError("an audit event takes its time from the model's clock",
                                where=f"record({event!r})", expected="no 'time' or 'now'",
                                found=sorted({"time", "now"} & set(fields)))
        return self.audit.append({"event": event, "time": self.now(), **fields})


_ACTIVE: list[SecurityModel] = []


@contextmanager
def use_model(model: SecurityModel):
    """Make ``model`` the one :func:`security` uses inside a ``with`` block."""
    _ACTIVE.append(model)
    try:
        yield model
    finally:
        _ACTIVE.remove(model)


def security(product, principal_or_token, action: str = "read", *,
             model: SecurityModel | None = None, columns=None) -> Decision:
    """``security(D) = encryption(D) ∩ authentication(U) ∩ authorization(U, D)``.

    Parameters
    ----------
    product : DataProduct, ProductInfo or str
    principal_or_token : str (a signed token), Identity, or Principal
    action : {"read", "write", "publish", "administer"}
    model : SecurityModel, optional
        Defaults to the model activated with :func:`use_model` (or :meth:`SecureStore`'s).
    columns : list of str, optional
        The columns asked for (every one must be visible). The purpose comes from the
        token's ``purpose`` claim and the time from the model's clock, never from here.

    Returns
    -------
    Decision
        Renders itself in a notebook and a terminal; every decision is audited.
    """
    if model is None:
        if not _ACTIVE:
            raise SecurityError("no security model to decide with", where="security()",
                                expected="model=... or an active `with use_model(model):`",
                                found="none")
        model = _ACTIVE[-1]
    return model.decide(product, principal_or_token, action, columns=columns)
