"""Check and stack per-domain parameter lists.

Every aggregation rule works on one ``(n_domains, n_parameters)`` matrix: each domain's list
of arrays is flattened into one row. This module builds that matrix once, checking on the way
that every domain sent the same number of arrays with the same shapes and only finite values,
and splits an aggregated row back into arrays shaped like the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from meshkit.errors import FederationError

__all__ = ["check_weights", "stack_parameters", "unstack_parameters"]


def _domain_name(names: Sequence[str] | None, i: int) -> str:
    return f"domain {names[i]!r}" if names is not None else f"domain {i}"


def stack_parameters(thetas, *, names: Sequence[str] | None = None):
    """Stack ``n`` domains' parameter lists into one ``(n, P)`` matrix.

    Parameters
    ----------
    thetas : sequence of sequence of array_like
        One list of arrays per domain; every domain must send the same number of arrays
        with the same shapes.
    names : sequence of str, optional
        Domain names used in error messages (default: the domain's position).

    Returns
    -------
    matrix : ndarray, shape (n, P)
        Row ``i`` is domain ``i``'s arrays, flattened and concatenated.
    shapes : list of tuple
        The shape of each array, for :func:`unstack_parameters`.
    dtypes : list of numpy.dtype
        The result dtype of each array across domains (floating).

    Raises
    ------
    FederationError
        Empty input, differing array counts or shapes, or non-finite values; the message
        names the domain and the array at fault.

    Examples
    --------
    >>> m, shapes, _ = stack_parameters([[np.ones((2, 2)), np.zeros(1)], [np.zeros((2, 2)), np.ones(1)]])
    >>> m.shape, shapes
    ((2, 5), [(2, 2), (1,)])
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
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    dtypes = []
    for k in range(len(shapes)):
        dt = np.result_type(*[np.asarray(theta[k]).dtype for theta in thetas
                              if len(theta) > k])
        dtypes.append(dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64))
    dtype = np.result_type(*dtypes)
    matrix = np.empty((len(thetas), int(offsets[-1])), dtype=dtype)
    for i, theta in enumerate(thetas):
        if isinstance(theta, np.ndarray) or len(theta) != len(shapes):
            raise FederationError("domains sent different numbers of arrays",
                                  where=_domain_name(names, i), expected=f"{len(shapes)} arrays",
                                  found=f"{len(theta) if not isinstance(theta, np.ndarray) else 'a bare array'}")
        for k, array in enumerate(theta):
            array = np.asarray(array)
            if array.shape != shapes[k]:
                raise FederationError("array shapes differ between domains",
                                      where=f"{_domain_name(names, i)}, array {k}",
                                      expected=f"shape {shapes[k]}", found=f"shape {array.shape}")
            if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
                raise FederationError("parameters must be real numbers",
                                      where=f"{_domain_name(names, i)}, array {k}",
                                      expected="a real numeric dtype", found=str(array.dtype))
            matrix[i, offsets[k]:offsets[k + 1]] = array.reshape(-1)
        row = matrix[i]
        # one reduction per domain: the sum of a row is finite iff no entry is inf/nan
        # (up to overflow, which the exact check below resolves)
        if not np.isfinite(row.sum(dtype=np.float64)) and not np.isfinite(row).all():
            bad = int(np.searchsorted(offsets, np.flatnonzero(~np.isfinite(row))[0], side="right") - 1)
            raise FederationError("non-finite parameters (NaN or infinity) refused",
                                  where=f"{_domain_name(names, i)}, array {bad}",
                                  expected="finite values",
                                  found=f"{int((~np.isfinite(row)).sum())} non-finite values")
    return matrix, shapes, dtypes


def unstack_parameters(row, shapes, dtypes=None) -> list[np.ndarray]:
    """Split one flat parameter row back into arrays of the given shapes.

    Examples
    --------
    >>> [a.shape for a in unstack_parameters(np.arange(5.0), [(2, 2), (1,)])]
    [(2, 2), (1,)]
    """
    row = np.asarray(row)
    out, start = [], 0
    for k, shape in enumerate(shapes):
        size = int(np.prod(shape, dtype=np.int64))
        array = row[start:start + size].reshape(shape)
        if dtypes is not None:
            array = array.astype(dtypes[k], copy=False)
        out.append(array)
        start += size
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
