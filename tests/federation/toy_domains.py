"""The small domains the federation tests train on (pytest puts this folder on the path).

Domain ``k`` holds ``rows`` points of 3 features drawn around ``0.3 k``, labelled by
``x0 - x1 > 0.3 k``: learnable, and a little different in every domain.
"""

import numpy as np

from meshkit import from_arrays


def toy_domains(n_domains: int, *, seed: int = 0, rows: int = 80):
    """``{"d0": DomainData, ...}``: seeded train/test splits of ``n_domains`` toy domains."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_domains):
        X = rng.normal(k * 0.3, 1.0, size=(rows, 3))
        parts.append((X, (X[:, 0] - X[:, 1] > k * 0.3).astype(int)))
    return from_arrays(parts, names=[f"d{k}" for k in range(n_domains)], seed=seed)
