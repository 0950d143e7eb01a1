"""The aggregation rules, vectorized: FedAvg, mean, median, trimmed mean, Krum, Multi-Krum, Bulyan.

One function per rule, each taking the domains' parameter lists (and names for error
messages), checking them, and returning one parameter list. The strategies of
:mod:`~meshkit._federation.strategies` call them; :func:`meshkit.aggregate` reaches them
through the one registry of rules, ``STRATEGIES``.

The robust rules work on the domains' parameters stacked into ``(n_domains, b)`` blocks of
coordinates (each block a vectorized step that fits in cache; the whole ``(n, P)`` matrix is
never materialised): the median and trimmed mean sort each coordinate's ``n`` values at once,
and Krum and Bulyan get their pairwise distances from one Gram matrix accumulated by BLAS in
float64, never from Python loops over coordinates or pairs of domains. FedAvg and the mean
need no stacking: they accumulate each domain's arrays in place (one vectorized step per
domain), which reads every value once.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._params import check_finite, check_structure, check_weights, weighted_sum

__all__ = ["fedavg", "median", "trimmed_mean", "krum", "multikrum", "bulyan",
           "pairwise_sq_distances", "krum_scores"]


def _normalized(w: np.ndarray) -> np.ndarray:
    """``w / sum(w)`` without overflow: divided by the largest weight first, so example
    counts up to the largest float (1e308) sum to at most ``n``."""
    w = w / w.max()
    return w / w.sum()


def fedavg(thetas, weights=None, *, names=None) -> list[np.ndarray]:
    r"""FedAvg: :math:`\theta = \sum_i w_i \theta_i / \sum_i w_i` (McMahan et al. 2017).

    ``weights=None`` gives the plain mean. Weights are normalised after division by the
    largest one, so counts near the largest float do not overflow to a zero model.

    Examples
    --------
    >>> fedavg([[np.array([1.0])], [np.array([3.0])]], [1e308, 1e308])
    [array([2.])]
    """
    shapes, dtypes = check_structure(thetas, names=names)
    w = check_weights(weights, len(thetas), names=names)
    out = weighted_sum(thetas, _normalized(w), shapes, dtypes)
    # with positive weights any NaN/inf input reaches the output: check the output
    # (one pass over P values), and name the culprit only when it is not finite
    if not all(np.isfinite(a.sum()) or np.isfinite(a).all() for a in out):
        check_finite(thetas, names=names)
        raise FederationError("the weighted mean overflowed", where="fedavg",
                              expected=f"values within the range of {dtypes[0]}",
                              found="an infinite result from finite parameters")
    return out


def median(thetas, *, names=None) -> list[np.ndarray]:
    """Coordinate-wise median, unweighted (Yin et al. 2018)."""
    shapes, dtypes = check_structure(thetas, names=names)
    n = len(thetas)
    lo, hi = (n - 1) // 2, n // 2

    def rule(t):
        t.sort(axis=1)  # rows of n contiguous values: numpy's SIMD sort beats a k-select
        return (t[:, lo] + t[:, hi]) / 2 if lo != hi else t[:, lo]

    return _coordinatewise(thetas, shapes, dtypes, names, rule)


def trimmed_mean(thetas, beta: float = 0.2, *, names=None) -> list[np.ndarray]:
    """Coordinate-wise mean after cutting ``floor(beta * n)`` values from each tail
    (``0 <= beta < 0.5``, as Flower's ``FedTrimmedAvg``)."""
    if isinstance(beta, bool) or not (isinstance(beta, (int, float, np.floating)) and 0.0 <= beta < 0.5):
        raise FederationError("beta is the fraction cut from each tail",
                              where="trimmed_mean: beta", expected="0 <= beta < 0.5",
                              found=repr(beta))
    shapes, dtypes = check_structure(thetas, names=names)
    n = len(thetas)
    cut = int(np.floor(beta * n))

    def rule(t):
        if cut:
            t.sort(axis=1)
        return t[:, cut:n - cut].mean(axis=1)

    return _coordinatewise(thetas, shapes, dtypes, names, rule)


def krum(thetas, f: int = 0, *, names=None) -> list[np.ndarray]:
    """The one domain whose parameters minimise the sum of squared distances to their
    ``n - f - 2`` nearest neighbours (Blanchard et al. 2017); needs ``n >= 2f + 3``.

    A domain whose score is not finite (its distances overflow float64) is never chosen.
    """
    shapes, dtypes = check_structure(thetas, names=names)
    f = _check_f(f, len(thetas), 2, "krum")
    best = _best(krum_scores(_distances(thetas, shapes, dtypes, names), f), 1, "krum")[0]
    return [np.array(a, dtype=dt) for a, dt in zip(thetas[best], dtypes)]


def multikrum(thetas, weights=None, f: int = 0, m: int | None = None, *, names=None) -> list[np.ndarray]:
    """The ``weights``-weighted mean of the ``m`` domains with the best Krum scores
    (``m`` defaults to ``n - f``); a non-finite score is never chosen."""
    shapes, dtypes = check_structure(thetas, names=names)
    n = len(thetas)
    f = _check_f(f, n, 2, "multikrum")
    m = n - f if m is None else m
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
        raise FederationError("m is the number of domains averaged", where="multikrum: m",
                              expected=f"an int in [1, {n}]", found=repr(m))
    w = check_weights(weights, n, names=names)
    best = _best(krum_scores(_distances(thetas, shapes, dtypes, names), f), int(m), "multikrum")
    return weighted_sum([thetas[i] for i in best], _normalized(w[best]), shapes, dtypes)


def bulyan(thetas, f: int = 0, *, names=None) -> list[np.ndarray]:
    """Select ``n - 2f`` domains by repeated Krum, then average coordinate-wise the
    ``n - 4f`` values closest to their median (El Mhamdi et al. 2018); needs ``n >= 4f + 3``."""
    shapes, dtypes = check_structure(thetas, names=names)
    n = len(thetas)
    f = _check_f(f, n, 4, "bulyan")
    dist = _distances(thetas, shapes, dtypes, names)
    # n - 2f selections by repeated Krum on the n x n distances (not on the data)
    remaining, selected = np.arange(n), []
    for _ in range(n - 2 * f):
        pick = _best(krum_scores(dist[np.ix_(remaining, remaining)], f), 1, "bulyan")[0]
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


def _best(scores: np.ndarray, m: int, rule: str) -> np.ndarray:
    """Indices of the ``m`` lowest finite scores (ties by position, as Flower); a
    non-finite score is never chosen."""
    finite = np.isfinite(scores)
    if finite.sum() < m:
        raise FederationError("too few domains have a finite Krum score", where=rule,
                              expected=f"at least {m} domain(s) at finite distance from the others",
                              found=f"{int(finite.sum())} of {scores.size}")
    order = np.argsort(np.where(finite, scores, np.inf), kind="stable")
    return order[:m]


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

    Each ``(n, b)`` block holds every domain's values minus a reference domain's (one pass
    that copies and centres: distances do not change, the cancellation in
    ``|a|^2 + |b|^2 - 2 a.b`` of nearby models does); its Gram matrix comes from one BLAS
    ``syrk`` call (half the work of a general product), summed in float64. Blocks are float64,
    or the inputs' float32 when no squared distance can overflow it (every value below
    ``sqrt(float32 max / 4P)``: 1.8e16 for a million parameters), which halves the work of
    real models without changing any result's range. The reference is the domain whose
    largest absolute value is the median of the domains' (a huge domain is never the
    reference, so it cannot push the distances between the others into overflow). A
    distance that overflows float64 (a domain sending 1e200) is ``inf``, never NaN, so that
    domain scores ``inf`` and is never chosen. Non-finite parameters are refused, naming
    the domain.
    """
    from scipy.linalg.blas import get_blas_funcs

    n = len(thetas)
    peaks = np.zeros(n)
    for k in range(len(dtypes)):
        for i, theta in enumerate(thetas):
            a = np.asarray(theta[k])
            if a.size:
                peaks[i] = max(peaks[i], float(a.max()), -float(a.min()))  # NaN propagates: checked below
    if not np.isfinite(peaks).all():
        check_finite(thetas, names=names)
    reference = int(np.argsort(peaks, kind="stable")[(n - 1) // 2])
    total = max(1, sum(int(np.prod(s)) for s in shapes))
    small = peaks.max() <= np.sqrt(np.finfo(np.float32).max / (4.0 * total))
    upper = np.zeros((n, n))
    for k, dtype in enumerate(dtypes):
        flats = [np.asarray(theta[k]).reshape(-1) for theta in thetas]
        size = flats[0].size
        if size == 0:
            continue
        work = np.dtype(np.float32) if small and dtype == np.float32 else np.dtype(np.float64)
        step = min(size, max(256, (1 << 22) // (n * work.itemsize)))
        buffer = np.empty((n, step), dtype=work)
        syrk = get_blas_funcs("syrk", (buffer,))
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, size, step):
                stop = min(size, start + step)
                block = buffer[:, :stop - start]
                ref = flats[reference][start:stop]
                for row, flat in zip(block, flats):
                    np.subtract(flat[start:stop], ref, out=row, dtype=work)
                upper += syrk(1.0, block.T, trans=1)  # block @ block.T, upper triangle
    upper = np.triu(upper)
    with np.errstate(over="ignore", invalid="ignore"):
        return _gram_to_distances(upper + np.triu(upper, 1).T)


def _gram_to_distances(gram: np.ndarray) -> np.ndarray:
    sq = np.diag(gram)
    dist = sq[:, None] + sq[None, :] - 2.0 * gram
    dist = np.maximum((dist + dist.T) / 2.0, 0.0)
    dist[np.isnan(dist)] = np.inf  # inf - inf from an overflow: the distance is out of range
    np.fill_diagonal(dist, 0.0)
    return dist


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
    """Squared Euclidean distances between the rows of a matrix, in float64.

    Rows are centred on the coordinate-wise median (distances do not change; a single
    huge row cannot drag the others into overflow); a distance that overflows float64 is
    ``inf``, never NaN.

    Examples
    --------
    >>> pairwise_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[ 0., 25.],
           [25.,  0.]])
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        centred = matrix - np.median(matrix, axis=0)
        return _gram_to_distances(centred @ centred.T)


def krum_scores(dist: np.ndarray, f: int) -> np.ndarray:
    """Krum score of each row: sum of squared distances to its ``n - f - 2`` nearest others.

    ``n - f - 2`` is floored at 1, as in Flower. NaN distances count as infinite.

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
    others = np.where(np.isnan(dist), np.inf, dist) + np.diag(np.full(n, np.inf))
    return np.partition(others, k - 1, axis=1)[:, :k].sum(axis=1)
