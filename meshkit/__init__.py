"""meshkit: data mesh made real and teachable.

Domains own their data as products; consumers use them without a central team; the mesh
learns and checks across domains without pooling raw data. Three formulas are the heart of
the public API::

    import meshkit as mk
    theta = mk.aggregate(thetas, weights=n_examples, method="fedavg")  # federation
    report = mk.consistency(d1, d2, threshold=0.8)                     # consistency
    decision = mk.security(product, principal, action="read")          # security

Names are imported lazily (PEP 562), so ``import meshkit`` stays quick and a notebook that
only needs the mesh does not pay for the federation or security stacks.
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
    # federation: theta = aggregate(theta_1, ..., theta_n)
    "aggregate": "meshkit.federation",
    # consistency: similarity(D1, D2) > theta
    "similarity": "meshkit.consistency",
    "consistency": "meshkit.consistency",
    "sync": "meshkit.consistency",
    # security: encryption(D) & authentication(U) & authorization(U, D)
    "security": "meshkit.security",
    # running the notebook chain
    "run_chain": "meshkit.pipeline",
}

__all__ = ["MeshkitError", "__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
