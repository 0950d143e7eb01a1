"""meshkit: data mesh made real and teachable.

Domains own their data as products; consumers use them without a central team; the mesh
learns and checks across domains without pooling raw data. Three formulas are the heart of
the public API::

    import meshkit as mk
    theta = mk.aggregate(thetas, weights=n_examples, method="fedavg")  # federation
    report = mk.consistency(d1, d2, threshold=0.8)                     # consistency
    decision = mk.security(product, principal, action="read")          # security

The three formulas are imported eagerly: ``meshkit.consistency`` and ``meshkit.security`` are
both a sub-package and a function, and binding the functions here, once, keeps
``mk.consistency(...)`` and ``mk.security(...)`` the functions in every import order (Python
binds a sub-package on its parent only when it first loads it). Everything else is imported
lazily (PEP 562).
"""

from __future__ import annotations

from importlib import import_module

from meshkit.errors import MeshkitError

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # the mesh and its products
    "Mesh": "meshkit.mesh",
    "Domain": "meshkit.mesh",
    "DataProduct": "meshkit.mesh",
    "DataContract": "meshkit.contracts",
    "QualityReport": "meshkit.contracts",
    "validate": "meshkit.contracts",
    "ProductStore": "meshkit.store",
    "load_scenario": "meshkit.scenarios",
    # running the notebook chain
    "run_chain": "meshkit.pipeline",
}

__all__ = [
    "MeshkitError", "__version__",
    "aggregate",                             # federation: θ = aggregate(θ₁, …, θₙ)
    "similarity", "consistency", "sync",     # consistency(D₁, D₂) = similarity(D₁, D₂) > θ
    "security",                              # encryption(D) ∩ authentication(U) ∩ authorization(U, D)
    *_EXPORTS,
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


# The three formulas, bound last so their modules may use the lazy names above.
from meshkit.federation import aggregate  # noqa: E402
from meshkit.consistency import consistency, similarity, sync  # noqa: E402
from meshkit.security import security  # noqa: E402
