"""Distribution metrics on plain numpy arrays, computed once from sorted columns.

Every function here is the vectorized twin of a scipy reference and agrees with it to
floating-point precision (the tests hold them to 1e-9):

- :func:`ks_2samp` — ``scipy.stats.ks_2samp`` (two-sided, ``method="auto"``),
- :func:`wasserstein` — ``scipy.stats.wasserstein_distance``,
- :func:`js_distance` — ``scipy.spatial.distance.jensenshannon`` (natural log),
- :func:`chi_square` — ``scipy.stats.chi2_contingency(table, correction=False)``,
- :func:`chi_square_gof` — ``scipy.stats.chisquare(current, reference shares x n)``
  (Evidently's ``chisquare`` test),
- :func:`z_test` — the two-proportion Z-test of Evidently's ``z`` test,
- :func:`ks_pvalue` — the p-value ``scipy.stats.ks_2samp`` gives a statistic ``d`` at sizes
  ``n1, n2`` (what sketch mode needs, having the statistic but not the samples),
- :func:`psi` — the population stability index on reference-decile bins.

Values near the float limits (±1.8e308) are scaled before they are subtracted or squared, so
the Wasserstein distance and the PSI bins stay finite wherever scipy's do.

The speed comes from sorting each column once (:func:`sorted_pair`, done by polars in
parallel) and reading every metric off the sorted samples: the KS statistic from one binary
search and a count, the Wasserstein distance as the area between the two quantile functions (no merged
sort of the values), the PSI bins from reference quantiles read by index.

Examples
--------
>>> import numpy as np
>>> a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0])
>>> round(wasserstein(a, b), 6)
1.0
>>> round(ks_2samp(a, b).statistic, 6)
0.333333
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "KSResult",
    "SortedPair",
    "sorted_pair",
    "ks_2samp",
    "ks_pvalue",
    "ks_asymptotic_pvalue",
    "wasserstein",
    "psi",
    "psi_from_counts",
    "js_distance",
    "chi_square",
    "chi_square_gof",
    "z_test",
    "finite_scale",
    "PSI_EPSILON",
]

#: share that replaces an empty bin in :func:`psi` (Evidently's choice, avoids log(0)).
PSI_EPSILON = 1e-4
#: scipy's ``ks_2samp`` computes an exact p-value up to this many rows per side.
_KS_EXACT_MAX_N = 10_000


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov–Smirnov statistic and two-sided p-value."""

    statistic: float
    pvalue: float


@dataclass(frozen=True)
class SortedPair:
    """Two samples, each sorted ascending with nulls and NaNs removed.

    KS, Wasserstein and PSI all read off the sorted samples, so a column is sorted once
    (by polars, in parallel) and every metric reuses it.
    """

    a: np.ndarray
    b: np.ndarray


def _clean(x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).ravel()
    return arr[~np.isnan(arr)]


def sorted_pair(a, b, *, presorted: bool = False) -> SortedPair:
    """Clean and sort two samples once for :func:`ks_2samp`, :func:`wasserstein`, :func:`psi`.

    Parameters
    ----------
    a, b : array-like
        Numeric samples; NaNs are dropped.
    presorted : bool
        Skip sorting when both are already ascending (e.g. sorted by polars).

    Examples
    --------
    >>> sorted_pair([3.0, 1.0], [2.0, float("nan")]).a.tolist()
    [1.0, 3.0]
    """
    a = _clean(a)
    b = _clean(b)
    if not presorted:
        a = np.sort(a)
        b = np.sort(b)
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one non-null value")
    return SortedPair(a, b)


def _self_rank(x: np.ndarray) -> np.ndarray:
    """``searchsorted(x, x, "right")`` for sorted ``x``, without searching when all differ."""
    if x.size < 2 or np.all(x[1:] != x[:-1]):
        return np.arange(1, x.size + 1)
    return np.searchsorted(x, x, side="right")


def ks_pvalue(statistic: float, n1: int, n2: int) -> float:
    """Two-sided p-value of a KS statistic the way ``scipy.stats.ks_2samp`` picks it.

    Smirnov's asymptotic distribution ``kstwo.sf(d, round(n1 n2 / (n1 + n2)))`` when either
    side has more than 10,000 rows; otherwise the exact distribution of the statistic rounded
    to the lattice ``h / lcm(n1, n2)`` it lives on, as scipy computes it (through scipy's own
    exact routine, ``scipy.stats._stats_py._attempt_exact_2kssamp``; when it fails or the
    lattice is too large for it, scipy's asymptotic formula, as ``ks_2samp`` falls back).

    Examples
    --------
    >>> from scipy import stats
    >>> r = stats.ks_2samp([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0, 7.0])
    >>> bool(abs(ks_pvalue(r.statistic, 4, 5) - r.pvalue) < 1e-12)
    True
    """
    n1, n2 = int(n1), int(n2)
    if max(n1, n2) > _KS_EXACT_MAX_N:
        return ks_asymptotic_pvalue(statistic, n1, n2)
    from scipy.stats import _stats_py  # scipy's exact two-sample routine (no public twin)

    g = math.gcd(n1, n2)
    if n1 // g >= np.iinfo(np.int32).max / (n2 // g):
        return ks_asymptotic_pvalue(statistic, n1, n2)
    ok, d, prob = _stats_py._attempt_exact_2kssamp(n1, n2, g, float(statistic), "two-sided")
    if not ok:
        return ks_asymptotic_pvalue(d, n1, n2)
    return float(np.clip(prob, 0, 1))


def ks_asymptotic_pvalue(statistic: float, n1: int, n2: int) -> float:
    """Smirnov's asymptotic two-sided p-value ``kstwo.sf(d, round(n1 n2 / (n1 + n2)))``.

    What :func:`ks_pvalue` (and scipy) use when either side has more than 10,000 rows;
    sketch mode uses it at every size, having no samples for the exact path. Clipped to [0, 1].

    Examples
    --------
    >>> ks_asymptotic_pvalue(0.0, 50, 50)
    1.0
    """
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.distributions.kstwo.sf(statistic, np.round(en)), 0, 1))


def ks_2samp(a, b, *, pair: SortedPair | None = None) -> KSResult:
    """Two-sample KS test, equal to ``scipy.stats.ks_2samp(a, b)`` (two-sided, auto).

    Examples
    --------
    >>> r = ks_2samp([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    >>> r.statistic
    0.5
    """
    p = pair if pair is not None else sorted_pair(a, b)
    n1, n2 = p.a.size, p.b.size
    # scipy evaluates both CDFs (side="right") at every value of a, then of b
    a_le_b = np.searchsorted(p.a, p.b, side="right")          # #a <= b_j
    at_b = a_le_b / n1 - _self_rank(p.b) / n2
    # #b <= a_i without a second search: b_j <= a_i exactly when i >= #(a < b_j), so count
    # the b's by their left position in a (which differs from the right one only on ties)
    tied = (p.a[np.maximum(a_le_b - 1, 0)] == p.b) & (a_le_b > 0)
    a_lt_b = a_le_b
    if tied.any():
        a_lt_b = a_le_b.copy()
        where = np.flatnonzero(tied)
        a_lt_b[where] = np.searchsorted(p.a, p.b[where], side="left")
    b_le_a = np.cumsum(np.bincount(a_lt_b, minlength=n1 + 1)[:n1])
    at_a = _self_rank(p.a) / n1 - b_le_a / n2
    low, high = min(at_a.min(), at_b.min()), max(at_a.max(), at_b.max())
    d = float(max(np.clip(-low, 0, 1), high))
    if max(n1, n2) > _KS_EXACT_MAX_N:
        pvalue = ks_pvalue(d, n1, n2)
    else:  # small samples: scipy's exact path is cheap and is the reference
        with warnings.catch_warnings():  # scipy may fall back to asymp: same as its default
            warnings.simplefilter("ignore", RuntimeWarning)
            pvalue = float(stats.ks_2samp(p.a, p.b).pvalue)
    return KSResult(d, pvalue)


#: values whose magnitude exceeds this are scaled down before they are subtracted or squared.
_LARGE = 1e300


def finite_scale(*arrays, limit: float = _LARGE) -> float:
    """A power of two that brings every value of ``arrays`` below ``limit`` (1e300) in magnitude.

    1 for ordinary data; for values near the float limits (±1.8e308), the scale by which
    dividing keeps differences and squares finite (dividing by a power of two is exact).

    Examples
    --------
    >>> finite_scale(np.array([1.0, -2.0]))
    1.0
    >>> finite_scale(np.array([1.7e308])) > 1
    True
    """
    top = max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)
    if top <= limit:
        return 1.0
    return float(2.0 ** math.ceil(math.log2(top / limit)))


def wasserstein(a, b, *, pair: SortedPair | None = None) -> float:
    """Wasserstein-1 distance, equal to ``scipy.stats.wasserstein_distance(a, b)``.

    The final sum is :func:`math.fsum` (correctly rounded), so the value does not depend on
    the machine's BLAS or SIMD summation order: a rerun elsewhere prints the same digits
    (scipy's own sum may differ from it in the last few ulps).
    Values near the float limits are scaled by :func:`finite_scale` first, so the distance
    is finite whenever scipy's is (a sum of differences of ±1.7e308 would overflow).

    Examples
    --------
    >>> wasserstein([0.0, 1.0], [0.0, 1.0])
    0.0
    >>> float(f"{wasserstein([1.7e308, 1.79e308], [1.75e308, 1.75e308]):.3g}")
    4.5e+306
    """
    p = pair if pair is not None else sorted_pair(a, b)
    scale = finite_scale(p.a, p.b)
    if scale != 1.0:
        return float(_wasserstein_sorted(p.a / scale, p.b / scale) * scale)
    return _wasserstein_sorted(p.a, p.b)


def _wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    n, m = a.size, b.size
    if n == m:  # equal sizes: the quantile functions step together
        return math.fsum(np.abs(a - b)) / n
    # W1 = integral over p in (0, 1] of |Qa(p) - Qb(p)|: both quantile functions are steps
    # at i/n and j/m, so on the merged grid (in units of 1/(n m)) they are constant pieces
    grid = np.concatenate([np.arange(1, n + 1, dtype=np.int64) * m,
                           np.arange(1, m + 1, dtype=np.int64) * n])
    grid.sort(kind="stable")                      # two ascending runs: a linear merge
    keep = np.empty(grid.size, dtype=bool)
    keep[0] = True
    np.not_equal(grid[1:], grid[:-1], out=keep[1:])
    grid = grid[keep]
    widths = np.diff(grid, prepend=0) / (float(n) * float(m))
    qa = a[(grid + (m - 1)) // m - 1]
    qb = b[(grid + (n - 1)) // n - 1]
    return math.fsum(widths * np.abs(qa - qb))


def psi_from_counts(ref_counts, cur_counts, *, epsilon: float = PSI_EPSILON) -> float:
    """PSI from per-bin counts: ``sum((c - r) * ln(c / r))`` over bin shares.

    Empty bins take the share ``epsilon`` so the logarithm stays finite.

    Examples
    --------
    >>> round(psi_from_counts([50, 50], [40, 60]), 6)
    0.040547
    """
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    r = r / r.sum()
    c = c / c.sum()
    r = np.where(r == 0, epsilon, r)
    c = np.where(c == 0, epsilon, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _sorted_quantile(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(x, q)`` (linear interpolation) for an ascending ``x``, by indexing."""
    pos = q * (x.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, x.size - 1)
    frac = pos - lo
    # (1 - f) a + f b rather than a + f (b - a): b - a overflows for values near ±1.8e308
    return np.where(x[lo] == x[hi], x[lo], (1 - frac) * x[lo] + frac * x[hi])


def psi(reference, current, *, bins: int = 10, pair: SortedPair | None = None,
        epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are the reference's quantiles (``bins`` equal-frequency bins, duplicate edges
    merged), open at both ends so every current value falls in one; a value equal to an
    edge goes to the bin on its right.

    Examples
    --------
    >>> ref = np.arange(100.0)
    >>> psi(ref, ref)
    0.0
    """
    p = pair if pair is not None else sorted_pair(reference, current)
    return psi_from_counts(*decile_counts(p.a, p.b, bins=bins), epsilon=epsilon)


def decile_counts(ref: np.ndarray, cur: np.ndarray, *, bins: int = 10
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Counts of two ascending samples in the reference's ``bins`` equal-frequency bins.

    The bins of :func:`psi`: edges at the reference quantiles (duplicates merged), open at
    both ends; a value equal to an edge goes to the bin on its right.
    """
    edges = np.unique(_sorted_quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.diff(np.concatenate([[0], np.searchsorted(ref, edges, "left"), [ref.size]]))
    cur_counts = np.diff(np.concatenate([[0], np.searchsorted(cur, edges, "left"), [cur.size]]))
    return ref_counts, cur_counts


def decile_counts_weighted(values: np.ndarray, ref_counts, cur_counts, *, bins: int = 10
                           ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decile_counts` of two samples given as counts over ascending ``values``.

    The same bins as from the samples themselves (the reference quantiles read off the
    counts), so sketch mode's exact value counts give the exact PSI.
    """
    ref = np.asarray(ref_counts, dtype=np.int64)
    cur = np.asarray(cur_counts, dtype=np.int64)
    ends = np.cumsum(ref)
    pos = np.linspace(0, 1, bins + 1)[1:-1] * (ends[-1] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, ends[-1] - 1)
    at = lambda i: values[np.searchsorted(ends, i, side="right")]  # noqa: E731  x[i]
    frac = pos - lo
    edges = np.unique(np.where(at(lo) == at(hi), at(lo), (1 - frac) * at(lo) + frac * at(hi)))
    below = lambda c: np.concatenate([[0], np.cumsum(c)])[np.searchsorted(values, edges, "left")]  # noqa: E731
    return (np.diff(np.concatenate([[0], below(ref), [ref.sum()]])),
            np.diff(np.concatenate([[0], below(cur), [cur.sum()]])))


def js_distance(p, q) -> float:
    """Jensen–Shannon distance (natural log), equal to ``scipy.spatial.distance.jensenshannon``.

    ``p`` and ``q`` are counts or shares over the same categories, in the same order.

    Examples
    --------
    >>> js_distance([1, 0], [1, 0])
    0.0
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    js = (left.sum() + right.sum()) / 2.0
    return float(np.sqrt(max(js, 0.0)))


def chi_square(ref_counts, cur_counts) -> tuple[float, float]:
    """Chi-square test of homogeneity on a 2 x k table of category counts.

    Equal to ``scipy.stats.chi2_contingency([ref, cur], correction=False)`` after dropping
    categories absent from both sides. Returns ``(statistic, pvalue)``; with a single
    category the two sides cannot differ and the result is ``(0.0, 1.0)``.

    Examples
    --------
    >>> chi_square([10, 10], [10, 10])
    (0.0, 1.0)
    """
    table = np.vstack([np.asarray(ref_counts, float), np.asarray(cur_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, float(stats.chi2.sf(stat, dof))


def chi_square_gof(ref_counts, cur_counts) -> tuple[float, float]:
    """Chi-square goodness of fit of the current counts to the reference proportions.

    Evidently's ``chisquare`` drift test: over the categories seen on either side, the
    expected counts are the reference counts scaled to the current size
    (``ref x n_cur / n_ref``), and the result equals ``scipy.stats.chisquare(cur, expected)``.
    A category present only in the current data has an expected count of 0: the statistic
    is infinite and the p-value 0 (drift), as in scipy and Evidently. Returns
    ``(statistic, pvalue)``.

    Examples
    --------
    >>> chi_square_gof([10, 10], [10, 10])
    (0.0, 1.0)
    >>> chi_square_gof([10, 0], [9, 1])[1]
    0.0
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    seen = (ref + cur) > 0
    ref, cur = ref[seen], cur[seen]
    if ref.size < 2:
        return 0.0, 1.0
    expected = ref * (cur.sum() / ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (cur - expected) ** 2 / expected, np.inf)
    stat = float(terms.sum())
    return stat, float(stats.chi2.sf(stat, ref.size - 1))


def z_test(ref_counts, cur_counts) -> tuple[float, float]:
    """Two-proportion Z-test on a column with at most two values (Evidently's ``z`` test).

    ``ref_counts`` and ``cur_counts`` count the same two (or one) values in the same order;
    the proportion of the first value on each side is compared with the pooled standard
    error, ``p = 2 (1 - Φ(|z|))``. One value on both sides: ``(0.0, 1.0)``. Returns
    ``(z, pvalue)``. The p-value is ``2 Φ(-|z|)``, which equals Evidently's
    ``2 (1 - Φ(|z|))`` except that it keeps p-values below 1e-16 instead of rounding them to 0.

    Examples
    --------
    >>> z_test([50, 50], [50, 50])
    (0.0, 1.0)
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    seen = (ref + cur) > 0
    ref, cur = ref[seen], cur[seen]
    if ref.size > 2:
        raise ValueError("the Z-test compares at most two values")
    if ref.size < 2:
        return 0.0, 1.0
    n1, n2 = ref.sum(), cur.sum()
    p1, p2 = ref[0] / n1, cur[0] / n2
    pooled = (ref[0] + cur[0]) / (n1 + n2)
    z = float((p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))
    return z, float(2 * stats.norm.sf(abs(z)))
