"""The security posture of a mesh, per domain: what is encrypted, protected, over-granted, stale.

Examples
--------
>>> import tempfile
>>> from meshkit._security.keys import SeededKeySource
>>> from meshkit._security.policy import ProductInfo
>>> from meshkit._security.model import SecurityModel
>>> p = ProductInfo("orders", "sales", columns=("id", "email"), pii_columns=("email",))
>>> model = SecurityModel.build([p], source=SeededKeySource(0), clock=lambda: 1_800_000_000)
>>> report = posture(model)
>>> report.rows[0]["products_encrypted"], report.rows[0]["products"]
(0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from meshkit._display import Displayable, Heading, Table

__all__ = ["PostureReport", "posture", "broad_grant_reasons"]

COLUMNS = ("domain", "products", "products_encrypted", "pii_columns", "pii_protected",
           "broad_grants", "keys_past_rotation")


def broad_grant_reasons(grant, products: dict) -> list[str]:
    """Why a grant is broader than needed: PII in clear, domain-wide, no expiry, no purpose."""
    reasons = []
    scoped = ([products[grant.product]] if grant.product in products else
              [p for p in products.values() if p.domain == grant.domain])
    for info in scoped:
        shown = set(info.columns) if grant.columns is None else set(grant.columns)
        clear_pii = [c for c in info.pii_columns if c in shown and c not in grant.masks]
        if clear_pii and grant.action == "read":
            reasons.append(f"PII in clear ({', '.join(sorted(clear_pii))} of {info.name})")
            break
    if grant.domain is not None:
        reasons.append("domain-wide")
    if grant.expires is None:
        reasons.append("no expiry")
    return reasons


@dataclass(repr=False)
class PostureReport(Displayable):
    """One row per domain; renders as a table in a notebook and in a terminal."""

    rows: list[dict]
    time: int

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema={c: (pl.String if c == "domain" else pl.Int64)
                                               for c in COLUMNS})

    def to_dict(self) -> dict:
        """JSON-ready: the time the posture was taken (epoch seconds) and the rows."""
        return {"time": self.time, "rows": [dict(r) for r in self.rows]}

    def _render(self) -> list:
        when = datetime.fromtimestamp(self.time, timezone.utc).strftime("%Y-%m-%d")
        return [Heading(f"Security posture of {len(self.rows)} domain(s) on {when}"),
                Table(COLUMNS, self.rows, max_rows=max(len(self.rows), 1))]

    def __repr__(self) -> str:
        return str(self)


def posture(model) -> PostureReport:
    """Per domain: products, how many are encrypted, PII columns and how many are protected,
    grants broader than needed (:func:`broad_grant_reasons`), keys past rotation age (at the
    time of the model's clock)."""
    t = model.now()
    when = datetime.fromtimestamp(t, timezone.utc)
    store = model.store
    rows = []
    for domain in sorted({p.domain for p in model.products.values()}):
        infos = [p for p in model.products.values() if p.domain == domain]
        encrypted = protected = 0
        for info in infos:
            versions = store.versions(info.name) if store is not None else []
            if versions:
                encrypted += 1
                modes = store.manifest(info.name, versions[-1])["protected"]
                protected += sum(1 for c in info.pii_columns if c in modes)
        names = {p.name for p in infos}
        broad = sum(1 for g in model.policy.grants
                    if (g.product in names or g.domain == domain)
                    and broad_grant_reasons(g, model.products))
        keyset = model.keysets.get(domain)
        stale = int(keyset.needs_rotation(when)) if keyset is not None else 0
        rows.append({"domain": domain, "products": len(infos), "products_encrypted": encrypted,
                     "pii_columns": sum(len(p.pii_columns) for p in infos),
                     "pii_protected": protected, "broad_grants": broad,
                     "keys_past_rotation": stale})
    return PostureReport(rows, t)
