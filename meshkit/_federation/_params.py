"""Check per-domain parameter lists and weights, and take their weighted sum.

Every aggregation rule first checks, from metadata only, that each domain sent the same
number of arrays with the same shapes (:func:`check_structure`) and that the weights are
positive (:func:`check_weights`); :func:`check_finite` names the domain and array holding a
NaN or infinity once a rule has seen one. :func:`weighted_sum` is FedAvg's accumulation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from meshkit._errors import FederationError

__all__ = ["check_structure", "check_finite", "check_weights", "weighted_sum"]


def _domain_name(names: Sequence[str] | None, i: int) -> str:
    return f"domain {names[i]!r}" if names is not None else f"domain {i}"


def check_structure(thetas, *, names: Sequence[str] | None = None):
    """Check that every domain sent the same number of real arrays with the same shapes.

    Looks at metadata only (no pass over the values). Returns ``(shapes, dtypes)``: the
    shape of each array and its floating result dtype across domains.

    Raises
    ------
    FederationError
        Empty input, differing array counts or shapes, non-numeric arrays; the message
        names the domain and the array at fault.

    Examples
    --------
    >>> check_structure([[np.ones((2, 2)), np.zeros(1)], [np.zeros((2, 2)), np.ones(1)]])
    ([(2, 2), (1,)], [dtype('float64'), dtype('float64')])
    """
    if thetas is None or len(thetas) == 0:
        raise FederationError("nothing to aggregate", where="thetas",
                              expected="parameters from at least one domain", found="0 domains")
    if names is not None and len(names) != len(thetas):
        raise FederationError("names and thetas differ in length", where="names",
                              expected=f"{len(thetas)} names", found=f"{len(names)}")
    first = thetas[0]
    if isinstance(first, np.ndarray) or len(first) == 0:
        raise FederationError("each domain must send a non-empty list of arrays",
                              where=_domain_name(names, 0), expected="a list of numpy arrays",
                              found=type(first).__name__ if isinstance(first, np.ndarray) else "an empty list")
    shapes = [np.shape(a) for a in first]
    kinds: list[list[np.dtype]] = [[] for _ in shapes]
    for i, theta in enumerate(thetas):
        if isinstance(theta, np.ndarray) or len(theta) != len(shapes):
            raise FederationError("domains sent different numbers of arrays",
                                  where=_domain_name(names, i), expected=f"{len(shapes)} arrays",
                                  found=f"{len(theta) if not isinstance(theta, np.ndarray) else 'a bare array'}")
        for k, array in enumerate(theta):
            shape, dtype = np.shape(array), np.asarray(array).dtype
            if shape != shapes[k]:
                raise FederationError("array shapes differ between domains",
                                      where=f"{_domain_name(names, i)}, array {k}",
                                      expected=f"shape {shapes[k]}", found=f"shape {shape}")
            if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
                raise FederationError("parameters must be real numbers",
                                      where=f"{_domain_name(names, i)}, array {k}",
                                      expected="a real numeric dtype", found=str(dtype))
            kinds[k].append(dtype)
    dtypes = []
    for k in range(len(shapes)):
        dt = np.result_type(*kinds[k])
        dtypes.append(dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64))
    return shapes, dtypes


def check_finite(thetas, *, names: Sequence[str] | None = None) -> None:
    """Raise :class:`FederationError` naming the first domain and array with NaN or infinity.

    Examples
    --------
    >>> try:
    ...     check_finite([[np.ones(2)], [np.array([1.0, np.inf])]])
    ... except FederationError as err:
    ...     print(err.where, "|", err.found)
    domain 1, array 0 | 1 non-finite values
    """
    for i, theta in enumerate(thetas):
        for k, array in enumerate(theta):
            array = np.asarray(array)
            # a sum is finite iff no entry is NaN/inf (up to overflow, resolved exactly)
            if not np.isfinite(array.sum()) and not np.isfinite(array).all():
                raise FederationError("non-finite parameters (NaN or infinity) refused",
                                      where=f"{_domain_name(names, i)}, array {k}",
                                      expected="finite values",
                                      found=f"{int((~np.isfinite(array)).sum())} non-finite values")


def weighted_sum(thetas, weights: np.ndarray, shapes, dtypes) -> list[np.ndarray]:
    """``sum_i weights[i] * thetas[i]``, array by array, without stacking the domains.

    Accumulates in place through one reused buffer per array (no temporary per domain), which
    reads each domain's values once; FedAvg needs nothing more.

    Examples
    --------
    >>> weighted_sum([[np.ones(2)], [np.full(2, 3.0)]], np.array([0.25, 0.75]), [(2,)], [np.dtype(float)])
    [array([2.5, 2.5])]
    """
    out = []
    for k, (shape, dtype) in enumerate(zip(shapes, dtypes)):
        acc = np.multiply(np.asarray(thetas[0][k], dtype=dtype), dtype.type(weights[0]))
        acc = np.asarray(acc, dtype=dtype).reshape(shape)
        tmp = np.empty_like(acc)
        for i in range(1, len(thetas)):  # a loop over domains; each step is vectorized
            np.multiply(thetas[i][k], dtype.type(weights[i]), out=tmp, casting="unsafe")
            acc += tmp
        out.append(acc)
    return out


def check_weights(weights, n: int, *, names: Sequence[str] | None = None) -> np.ndarray:
    """Return ``weights`` as a float64 vector of length ``n``, refusing bad values.

    Weights are example counts (or any positive importance); ``None`` means equal weights.

    Raises
    ------
    FederationError
        Wrong length, non-finite, zero or negative weights (naming the domain).

    Examples
    --------
    >>> check_weights([10, 30], 2)
    array([10., 30.])
    """
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise FederationError("one weight per domain is needed", where="weights",
                              expected=f"{n} weights", found=f"{w.shape[0]}")
    bad = np.flatnonzero(~np.isfinite(w) | (w <= 0))
    if bad.size:
        i = int(bad[0])
        raise FederationError("weights must be positive and finite",
                              where=f"weights of {_domain_name(names, i)}",
                              expected="a number > 0", found=repr(float(w[i])))
    return w
