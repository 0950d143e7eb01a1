"""Two toy domains whose training products live in a governed store (pytest puts this folder
on the path).

Domain ``a`` grants its training service ``train-a`` every row of ``a_points`` for the purpose
"federated training"; domain ``b`` grants ``train-b`` only the rows with ``x0 > 0``. Every key
comes from ``os.urandom`` (no seed); each domain has a home (:func:`meshkit.export_domain_home`)
and a master key file of its own, and its service's token in a file.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from meshkit import (TRAINING_PURPOSE, Identity, Policy, Principal, ProductInfo, ProductSource, SecureStore,
                     SecurityModel, export_domain_home, new_master_key)

FEATURES = ("x0", "x1", "x2")
ROW_FILTER = {"a": None, "b": "x0 > 0"}


def frames(seed: int = 0, rows: int = 60) -> dict:
    """``{"a": frame, "b": frame}``: as in toy_domains, with an id column and named features."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, name in enumerate("ab"):
        X = rng.normal(k * 0.3, 1.0, size=(rows, 3))
        out[name] = pl.DataFrame({"id": np.arange(rows), **{f: X[:, i] for i, f in enumerate(FEATURES)},
                                  "y": (X[:, 0] - X[:, 1] > k * 0.3).astype(np.int64)})
    return out


@dataclass
class GovernedMesh:
    store: SecureStore
    identities: dict
    sources: dict
    frames: dict
    folder: Path

    def token(self, domain: str, purpose: str = TRAINING_PURPOSE) -> None:
        """Write a new token of ``domain``'s training service, stating ``purpose``."""
        service = self.identities[f"train-{domain}"]
        Path(self.sources[domain].token).write_text(
            service.issue_token(audience=self.store.model.audience, ttl=3600, purpose=purpose))


def governed_mesh(folder: Path, seed: int = 0) -> GovernedMesh:
    folder = Path(folder)
    data = frames(seed)
    products = [ProductInfo(f"{d}_points", d, owner=f"owner-{d}", columns=("id", *FEATURES, "y"))
                for d in data]
    people = [Principal(f"owner-{d}", "person", d, ("owner",)) for d in data]
    people += [Principal(f"train-{d}", "service", d) for d in data]
    identities = {p.name: Identity.generate(p) for p in people}
    grants = [{"principal": f"train-{d}", "product": f"{d}_points", "action": "read", "purpose": TRAINING_PURPOSE,
               **({"row_filter": ROW_FILTER[d]} if ROW_FILTER[d] else {})} for d in data]
    model = SecurityModel.build(products, identities=identities.values(), policy=Policy.from_dict({"grants": grants}))
    store = SecureStore(folder / "store", model)
    sources = {}
    for d, frame in data.items():
        store.publish(f"{d}_points", frame, identities[f"owner-{d}"])
        key = new_master_key(folder / f"{d}.master.key")
        home = export_domain_home(store, d, folder / f"home-{d}", master_key=key)
        sources[d] = ProductSource(f"{d}_points", home, folder / f"{d}.master.key", folder / f"{d}.token",
                                   FEATURES, "y")
    mesh = GovernedMesh(store, identities, sources, data, folder)
    for d in data:
        mesh.token(d)
    return mesh
