"""05's explorer: a grant editor that shows the decision layer by layer and the frame served.

The explorer never touches the model it is given: each edit is decided by a sandbox (the
model's products, keys, directory, audience and clock, a policy holding only the edited
grant, and an audit log of its own), so exploring adds nothing to the mesh's policy or log.
"""

from __future__ import annotations

from meshkit._errors import MeshkitError, SecurityError
from meshkit.widgets._base import assemble, bind, error_html, to_html, widgets

__all__ = ["grant_view", "grant_explorer", "sandbox"]


def sandbox(model, policy):
    """A model deciding like ``model`` but under ``policy`` and into an audit log of its own."""
    from meshkit._security import AuditLog, Identity, Principal, SecurityModel

    auditor = Identity.generate(Principal("explorer-audit", "service"))  # os.urandom
    twin = SecurityModel(model.products.values(), keysets=model.keysets,
                         directory=model.directory, policy=policy, audit=AuditLog(auditor),
                         audience=model.audience, clock=model.clock, source=model.source)
    twin.store = getattr(model, "store", None)
    return twin


def grant_view(model, store, identities: dict, *, principal: str, product: str, columns=None,
               masks: dict | None = None, row_filter: str = "", purpose: str = "",
               stated_purpose: str = "") -> dict:
    """Decide a read of ``product`` by ``principal`` under one grant, and show what it returns.

    Parameters
    ----------
    model : SecurityModel
        The mesh's model (left unchanged: see :func:`sandbox`).
    store : ProductStore
        The products in clear, to which the decision's access is applied.
    identities : dict
        Principal name -> :class:`meshkit.Identity` (as :meth:`SecurityModel.for_mesh` gives):
        the principal signs its own token, stating ``stated_purpose``.
    principal, product : str
    columns : sequence of str, optional
        The grant's columns (None or empty: every column).
    masks : dict, optional
        Column -> ``"partial"``, ``"tokenize"`` or ``"redact"``.
    row_filter, purpose : str
        The grant's row filter and required purpose (empty: none).
    stated_purpose : str
        The purpose the principal's token states.

    Returns
    -------
    dict
        ``grant`` (the :class:`meshkit.Grant`), ``decision`` (the :class:`meshkit.Decision`)
        and ``frame`` (the rows and columns served, or None when denied).

    Raises
    ------
    PolicyError
        A grant the policy refuses (an unknown column, a malformed row filter...).
    SecurityError
        A principal without an identity.

    Notes
    -----
    Without the secure store's tokenizer, a ``tokenize`` mask shows as redacted here.
    """
    from meshkit._security import Policy, apply_access

    if principal not in identities:
        raise SecurityError("unknown principal", where="principal",
                            expected=f"one of {sorted(identities)}", found=repr(principal))
    policy = Policy(products=model.products.values())
    fields = {"id": "explored", "principal": principal, "product": product, "action": "read"}
    if columns:
        fields["columns"] = list(columns)
    if masks:
        fields["masks"] = dict(masks)
    if row_filter.strip():
        fields["row_filter"] = row_filter.strip()
    if purpose.strip():
        fields["purpose"] = purpose.strip()
    grant = policy.grant(**fields)
    twin = sandbox(model, policy)
    token = identities[principal].issue_token(audience=model.audience, now=model.now(),
                                              purpose=stated_purpose.strip() or None)
    decision = twin.decide(product, token, "read")
    frame = None
    if decision.access is not None and decision.access.allowed:
        frame = apply_access(store.read(product), decision.access)
    return {"grant": grant, "decision": decision, "frame": frame}


def _start(grant, principal, product, purpose) -> dict:
    """The controls' first values: from ``grant`` when given, else the keyword arguments."""
    from meshkit._security.policy import MASKS

    if grant is None:
        return {"principal": principal, "product": product, "columns": (), "masked": (),
                "mask": MASKS[0], "row_filter": "", "purpose": purpose}
    kinds = sorted(set(grant.masks.values()))
    if len(kinds) > 1 or grant.principal is None or grant.product is None:
        raise SecurityError("the explorer edits a grant to one principal on one product, "
                            "with one mask for every masked column", where="grant",
                            expected="principal, product and at most one kind of mask",
                            found=f"principal={grant.principal!r}, product={grant.product!r}, "
                                  f"masks={grant.masks!r}")
    return {"principal": grant.principal, "product": grant.product,
            "columns": tuple(grant.columns or ()), "masked": tuple(grant.masks),
            "mask": kinds[0] if kinds else MASKS[0], "row_filter": grant.row_filter or "",
            "purpose": grant.purpose or ""}


def grant_explorer(model, store, identities: dict, *, principal: str | None = None,
                   product: str | None = None, purpose: str = "analytics", grant=None):
    """A grant editor over :func:`grant_view`: principal, product, columns, masked columns
    and their mask, row filter, the grant's purpose and the purpose the token states.

    ``grant`` (a :class:`meshkit.Grant` to one principal on one product, with one kind of
    mask) gives the controls' first values, e.g. the grant the owner approved; otherwise
    they start from ``principal``, ``product`` and ``purpose`` with every column in clear.
    The token states the grant's purpose at first.
    """
    from meshkit._security.policy import MASKS

    w = widgets()
    people = sorted(identities)
    products = sorted(model.products)
    start = _start(grant, principal or people[0], product or products[0], purpose)
    all_columns = list(model.products[start["product"]].columns)
    wide = dict(style={"description_width": "initial"})
    text = dict(continuous_update=False, **wide)
    controls = {
        "principal": w.Dropdown(options=people, value=start["principal"],
                                description="principal"),
        "product": w.Dropdown(options=products, value=start["product"], description="product"),
        "columns": w.SelectMultiple(options=all_columns, value=start["columns"],
                                    description="columns (none: all)",
                                    rows=min(6, len(all_columns)), **wide),
        "masked": w.SelectMultiple(options=all_columns, value=start["masked"],
                                   description="masked", rows=min(6, len(all_columns))),
        "mask": w.Dropdown(options=MASKS, value=start["mask"], description="mask"),
        "row_filter": w.Text(value=start["row_filter"], description="row filter", **text),
        "purpose": w.Text(value=start["purpose"], description="grant purpose", **text),
        "stated_purpose": w.Text(value=start["purpose"], description="token purpose", **text),
    }
    view = w.HTML()

    def on_product(change):
        columns = list(model.products[change["new"]].columns)
        controls["columns"].options = controls["masked"].options = columns

    controls["product"].observe(on_product, names="value")

    def update():
        v = {name: c.value for name, c in controls.items()}
        try:
            shown = grant_view(model, store, identities, principal=v["principal"],
                               product=v["product"], columns=v["columns"],
                               masks={c: v["mask"] for c in v["masked"]},
                               row_filter=v["row_filter"], purpose=v["purpose"],
                               stated_purpose=v["stated_purpose"])
        except MeshkitError as exc:
            view.value = error_html(exc)
            return
        view.value = to_html(shown["decision"],
                             shown["frame"].head(10) if shown["frame"] is not None else None)

    bind(controls, update)
    update()
    return assemble(controls, view, title="grant explorer")
