"""FedProx's Synthetic(alpha, beta) benchmark (Li et al. 2020, after Shamir et al. 2014)."""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError

__all__ = ["synthetic"]


def synthetic(alpha: float = 1.0, beta: float = 1.0, *, n_devices: int = 30, n_features: int = 60,
              n_classes: int = 10, seed: int = 0,
              max_samples: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Generate Synthetic(alpha, beta): one softmax-labelled dataset per device.

    For device ``k``: :math:`u_k \sim N(0, \alpha)`, :math:`B_k \sim N(0, \beta)`,
    :math:`W_k, b_k \sim N(u_k, 1)`, :math:`v_k \sim N(B_k, 1)` (per feature),
    :math:`x \sim N(v_k, \Sigma)` with diagonal :math:`\Sigma_{jj} = j^{-1.2}`, and
    :math:`y = \arg\max \mathrm{softmax}(W_k x + b_k)`. ``alpha`` controls how much the local
    models differ, ``beta`` how much the local data differ. Device sizes follow the reference
    code's power law ``lognormal(4, 2) + 50``. As in that code, ``alpha`` and ``beta`` are
    the standard deviations of the normal draws.

    Parameters
    ----------
    alpha, beta : float, default 1.0
    n_devices : int, default 30
    n_features : int, default 60
    n_classes : int, default 10
    seed : int, default 0
    max_samples : int or None, default None
        Cap on samples per device (``None``: no cap).

    Returns
    -------
    list of (X, y)
        One ``(X (n_k, n_features), y (n_k,))`` pair per device.

    Examples
    --------
    >>> devices = synthetic(1, 1, seed=0)
    >>> len(devices), devices[0][0].shape[1], int(max(y.max() for _, y in devices)) < 10
    (30, 60, True)
    """
    if not (alpha >= 0 and beta >= 0):
        raise FederationError("alpha and beta must be >= 0", where="synthetic",
                              expected=">= 0", found=f"alpha={alpha!r}, beta={beta!r}")
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(4, 2, n_devices).astype(np.int64) + 50
    if max_samples is not None:
        sizes = np.minimum(sizes, max_samples)
    sd = np.arange(1, n_features + 1) ** -0.6  # sqrt of j^-1.2
    u = rng.normal(0.0, alpha, n_devices)
    B = rng.normal(0.0, beta, n_devices)
    devices = []
    for k in range(n_devices):
        W = rng.normal(u[k], 1.0, (n_features, n_classes))
        b = rng.normal(u[k], 1.0, n_classes)
        v = rng.normal(B[k], 1.0, n_features)
        X = v + rng.standard_normal((int(sizes[k]), n_features)) * sd
        y = np.argmax(X @ W + b, axis=1)
        devices.append((X, y.astype(np.int64)))
    return devices
