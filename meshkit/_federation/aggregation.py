"""``theta = aggregate(theta_1, ..., theta_n)``: the aggregation rules, vectorized.

The robust rules work on the domains' parameters stacked into ``(n_domains, b)`` blocks of
coordinates (each block a vectorized step that fits in cache; the whole ``(n, P)`` matrix is
never materialised): the median and trimmed mean sort each coordinate's ``n`` values at once,
and Krum and Bulyan get their pairwise distances from one Gram matrix accumulated by BLAS,
never from Python loops over coordinates or pairs of domains. FedAvg and the mean need no
stacking: they accumulate each domain's arrays in place (one vectorized step per domain),
which reads every value once.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._params import check_finite, check_structure, check_weights, weighted_sum

__all__ = ["METHODS", "aggregate", "aggregate_matrix", "pairwise_sq_distances", "krum_scores"]

#: method name -> the options it accepts
METHODS: dict[str, tuple[str, ...]] = {
    "fedavg": (),
    "mean": (),
    "median": (),
    "trimmed_mean": ("beta",),
    "krum": ("f",),
    "multikrum": ("f", "m"),
    "bulyan": ("f",),
}


def aggregate(thetas, weights=None, method: str = "fedavg", **options) -> list[np.ndarray]:
    r"""Aggregate the domains' parameters into one global parameter list.

    Parameters
    ----------
    thetas : sequence of list of ndarray, or mapping name -> list of ndarray
        One list of arrays per domain (same count and shapes everywhere). With a mapping,
        error messages name the domains.
    weights : array_like or mapping, optional
        One positive weight per domain, usually its number of training examples. ``None``
        means equal weights. Used by ``fedavg`` and ``multikrum`` only; the robust
        rules are unweighted, as in Flower.
    method : str, default "fedavg"
        The rule, with the semantics of Flower's ``flwr.server.strategy.aggregate``:

        ``"fedavg"``
            :math:`\theta = \sum_i w_i \theta_i / \sum_i w_i` (McMahan et al. 2017).
        ``"mean"``
            the plain mean, i.e. FedAvg with equal weights.
        ``"median"``
            coordinate-wise median, unweighted (Yin et al. 2018).
        ``"trimmed_mean"``
            coordinate-wise mean after cutting ``floor(beta * n)`` values from each tail;
            option ``beta`` in ``[0, 0.5)``, default ``0.2`` (as Flower's ``FedTrimmedAvg``).
        ``"krum"``
            the one domain whose parameters minimise the sum of squared distances to their
            ``n - f - 2`` nearest neighbours (Blanchard et al. 2017); option ``f`` (number
            of Byzantine domains tolerated, default ``0``) with ``n >= 2f + 3``.
        ``"multikrum"``
            the ``weights``-weighted mean of the ``m`` domains with the best Krum scores;
            options ``f`` and ``m`` (default ``n - f``).
        ``"bulyan"``
            select ``n - 2f`` domains by repeated Krum, then average coordinate-wise the
            ``n - 4f`` values closest to their median (El Mhamdi et al. 2018); needs
            ``n >= 4f + 3``.
    **options
        The method's options listed above; others are refused.

    Returns
    -------
    list of ndarray
        The aggregated arrays, shaped and typed like the inputs (floating).

    Raises
    ------
    FederationError
        Empty input, different array counts or shapes between domains, NaN or infinite
        parameters, zero/negative weights, unknown methods or options, ``f`` too large.

    Examples
    --------
    >>> a = [np.array([1.0, 2.0]), np.array([0.0])]
    >>> b = [np.array([3.0, 6.0]), np.array([4.0])]
    >>> aggregate([a, b], weights=[1, 3])
    [array([2.5, 5. ]), array([3.])]
    >>> aggregate([a, b, b], method="median")[0]
    array([3., 6.])
    """
    names = None
    if isinstance(thetas, Mapping):
        names = [str(k) for k in thetas]
        if isinstance(weights, Mapping):
            missing = [n for n in thetas if n not in weights]
            if missing:
                raise FederationError("a weight is missing", where=f"weights[{missing[0]!r}]",
                                      expected="one weight per domain", found="no weight")
            weights = [weights[n] for n in thetas]
        thetas = list(thetas.values())
    _check_options(method, options)
    shapes, dtypes = check_structure(thetas, names=names)
    n = len(thetas)
    w = check_weights(weights, n, names=names)
    if method in ("fedavg", "mean"):
        if method == "mean":
            w = np.ones(n)
        # the weighted mean reads each domain once, array by array, without stacking
        out = weighted_sum(thetas, w / w.sum(), shapes, dtypes)
        # with positive weights any NaN/inf input reaches the output: check the output
        # (one pass over P values), and name the culprit only when it is not finite
        if not all(np.isfinite(a.sum()) or np.isfinite(a).all() for a in out):
            check_finite(thetas, names=names)
            raise FederationError("the weighted mean overflowed", where=f"method {method!r}",
                                  expected=f"values within the range of {dtypes[0]}",
                                  found="an infinite result from finite parameters")
        return out
    if method == "median":
        lo, hi = (n - 1) // 2, n // 2

        def median(t):
            t.sort(axis=1)  # rows of n contiguous values: numpy's SIMD sort beats a k-select
            return (t[:, lo] + t[:, hi]) / 2 if lo != hi else t[:, lo]

        return _coordinatewise(thetas, shapes, dtypes, names, median)
    if method == "trimmed_mean":
        beta = options.get("beta", 0.2)
        if isinstance(beta, bool) or not (isinstance(beta, (int, float, np.floating)) and 0.0 <= beta < 0.5):
            raise FederationError("beta is the fraction cut from each tail",
                                  where="trimmed_mean: beta", expected="0 <= beta < 0.5",
                                  found=repr(beta))
        cut = int(np.floor(beta * n))

        def trimmed(t):
            if cut:
                t.sort(axis=1)
            return t[:, cut:n - cut].mean(axis=1)

        return _coordinatewise(thetas, shapes, dtypes, names, trimmed)
    factor = 4 if method == "bulyan" else 2
    f = _check_f(options.get("f", 0), n, factor, method)
    if method == "multikrum":
        m = options.get("m", n - f)
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
            raise FederationError("m is the number of domains averaged", where="multikrum: m",
                                  expected=f"an int in [1, {n}]", found=repr(m))
    dist = _distances(thetas, shapes, dtypes, names)
    if method == "krum":
        best = int(np.argmin(krum_scores(dist, f)))
        return [np.array(a, dtype=dt) for a, dt in zip(thetas[best], dtypes)]
    if method == "multikrum":
        best = np.argsort(krum_scores(dist, f), kind="stable")[:m]
        return weighted_sum([thetas[i] for i in best], w[best] / w[best].sum(), shapes, dtypes)
    # bulyan: n - 2f selections by repeated Krum on the n x n distances (not on the data),
    # then per coordinate the mean of the n - 4f selected values closest to their median
    remaining, selected = np.arange(n), []
    for _ in range(n - 2 * f):
        pick = int(np.argmin(krum_scores(dist[np.ix_(remaining, remaining)], f)))
        selected.append(int(remaining[pick]))
        remaining = np.delete(remaining, pick)
    beta = len(selected) - 2 * f

    lo, hi = (len(selected) - 1) // 2, len(selected) // 2

    def closest_to_median(t):
        ordered = np.sort(t, axis=1)
        med = ((ordered[:, lo] + ordered[:, hi]) / 2)[:, None]
        idx = np.argpartition(np.abs(t - med), beta - 1, axis=1)[:, :beta]
        return np.take_along_axis(t, idx, axis=1).mean(axis=1)

    return _coordinatewise([thetas[i] for i in selected], shapes, dtypes, names, closest_to_median,
                           check=False)


def _blocks(thetas, shapes, dtypes, target_bytes: int = 1 << 21):
    """Yield ``(k, start, block)``: array ``k``'s values ``start:start+b`` of every domain as a
    ``(n, b)`` block (about ``target_bytes``), so that work stays in cache and the whole
    ``(n, P)`` matrix is never materialised. The block's buffer is reused: consume it (or
    copy it) before the next one."""
    n = len(thetas)
    for k, dtype in enumerate(dtypes):
        flats = [np.asarray(theta[k]).reshape(-1) for theta in thetas]
        size = flats[0].size
        if size == 0:
            continue
        step = min(size, max(256, target_bytes // max(1, n * dtype.itemsize)))
        buffer = np.empty((n, step), dtype=dtype)
        for start in range(0, size, step):
            width = min(step, size - start)
            block = buffer[:, :width]
            np.stack([f[start:start + width] for f in flats], out=block, casting="same_kind")
            yield k, start, block


def _check_block(block, thetas, names) -> None:
    if not np.isfinite(block.sum()):
        check_finite(thetas, names=names)


def _coordinatewise(thetas, shapes, dtypes, names, rule, *, check: bool = True) -> list[np.ndarray]:
    """Apply a coordinate-wise ``rule`` (``(b, n)`` values -> ``(b,)``) block by block."""
    out = [np.empty(shape, dtype=dt) for shape, dt in zip(shapes, dtypes)]
    flat = [o.reshape(-1) for o in out]
    for k, start, block in _blocks(thetas, shapes, dtypes):
        if check:
            _check_block(block, thetas, names)
        values = rule(np.ascontiguousarray(block.T))  # (b, n): each coordinate's n values contiguous
        flat[k][start:start + values.shape[0]] = values
    return out


def _distances(thetas, shapes, dtypes, names) -> np.ndarray:
    """Squared distances between the domains through one Gram matrix, accumulated by block.

    Each ``(n, b)`` block holds every domain's values minus the first domain's (one pass
    that copies and centres: distances do not change, the cancellation in
    ``|a|^2 + |b|^2 - 2 a.b`` of nearby models does); its Gram matrix comes from one BLAS
    ``syrk`` call (half the work of a general product), summed in float64. Non-finite
    parameters show up in the Gram matrix, and only then is each domain checked by name.
    """
    from scipy.linalg.blas import get_blas_funcs

    n = len(thetas)
    upper = np.zeros((n, n))
    for k, dtype in enumerate(dtypes):
        work = np.result_type(dtype, np.float32)
        flats = [np.asarray(theta[k]).reshape(-1) for theta in thetas]
        size = flats[0].size
        if size == 0:
            continue
        step = min(size, max(256, (1 << 22) // (n * work.itemsize)))
        buffer = np.empty((n, step), dtype=work)
        syrk = get_blas_funcs("syrk", (buffer,))
        for start in range(0, size, step):
            stop = min(size, start + step)
            block = buffer[:, :stop - start]
            reference = flats[0][start:stop]
            for row, flat in zip(block, flats):
                np.subtract(flat[start:stop], reference, out=row)
            upper += syrk(1.0, block.T, trans=1)  # block @ block.T, upper triangle
    if not np.isfinite(upper).all():
        check_finite(thetas, names=names)
    upper = np.triu(upper)
    return _gram_to_distances(upper + np.triu(upper, 1).T)


def _gram_to_distances(gram: np.ndarray) -> np.ndarray:
    sq = np.diag(gram)
    dist = sq[:, None] + sq[None, :] - 2.0 * gram
    dist = np.maximum((dist + dist.T) / 2.0, 0.0)
    np.fill_diagonal(dist, 0.0)
    return dist


def _check_options(method: str, options: dict) -> None:
    if method not in METHODS:
        raise FederationError("unknown aggregation method", where="method",
                              expected=f"one of {', '.join(METHODS)}", found=repr(method))
    unknown = sorted(set(options) - set(METHODS[method]))
    if unknown:
        allowed = ", ".join(METHODS[method]) or "no options"
        raise FederationError(f"unknown option for method {method!r}", where=unknown[0],
                              expected=allowed, found=repr(unknown[0]))


def _check_f(f, n: int, factor: int, method: str) -> int:
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 0:
        raise FederationError("f must be a non-negative integer", where=f"{method}: f",
                              expected="an int >= 0", found=repr(f))
    need, rule = factor * int(f) + 3, f"{factor}f + 3"
    if n < need:
        raise FederationError(f"f={f} is too large for {n} domains", where=f"{method}: f",
                              expected=f"n >= {rule} = {need}", found=f"n = {n}")
    return int(f)


def pairwise_sq_distances(matrix: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of a matrix, through one Gram matrix.

    Examples
    --------
    >>> pairwise_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[ 0., 25.],
           [25.,  0.]])
    """
    matrix = np.asarray(matrix)
    centred = matrix - matrix.mean(axis=0, dtype=np.float64).astype(matrix.dtype)
    return _gram_to_distances((centred @ centred.T).astype(np.float64))


def krum_scores(dist: np.ndarray, f: int) -> np.ndarray:
    """Krum score of each row: sum of squared distances to its ``n - f - 2`` nearest others.

    ``n - f - 2`` is floored at 1, as in Flower.

    Examples
    --------
    >>> d = pairwise_sq_distances(np.array([[0.0], [1.0], [2.0], [10.0]]))
    >>> krum_scores(d, f=1)
    array([ 1.,  1.,  1., 64.])
    """
    n = dist.shape[0]
    if n == 1:
        return np.zeros(1)
    k = max(1, n - f - 2)
    others = dist + np.diag(np.full(n, np.inf))
    return np.partition(others, k - 1, axis=1)[:, :k].sum(axis=1)


def aggregate_matrix(matrix: np.ndarray, weights=None, method: str = "fedavg", **options) -> np.ndarray:
    """Aggregate an already stacked ``(n, P)`` matrix (one domain per row) into ``P`` values.

    Examples
    --------
    >>> aggregate_matrix(np.array([[1.0, 5.0], [3.0, 1.0], [2.0, 2.0]]), method="median")
    array([2., 2.])
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise FederationError("a stacked matrix has one row per domain", where="matrix",
                              expected="a 2-D array", found=f"shape {matrix.shape}")
    return aggregate([[row] for row in matrix], weights, method, **options)[0]
