"""``theta = aggregate(theta_1, ..., theta_n)``: the aggregation rules, vectorized.

All rules work on the stacked ``(n_domains, n_parameters)`` matrix at once (see
:mod:`meshkit.federation._params`); Krum and Bulyan get their pairwise distances from one
Gram matrix, never from Python loops over coordinates or pairs of domains.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from meshkit.errors import FederationError
from meshkit.federation._params import check_weights, stack_parameters, unstack_parameters

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
            option ``beta`` in ``[0, 0.5)``, default ``0.1``.
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
    matrix, shapes, dtypes = stack_parameters(thetas, names=names)
    w = check_weights(weights, matrix.shape[0], names=names)
    row = aggregate_matrix(matrix, w, method, overwrite=True, **options)
    return unstack_parameters(row, shapes, dtypes)


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
    """Squared Euclidean distances between the rows, through one Gram matrix.

    Rows are centred first (distances do not change, cancellation does), and the result is
    clipped at zero and symmetric, with a zero diagonal.

    Examples
    --------
    >>> pairwise_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[ 0., 25.],
           [25.,  0.]])
    """
    centred = matrix - matrix.mean(axis=0, dtype=np.float64).astype(matrix.dtype)
    gram = (centred @ centred.T).astype(np.float64)
    sq = np.diag(gram)
    dist = sq[:, None] + sq[None, :] - 2.0 * gram
    dist = np.maximum((dist + dist.T) / 2.0, 0.0)
    np.fill_diagonal(dist, 0.0)
    return dist


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


def aggregate_matrix(matrix: np.ndarray, weights: np.ndarray | None = None,
                     method: str = "fedavg", *, overwrite: bool = False, **options) -> np.ndarray:
    """Aggregate a stacked ``(n, P)`` matrix into one row of ``P`` values.

    The engine behind :func:`aggregate`; ``overwrite=True`` lets the rules that sort
    (median, trimmed mean) reorder ``matrix`` in place instead of copying it.

    Examples
    --------
    >>> aggregate_matrix(np.array([[1.0, 5.0], [3.0, 1.0], [2.0, 2.0]]), method="median")
    array([2., 2.])
    """
    _check_options(method, options)
    n = matrix.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if method in ("fedavg", "mean"):
        if method == "mean":
            w = np.ones(n)
        return (w / w.sum()).astype(matrix.dtype) @ matrix
    if method == "median":
        return np.median(matrix, axis=0, overwrite_input=overwrite)
    if method == "trimmed_mean":
        beta = options.get("beta", 0.1)
        if not (isinstance(beta, (int, float, np.floating)) and 0.0 <= beta < 0.5):
            raise FederationError("beta is the fraction cut from each tail",
                                  where="trimmed_mean: beta", expected="0 <= beta < 0.5",
                                  found=repr(beta))
        cut = int(np.floor(beta * n))
        if cut == 0:
            return matrix.mean(axis=0, dtype=np.float64).astype(matrix.dtype)
        work = matrix if overwrite else matrix.copy()
        work.partition((cut, n - cut - 1), axis=0)
        return work[cut:n - cut].mean(axis=0, dtype=np.float64).astype(matrix.dtype)
    if method in ("krum", "multikrum"):
        f = _check_f(options.get("f", 0), n, 2, method)
        scores = krum_scores(pairwise_sq_distances(matrix), f)
        if method == "krum":
            return matrix[int(np.argmin(scores))].copy()
        m = options.get("m", n - f)
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
            raise FederationError("m is the number of domains averaged", where="multikrum: m",
                                  expected=f"an int in [1, {n}]", found=repr(m))
        best = np.argsort(scores, kind="stable")[:m]
        wb = w[best] / w[best].sum()
        return wb.astype(matrix.dtype) @ matrix[best]
    # bulyan
    f = _check_f(options.get("f", 0), n, 4, "bulyan")
    dist = pairwise_sq_distances(matrix)
    remaining = np.arange(n)
    selected = []
    for _ in range(n - 2 * f):  # n - 2f Krum selections on an n x n matrix, not on data
        sub = dist[np.ix_(remaining, remaining)]
        pick = int(np.argmin(krum_scores(sub, f)))
        selected.append(remaining[pick])
        remaining = np.delete(remaining, pick)
    chosen = matrix[np.asarray(selected)]
    beta = len(selected) - 2 * f
    median = np.median(chosen, axis=0)
    closest = np.argpartition(np.abs(chosen - median), beta - 1, axis=0)[:beta]
    return np.take_along_axis(chosen, closest, axis=0).mean(axis=0, dtype=np.float64).astype(matrix.dtype)
