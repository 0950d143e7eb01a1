"""The four exact similarity layers: schema, keys, values, distributions.

Each function takes two polars frames (the left one is the *reference*) and returns a
:class:`~meshkit._consistency.report.LayerResult`: a score in [0, 1] and the evidence behind it
as a small polars frame.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass

import numpy as np
import polars as pl

from meshkit._consistency import metrics
from meshkit._consistency._frames import CATEGORICAL, NUMERIC, column_kind
from meshkit._consistency.report import LayerResult
from meshkit._errors import ConsistencyError

__all__ = [
    "ColumnPair",
    "DRIFT_RULES",
    "match_columns",
    "schema_layer",
    "key_layer",
    "value_layer",
    "distribution_layer",
    "drift_rule",
    "DRIFT_TESTS",
    "DriftTest",
    "key_scale",
]

#: Evidently's default drift rules (its registry of default tests, ``DataDriftPreset``,
#: Evidently 0.7.23: ``evidently.legacy.calculations.stattests.registry._get_default_stattest``).
DRIFT_RULES = {
    "small_sample_rows": 1000,     # reference rows (non-null, finite) at or below this: p-value tests
    "p_value": 0.05,               # KS drifts if p <= 0.05; chi-square and Z if p < 0.05
    "wasserstein_normed": 0.1,     # above 1,000 rows, numeric: drift if W / std(ref) >= 0.1
    "jensen_shannon": 0.1,         # above 1,000 rows, categorical or few values: JS >= 0.1
    "max_distinct_counted": 5,     # numeric columns with at most 5 distinct values (both sides
                                   # together) are tested on their value counts
    "max_distinct_binary": 2,      # at most 2 distinct values, small reference: the Z-test
    "drift_share": 0.5,            # the dataset drifts when at least half its columns do
}
#: Evidently divides the Wasserstein distance by ``max(std(reference), 0.001)``, so a constant
#: reference column gives a finite normalized distance.
WASSERSTEIN_MIN_STD = 0.001


@dataclass(frozen=True)
class DriftTest:
    """A drift test by name: the figure it decides on and its default threshold.

    ``figure`` is the evidence column compared with ``threshold``; a p-value test drifts
    below the threshold (``at_threshold`` says whether equality drifts, as Evidently's KS
    does and its chi-square and Z-tests do not), a distance test at or above it.
    """

    name: str
    evidently: str
    figure: str
    threshold: float
    p_value: bool
    at_threshold: bool = True

    def drifts(self, value: float, threshold: float | None = None) -> bool:
        """The verdict for one figure (NaN never drifts, as in Evidently)."""
        t = self.threshold if threshold is None else threshold
        if self.p_value:
            return bool(value <= t) if self.at_threshold else bool(value < t)
        return bool(value >= t)


#: every test meshkit runs, by name; the defaults pick among them (:func:`drift_rule`), the
#: others are there by name (``drift_tests={"x": "psi"}``). ``evidently`` is the name of the
#: same test in Evidently's registry.
DRIFT_TESTS = {t.name: t for t in (
    DriftTest("ks", "ks", "ks_pvalue", 0.05, True, True),
    DriftTest("chi_square", "chisquare", "chi_square_pvalue", 0.05, True, False),
    DriftTest("z", "z", "z_pvalue", 0.05, True, False),
    DriftTest("wasserstein", "wasserstein", "wasserstein_normed", 0.1, False),
    DriftTest("jensen_shannon", "jensenshannon", "jensen_shannon", 0.1, False),
    DriftTest("psi", "psi", "psi", 0.1, False),
)}

#: categorical columns with more distinct values than this (near-unique text such as e-mails
#: or names) are left out of the distributions layer; the values layer still compares them.
MAX_CATEGORIES = 1000
#: a fuzzy name match needs at least this difflib ratio between normalized names.
FUZZY_CUTOFF = 0.8
#: a fuzzy (renamed) pair counts this much of an exact pair in the schema score.
FUZZY_CREDIT = 0.9
#: same kind (both numeric / both categorical) but a different dtype counts this much.
WIDENED_CREDIT = 0.5


@dataclass(frozen=True)
class ColumnPair:
    """Two corresponding columns: ``left`` in the reference, ``right`` in the other product."""

    left: str
    right: str
    left_type: str
    right_type: str
    kind: str            # "numeric", "categorical" or "other"
    match: str           # "exact" or "fuzzy"
    compatible: bool     # both the same kind (values and distributions can be compared)

    @property
    def credit(self) -> float:
        """This pair's share of one full point in the schema score."""
        if not self.compatible:
            return 0.0
        base = 1.0 if self.left_type == self.right_type else WIDENED_CREDIT
        return base * (FUZZY_CREDIT if self.match == "fuzzy" else 1.0)


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def match_columns(left: dict[str, pl.DataType], right: dict[str, pl.DataType]
                  ) -> tuple[list[ColumnPair], list[str], list[str]]:
    """Pair the columns of two schemas: exact names first, then fuzzy ones.

    Fuzzy: the names are equal once lower-cased with punctuation removed, or their
    ``difflib`` ratio is at least ``FUZZY_CUTOFF``; the best-scoring pairs are taken first.

    Returns ``(pairs, only_left, only_right)``.

    Examples
    --------
    >>> pairs, l, r = match_columns({"id": pl.Int64, "E-mail": pl.Utf8}, {"id": pl.Int64, "email": pl.Utf8})
    >>> [(p.left, p.right, p.match) for p in pairs]
    [('id', 'id', 'exact'), ('E-mail', 'email', 'fuzzy')]
    """
    pairs = []
    rest_l = [c for c in left if c not in right]
    rest_r = [c for c in right if c not in left]
    for c in left:
        if c in right:
            pairs.append(_pair(c, c, left[c], right[c], "exact"))
    candidates = []
    for a in rest_l:
        for b in rest_r:
            na, nb = _norm(a), _norm(b)
            ratio = 1.0 if na == nb else difflib.SequenceMatcher(None, na, nb).ratio()
            if ratio >= FUZZY_CUTOFF:
                candidates.append((-ratio, a, b))
    used_l, used_r = set(), set()
    for _, a, b in sorted(candidates):
        if a not in used_l and b not in used_r:
            pairs.append(_pair(a, b, left[a], right[b], "fuzzy"))
            used_l.add(a)
            used_r.add(b)
    only_l = [c for c in rest_l if c not in used_l]
    only_r = [c for c in rest_r if c not in used_r]
    return pairs, only_l, only_r


def _pair(a, b, ta, tb, match) -> ColumnPair:
    ka, kb = column_kind(ta), column_kind(tb)
    return ColumnPair(a, b, str(ta), str(tb), ka if ka == kb else "mixed", match,
                      ka == kb and ka != "other")


def schema_layer(pairs: list[ColumnPair], only_left: list[str], only_right: list[str]) -> LayerResult:
    """Score = credit of the corresponding columns / (pairs + columns missing on either side).

    A pair with the same type earns 1, the same kind but another type (``Int32`` vs
    ``Float64``, ``String`` vs ``Categorical``) ``0.5``, incompatible types 0; a fuzzy (renamed)
    pair earns 0.9 of that.
    """
    rows = [{"left": p.left, "right": p.right, "match": p.match, "left_type": p.left_type,
             "right_type": p.right_type, "compatible": p.compatible, "credit": p.credit}
            for p in pairs]
    rows += [{"left": c, "right": None, "match": "missing on right", "left_type": None,
              "right_type": None, "compatible": False, "credit": 0.0} for c in only_left]
    rows += [{"left": None, "right": c, "match": "missing on left", "left_type": None,
              "right_type": None, "compatible": False, "credit": 0.0} for c in only_right]
    evidence = pl.DataFrame(rows, schema={"left": pl.Utf8, "right": pl.Utf8, "match": pl.Utf8,
                                          "left_type": pl.Utf8, "right_type": pl.Utf8,
                                          "compatible": pl.Boolean, "credit": pl.Float64})
    total = len(rows)
    score = sum(p.credit for p in pairs) / total if total else 0.0
    notes = []
    if only_left:
        notes.append(f"missing in the other product: {', '.join(only_left)}")
    if only_right:
        notes.append(f"missing in the reference: {', '.join(only_right)}")
    fuzzy = [f"{p.left}~{p.right}" for p in pairs if p.match == "fuzzy"]
    if fuzzy:
        notes.append(f"renamed (fuzzy match): {', '.join(fuzzy)}")
    bad = [f"{p.left} ({p.left_type} vs {p.right_type})" for p in pairs if not p.compatible]
    if bad:
        notes.append(f"incompatible types: {', '.join(bad)}")
    wide = [f"{p.left} ({p.left_type} vs {p.right_type})" for p in pairs
            if p.compatible and p.left_type != p.right_type]
    if wide:
        notes.append(f"type changed within its kind: {', '.join(wide)}")
    return LayerResult("schema", float(score), evidence, notes)


def matched_rows(left: pl.DataFrame, right: pl.DataFrame, keys: list[str]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(li, ri)`` of the keys present on both sides (keys are unique).

    A single numeric key is matched by binary search over the sorted keys (a merge join,
    skipping the sort when the column is already sorted); other keys use a polars join.
    """
    if len(keys) == 1 and left.schema[keys[0]].is_numeric() \
            and left.schema[keys[0]] == right.schema[keys[0]]:
        def sorted_keys(frame):
            col = frame.get_column(keys[0])
            if col.is_sorted():
                return col.to_numpy(), None
            order = col.arg_sort().to_numpy()
            return col.to_numpy()[order], order

        lk, lorder = sorted_keys(left)
        rk, rorder = sorted_keys(right)
        pos = np.minimum(np.searchsorted(rk, lk), rk.size - 1)
        match = rk[pos] == lk
        li = np.flatnonzero(match)
        ri = pos[match]
        if lorder is not None:
            li = lorder[li]
        if rorder is not None:
            ri = rorder[ri]
        return li, ri
    # keys of two types (checked to be of one kind) meet on a shared scale: numbers and times
    # as Float64 (dates as microseconds, as in the values layer), text and booleans as text;
    # casting one side to the other's type would truncate 1.5 to 1, or fail on "a" -> Boolean
    def on_scale(frame, other):
        return frame.select([
            pl.col(k) if frame.schema[k] == other.schema[k]
            else key_scale(pl.col(k), frame.schema[k]).alias(k)
            for k in keys])

    joined = on_scale(left, right).with_row_index("__li").join(
        on_scale(right, left).with_row_index("__ri"), on=keys, how="inner")
    return joined["__li"].to_numpy().astype(np.int64), joined["__ri"].to_numpy().astype(np.int64)


def key_layer(left: pl.DataFrame, right: pl.DataFrame, keys: list[str]) -> LayerResult:
    """Jaccard and containment (both ways) of the entity keys; the score is the Jaccard.

    Keys are checked to be present, unique and non-null before this layer runs.
    """
    lk = left.select(keys)
    rk = right.select(keys)
    _check_key_types(lk, rk, keys)
    n_l, n_r = lk.height, rk.height
    shared = int(matched_rows(lk, rk, keys)[0].size)
    union = n_l + n_r - shared
    jaccard = shared / union if union else 0.0
    evidence = pl.DataFrame({
        "measure": ["left keys", "right keys", "shared keys", "jaccard",
                    "left in right", "right in left"],
        "value": [float(n_l), float(n_r), float(shared), jaccard,
                  shared / n_l if n_l else 0.0, shared / n_r if n_r else 0.0],
    })
    notes = []
    if shared < n_l:
        notes.append(f"{n_l - shared} reference key(s) missing from the other product")
    if shared < n_r:
        notes.append(f"{n_r - shared} key(s) of the other product missing from the reference")
    return LayerResult("keys", float(jaccard), evidence, notes)


def _check_key_types(lk: pl.DataFrame, rk: pl.DataFrame, keys: list[str]) -> None:
    for k in keys:
        a, b = lk.schema[k], rk.schema[k]
        if a != b and column_kind(a) != column_kind(b):
            raise ConsistencyError("entity key types differ", where=f"keys.{k}",
                                   expected=f"comparable types (left is {a})", found=str(b))


def value_layer(left: pl.DataFrame, right: pl.DataFrame, keys: list[str],
                pairs: list[ColumnPair], *, rtol: float = 1e-9, atol: float = 1e-9) -> LayerResult:
    """Share of agreeing values on shared keys, per corresponding column.

    Strings, categories and booleans must be equal; numbers agree when
    ``|a - b| <= atol + rtol * |a|``; two nulls (or two NaNs) agree, infinities only when
    equal. The score is the mean share over the
    compared columns (0 when no key is shared); the worst columns are named in the notes.
    """
    pairs = [p for p in pairs if p.compatible and p.left not in keys]
    if not pairs:
        return LayerResult("values", 0.0, _empty_values(), ["no comparable columns besides the keys"])
    li, ri = matched_rows(left, right, keys)
    if li.size == 0:
        return LayerResult("values", 0.0, _empty_values(pairs),
                           ["no shared keys: values cannot be compared"])
    lsel = left.select([pl.col(p.left).alias(f"l{i}") for i, p in enumerate(pairs)])
    rsel = right.select([pl.col(p.right).alias(f"r{i}") for i, p in enumerate(pairs)])
    lsel, rsel = _take(lsel, li), _take(rsel, ri)
    joined = pl.concat([lsel, rsel], how="horizontal")
    exprs = []
    for i, p in enumerate(pairs):
        a, b = pl.col(f"l{i}"), pl.col(f"r{i}")
        if p.kind == NUMERIC:
            a, b = as_number(a, lsel.schema[f"l{i}"], rsel.schema[f"r{i}"]), \
                as_number(b, rsel.schema[f"r{i}"], lsel.schema[f"l{i}"])
            # infinities agree only when equal: the tolerance (inf - inf is NaN, and
            # rtol * inf is inf) would say the opposite
            agree = (a == b) | (a.is_finite() & ((a - b).abs() <= atol + rtol * a.abs())) \
                | (a.is_null() & b.is_null()) | (a.is_nan() & b.is_nan())
        else:
            agree = a.cast(pl.Utf8).eq_missing(b.cast(pl.Utf8))
        exprs.append(agree.fill_null(False).mean().alias(str(i)))
    shares = joined.select(exprs).row(0)
    evidence = pl.DataFrame({
        "column": [p.left for p in pairs],
        "kind": [p.kind for p in pairs],
        "agreement": [float(s) for s in shares],
        "disagreeing_rows": [int(round((1 - s) * joined.height)) for s in shares],
    }).sort(["agreement", "column"])
    score = float(np.mean(shares))
    worst = evidence.filter(pl.col("agreement") < 1).head(3)
    notes = [f"{joined.height} shared keys compared on {len(pairs)} column(s)"]
    if worst.height:
        notes.append("worst columns: " + ", ".join(
            f"{c} ({a:.1%} agree)" for c, a in worst.select("column", "agreement").iter_rows()))
    return LayerResult("values", score, evidence, notes,
                       details={"shared_keys": joined.height, "rtol": rtol, "atol": atol})


def as_number(expr: pl.Expr, dtype: pl.DataType, other: pl.DataType) -> pl.Expr:
    """A numeric or temporal column as Float64 on a scale shared with ``other``.

    Dates and datetimes are read as microseconds since the epoch (as in the sketches), so a
    ``Date`` and a ``Datetime`` compare value by value.
    """
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        expr = expr.cast(pl.Datetime("us"))
    return expr.to_physical().cast(pl.Float64)


def key_scale(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """An entity key column on the scale shared by every key type.

    Numbers and times become Float64 (dates and datetimes as microseconds since the epoch,
    via :func:`as_number`), text, categories and booleans become text. Exact mode
    (:func:`matched_rows`) meets keys of two types here; sketch mode hashes every key on this
    scale, so both modes agree on which keys match (``1`` and ``1.0``, a ``Date`` and the
    ``Datetime`` at its midnight).

    Examples
    --------
    >>> pl.select(key_scale(pl.lit(3, pl.Int32), pl.Int32)).item()
    3.0
    >>> pl.select(key_scale(pl.lit(True), pl.Boolean)).item()
    'true'
    """
    if column_kind(dtype) == NUMERIC:
        return as_number(expr, dtype, dtype)
    return expr.cast(pl.Utf8)


def _take(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
    """``frame[rows]``; a zero-copy slice when the rows are one ascending run."""
    if rows.size and int(rows[-1]) - int(rows[0]) + 1 == rows.size and np.all(np.diff(rows) == 1):
        return frame.slice(int(rows[0]), rows.size)
    return frame[rows]


def _empty_values(pairs=()) -> pl.DataFrame:
    return pl.DataFrame({"column": [p.left for p in pairs], "kind": [p.kind for p in pairs],
                         "agreement": [0.0] * len(pairs), "disagreeing_rows": [0] * len(pairs)},
                        schema={"column": pl.Utf8, "kind": pl.Utf8, "agreement": pl.Float64,
                                "disagreeing_rows": pl.Int64})


def drift_rule(kind: str, n_reference: int, n_distinct: int | None = None) -> str:
    """The Evidently default test for a column (Evidently 0.7.23's registry of defaults).

    ``n_reference`` is the reference's non-null (finite) rows, ``n_distinct`` the distinct
    values of both sides together (None: many). With at most 1,000 reference rows: numeric
    columns use KS, or the chi-square test when they hold at most 5 distinct values;
    categorical ones the chi-square test; and either uses the Z-test when at most 2 values
    occur. Above 1,000 rows: numeric columns use the normalized Wasserstein distance, or
    Jensen–Shannon when they hold at most 5 distinct values; categorical ones Jensen–Shannon.

    Examples
    --------
    >>> drift_rule("numeric", 500), drift_rule("numeric", 5000)
    ('ks', 'wasserstein')
    >>> drift_rule("numeric", 500, 4), drift_rule("numeric", 5000, 4), drift_rule("categorical", 50, 2)
    ('chi_square', 'jensen_shannon', 'z')
    """
    small = n_reference <= DRIFT_RULES["small_sample_rows"]
    many = n_distinct is None or n_distinct > DRIFT_RULES["max_distinct_counted"]
    if kind == NUMERIC and many:
        return "ks" if small else "wasserstein"
    if not small:
        return "jensen_shannon"
    if n_distinct is not None and n_distinct <= DRIFT_RULES["max_distinct_binary"]:
        return "z"
    return "chi_square"


def pick_test(column: str, kind: str, n_reference: int, n_distinct: int | None,
             drift_tests=None) -> DriftTest:
    """The test a column gets: the one named in ``drift_tests``, else Evidently's default.

    ``drift_tests`` is a test name for every column, or ``{column: name}`` (a column not
    named gets the default).
    """
    name = drift_tests.get(column) if isinstance(drift_tests, dict) else drift_tests
    if name is None:
        return DRIFT_TESTS[drift_rule(kind, n_reference, n_distinct)]
    if name not in DRIFT_TESTS:
        raise ConsistencyError("unknown drift test", where=f"drift_tests[{column!r}]",
                               expected=f"one of {sorted(DRIFT_TESTS)}", found=repr(name))
    if name in ("ks", "wasserstein", "psi") and kind != NUMERIC:
        raise ConsistencyError("drift test needs a numeric column", where=f"drift_tests[{column!r}]",
                               expected="chi_square, z or jensen_shannon for a categorical column",
                               found=repr(name))
    if name == "z" and (n_distinct is None or n_distinct > DRIFT_RULES["max_distinct_binary"]):
        raise ConsistencyError("the Z-test compares at most two values",
                               where=f"drift_tests[{column!r}]",
                               expected="a column with at most 2 distinct values",
                               found=f"{'more than 5' if n_distinct is None else n_distinct} distinct values")
    return DRIFT_TESTS[name]


_DIST_SCHEMA = {"column": pl.Utf8, "kind": pl.Utf8, "test": pl.Utf8, "distinct": pl.Int64,
                "ks_statistic": pl.Float64,
                "ks_pvalue": pl.Float64, "wasserstein": pl.Float64,
                "wasserstein_normed": pl.Float64, "psi": pl.Float64,
                "jensen_shannon": pl.Float64, "chi_square": pl.Float64,
                "chi_square_pvalue": pl.Float64, "z_pvalue": pl.Float64,
                "threshold": pl.Float64, "verdict": pl.Utf8,
                "drift": pl.Boolean, "score": pl.Float64}


def _distinct_sorted(x: np.ndarray) -> np.ndarray:
    """The distinct values of an ascending array (a linear pass, no sort)."""
    if x.size < 2:
        return x
    keep = np.empty(x.size, dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def aligned_counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, counts in a, counts in b)`` over the values of two ascending arrays."""
    values = np.union1d(_distinct_sorted(a), _distinct_sorted(b))
    ca = np.diff(np.searchsorted(a, values, "left"), append=a.size)
    cb = np.diff(np.searchsorted(b, values, "left"), append=b.size)
    return values, ca, cb


def _union_distinct(a: np.ndarray, b: np.ndarray) -> int:
    ua, ub = _distinct_sorted(a), _distinct_sorted(b)
    if not ua.size or not ub.size:
        return int(ua.size + ub.size)
    at = np.minimum(np.searchsorted(ua, ub), ua.size - 1)
    return int(ua.size + ub.size - np.count_nonzero(ua[at] == ub))


def decide(row: dict, test: DriftTest, threshold: float | None = None,
           interval: tuple[float, float] | None = None) -> dict:
    """Fill a row's ``test``, ``threshold``, ``drift`` and ``verdict`` from its figure.

    ``interval`` is the range the figure is known to lie in (sketch mode): when the verdict
    differs at its two ends, the row says ``"undecidable"`` and ``drift`` is null.
    """
    t = test.threshold if threshold is None else float(threshold)
    value = row[test.figure]
    if interval is not None and test.drifts(interval[0], t) != test.drifts(interval[1], t):
        drift = None
    else:
        drift = test.drifts(value, t)
    verdict = "undecidable" if drift is None else ("drift" if drift else "no drift")
    return row | {"test": test.name, "threshold": t, "drift": drift, "verdict": verdict}


def count_figures(ref_counts: np.ndarray, cur_counts: np.ndarray) -> dict:
    """The figures read off aligned value counts: Jensen–Shannon, chi-square GOF, Z-test."""
    chi, chi_p = metrics.chi_square_gof(ref_counts, cur_counts)
    seen = int(np.count_nonzero((np.asarray(ref_counts) + np.asarray(cur_counts)) > 0))
    z_p = metrics.z_test(ref_counts, cur_counts)[1] \
        if seen <= DRIFT_RULES["max_distinct_binary"] else None
    return {"distinct": seen, "jensen_shannon": metrics.js_distance(ref_counts, cur_counts),
            "chi_square": chi, "chi_square_pvalue": chi_p, "z_pvalue": z_p}


def numeric_row(name: str, pair: metrics.SortedPair, ref_std: float, *, drift_tests=None,
                threshold: float | None = None) -> dict:
    """Distribution evidence for one numeric column from its sorted pair.

    Values near the float limits are scaled before the standard deviation and the
    Wasserstein distance (:func:`metrics.finite_scale`), so both stay finite where
    Evidently's ``np.std`` overflows; the normalized figure is capped at the largest float.
    """
    a, b = pair.a, pair.b
    n_distinct = _union_distinct(a, b)
    test = pick_test(name, NUMERIC, a.size, n_distinct, drift_tests)
    ks = metrics.ks_2samp(None, None, pair=pair)
    w = metrics.wasserstein(None, None, pair=pair)
    scale = metrics.finite_scale(a, limit=1e150)  # squares of the values stay finite
    if scale != 1.0 or not np.isfinite(ref_std):
        ref_std = float(np.std(a / scale)) * scale
    wn = min(w / max(ref_std, WASSERSTEIN_MIN_STD), sys.float_info.max)
    row = {"column": name, "kind": NUMERIC, "distinct": n_distinct,
           "ks_statistic": ks.statistic, "ks_pvalue": ks.pvalue, "wasserstein": w,
           "wasserstein_normed": wn, "psi": metrics.psi(None, None, pair=pair),
           "jensen_shannon": None, "chi_square": None, "chi_square_pvalue": None,
           "z_pvalue": None, "score": 1.0 - ks.statistic}
    if n_distinct <= DRIFT_RULES["max_distinct_counted"] or test.name in ("chi_square", "z"):
        _, ca, cb = aligned_counts(a, b)
        row |= count_figures(ca, cb) | {"distinct": n_distinct}
    elif test.name == "jensen_shannon":  # many values: the PSI's reference-decile bins
        ca, cb = metrics.decile_counts(a, b)
        row["jensen_shannon"] = metrics.js_distance(ca, cb)
    return decide(row, test, threshold)


def categorical_row(name: str, ref_counts: np.ndarray, cur_counts: np.ndarray, *,
                    drift_tests=None, threshold: float | None = None) -> dict:
    """Distribution evidence for one categorical column from aligned category counts."""
    figures = count_figures(ref_counts, cur_counts)
    test = pick_test(name, CATEGORICAL, int(np.sum(ref_counts)), figures["distinct"], drift_tests)
    row = {"column": name, "kind": CATEGORICAL, "ks_statistic": None, "ks_pvalue": None,
           "wasserstein": None, "wasserstein_normed": None, "psi": None} | figures \
        | {"score": 1.0 - figures["jensen_shannon"]}
    return decide(row, test, threshold)


def empty_row(name: str, kind: str, n_left: int, n_right: int) -> dict | None:
    """The row of a column with no non-null value on one side or both, else None.

    Both sides empty: the distributions agree (score 1, no drift). One side empty: they
    share nothing (score 0, drift). No test statistic is defined either way (Evidently
    refuses an empty column; meshkit reports it).
    """
    if n_left and n_right:
        return None
    row = dict.fromkeys(_DIST_SCHEMA)
    same = not n_left and not n_right
    return row | {"column": name, "kind": kind, "test": "no values" if same else "one side empty",
                  "drift": not same, "verdict": "no drift" if same else "drift",
                  "score": 1.0 if same else 0.0}


def distribution_frame(rows: list[dict]) -> pl.DataFrame:
    """The distribution layer's evidence table."""
    return pl.DataFrame(rows, schema=_DIST_SCHEMA)


def dataset_drift(evidence: pl.DataFrame, drift_share: float | None = None) -> dict:
    """Evidently's dataset-level verdict: the share of drifted columns against ``drift_share``.

    The dataset drifts when ``drifted / columns >= drift_share`` (0.5 by default, as in
    ``DataDriftPreset``). Undecidable columns (sketch mode) widen the share to an interval;
    when the verdict differs at its two ends, ``dataset_drift`` is None (undecidable).
    """
    share_t = DRIFT_RULES["drift_share"] if drift_share is None else float(drift_share)
    n = evidence.height
    drifted = int(evidence["drift"].fill_null(False).sum()) if n else 0
    unknown = int(evidence["drift"].is_null().sum()) if n else 0
    low = drifted / n if n else 0.0
    high = (drifted + unknown) / n if n else 0.0
    verdict = None if (low >= share_t) != (high >= share_t) else bool(low >= share_t)
    return {"columns": n, "drifted_columns": drifted, "undecidable_columns": unknown,
            "drift_share": low, "drift_share_upper": high, "drift_share_threshold": share_t,
            "dataset_drift": verdict}


def distribution_result(rows: list[dict], skipped=(), *, infinite: dict | None = None,
                        drift_share: float | None = None, **kw) -> LayerResult:
    """Turn per-column rows into the distributions layer (score = mean column score).

    ``infinite`` maps a numeric column to the ``(reference, other)`` counts of infinite
    values left out of its metrics; each such column gets a note, and the counts go to
    ``details["infinite_excluded"]``. The dataset-level drift (:func:`dataset_drift`) goes
    to ``details["dataset_drift"]`` and a note.
    """
    evidence = distribution_frame(rows)
    extra = [f"not compared (more than {MAX_CATEGORIES} categories): {', '.join(skipped)}"] \
        if skipped else []
    infinite = {c: n for c, n in (infinite or {}).items() if sum(n)}
    extra += [f"excluded {sum(n)} infinite value(s) from the distributions of {c}"
              for c, n in infinite.items()]
    kw["details"] = (kw.get("details") or {})
    if infinite:
        kw["details"] |= {"infinite_excluded": infinite}
    if not rows:
        return LayerResult("distributions", 0.0, evidence,
                           ["no comparable non-key columns"] + extra, **kw)
    data = dataset_drift(evidence, drift_share)
    kw["details"] |= {"dataset_drift": data}
    score = float(evidence["score"].mean())
    drifted = evidence.filter(pl.col("drift").fill_null(False))["column"].to_list()
    unknown = evidence.filter(pl.col("drift").is_null())["column"].to_list()
    notes = [f"drift in {len(drifted)} of {evidence.height} column(s)"
             + (f": {', '.join(drifted)}" if drifted else "")]
    if unknown:
        notes.append(f"undecidable from the sketches (error straddles the threshold): "
                     f"{', '.join(unknown)}")
    word = {True: "drift", False: "no drift", None: "undecidable"}[data["dataset_drift"]]
    share = f"{data['drift_share']:.0%}" if not unknown \
        else f"{data['drift_share']:.0%}–{data['drift_share_upper']:.0%}"
    notes.append(f"dataset drift share {share} (drifts at {data['drift_share_threshold']:.0%}): {word}")
    return LayerResult("distributions", score, evidence, notes + extra, **kw)


def distribution_layer(left: pl.DataFrame, right: pl.DataFrame, keys: list[str],
                       pairs: list[ColumnPair], *, drift_tests=None,
                       drift_share: float | None = None) -> LayerResult:
    """Per corresponding column, the reference being ``left``.

    Numeric: KS statistic and p-value, Wasserstein distance and the same divided by the
    reference standard deviation, PSI on reference deciles; with at most 5 distinct values
    also the value-count figures. Categorical: Jensen–Shannon distance (natural log), the
    chi-square goodness of fit of the current counts to the reference proportions, and the
    Z-test p-value for two values. A column drifts by Evidently's default tests
    (:func:`drift_rule`, :data:`DRIFT_RULES`, matched to Evidently 0.7.23): with at most
    1,000 reference rows, KS (p <= 0.05), chi-square (p < 0.05; numeric columns with at most
    5 distinct values too) or the Z-test (p < 0.05, at most 2 distinct values); above that,
    the normalized Wasserstein distance (numeric; divided by ``max(std, 0.001)`` as Evidently
    does, so a constant reference stays finite) or the Jensen–Shannon distance (categorical,
    and numeric with at most 5 distinct values), drifting at 0.1 or more. ``drift_tests``
    names another test for every column or per column (see :data:`DRIFT_TESTS`). The
    dataset drifts when at least ``drift_share`` (0.5) of the columns do
    (``details["dataset_drift"]``); ``details["rows"]`` and ``details["null_rates"]`` hold
    each side's row count and per-column null share.

    Deliberate differences from Evidently: a column empty on one side is reported as drift
    (Evidently raises); the PSI (by name) uses reference-decile bins, not Sturges bins of
    the pooled data (which no profile can give), and so does Jensen–Shannon by name on a
    numeric column with many values; values near the float limits are scaled so the
    Wasserstein figures stay finite; Z-test p-values below 1e-16 are kept, not rounded to 0.
    Numeric metrics use the finite values only: nulls and NaNs are dropped, and so are
    infinities (they would make the Wasserstein distance and the PSI NaN); each column that
    held some is named in the notes with how many were excluded ("excluded 3 infinite
    value(s) from the distributions of x"; per-side counts in ``details["infinite_excluded"]``),
    so the score stays a number in [0, 1]. The values layer still compares infinities.
    A column with no finite value on either side scores 1; on one side only, 0 (drift).
    Column score: ``1 - KS statistic`` (numeric) or ``1 - JS distance`` (categorical); the
    layer score is their mean. Categorical columns with more than :data:`MAX_CATEGORIES`
    distinct reference values (near-unique text) are left out and named in the notes.
    """
    rows, skipped = [], []
    compared = [p for p in pairs if p.compatible and p.left not in keys]
    numeric = [p for p in compared if p.kind == NUMERIC]
    # sort every numeric column of both sides in one parallel polars run
    # (finite values only: nulls, NaNs and infinities dropped, the infinities counted)
    queries = []
    for p in numeric:
        ta, tb = left.schema[p.left], right.schema[p.right]
        x, y = as_number(pl.col(p.left), ta, tb), as_number(pl.col(p.right), tb, ta)
        queries.append(left.lazy().select(x.filter(x.is_finite()).sort()))
        queries.append(right.lazy().select(y.filter(y.is_finite()).sort()))
    floats = [p for p in numeric
              if left.schema[p.left].is_float() or right.schema[p.right].is_float()]
    if floats:  # only float columns can hold infinities: count them, one query per side
        for frame, cols in ((left, [p.left for p in floats]), (right, [p.right for p in floats])):
            queries.append(frame.lazy().select(
                [pl.col(c).cast(pl.Float64).is_infinite().sum() for c in cols]))
    columns = pl.collect_all(queries) if queries else []
    sorted_columns = {p.left: (columns[2 * i].to_series(), columns[2 * i + 1].to_series())
                      for i, p in enumerate(numeric)}
    infinite = {}
    if floats:
        n_inf_l, n_inf_r = columns[-2].row(0), columns[-1].row(0)
        infinite = {p.left: (int(a), int(b)) for p, a, b in zip(floats, n_inf_l, n_inf_r)
                    if a or b}
    def numeric(name):
        a, b = sorted_columns[name]
        if a.len() == 0 or b.len() == 0:
            return empty_row(name, NUMERIC, a.len(), b.len())
        pair = metrics.sorted_pair(a.to_numpy(), b.to_numpy(), presorted=True)
        std = a.std(ddof=0)
        return numeric_row(name, pair, float(0.0 if std is None else std), drift_tests=drift_tests)

    numeric_rows = {name: numeric(name) for name in sorted_columns}
    for p in compared:
        if p.kind == NUMERIC:
            rows.append(numeric_rows[p.left])
        else:
            a, b = left.get_column(p.left), right.get_column(p.right)
            if a.n_unique() > MAX_CATEGORIES:
                skipped.append(p.left)
                continue
            ca = a.cast(pl.Utf8).drop_nulls().value_counts(name="n")
            cb = b.cast(pl.Utf8).drop_nulls().value_counts(name="n")
            name = ca.columns[0]
            cb = cb.rename({cb.columns[0]: name})
            both = ca.join(cb, on=name, how="full", coalesce=True, suffix="_r").fill_null(0) \
                .sort(name)
            n_l, n_r = int(both["n"].sum()), int(both["n_r"].sum())
            rows.append(empty_row(p.left, CATEGORICAL, n_l, n_r)
                        or categorical_row(p.left, both["n"].to_numpy(), both["n_r"].to_numpy(),
                                           drift_tests=drift_tests))
    return distribution_result(rows, skipped, infinite=infinite, drift_share=drift_share,
                               details={"rows": (left.height, right.height),
                                        "null_rates": null_rates(left, right, compared)})


def null_rates(left: pl.DataFrame, right: pl.DataFrame, pairs) -> dict:
    """``{column: (reference null share, other null share)}`` (NaN counts as null)."""
    def shares(frame, cols):
        if not cols or not frame.height:
            return [0.0] * len(cols)
        exprs = [(pl.col(c).is_null() | (pl.col(c).is_nan() if frame.schema[c].is_float()
                                         else pl.lit(False))).mean() for c in cols]
        return [float(v) for v in frame.select(exprs).row(0)]
    lv = shares(left, [p.left for p in pairs])
    rv = shares(right, [p.right for p in pairs])
    return {p.left: (a, b) for p, a, b in zip(pairs, lv, rv)}
