"""Federated consistency: compare two products from mergeable profiles, without moving data.

Each domain calls :func:`profile` on its own product (or :func:`profile_parquet` to stream a
large file) and shares only the :class:`Profile`:

- a KLL quantile sketch per numeric column (``datasketches.kll_doubles_sketch``, ``k=200``),
  plus the exact count, sum and sum of squares (for the standard deviation), all over the
  finite values: infinities are counted and left out, as the exact distributions layer does;
- a theta sketch of the entity keys (``datasketches.update_theta_sketch``, ``lg_k=14``),
  each key hashed on the scale exact mode matches keys on (:func:`layers.key_scale`);
- exact frequency counts per category for categorical columns with at most
  ``max_categories`` (1,000) distinct values; near-unique text columns (emails, names) are
  left out, since their counts would ship the values themselves;
- the schema (column names and types) and the row count.

Profiles merge (:meth:`Profile.merge`): a domain can profile its partitions separately.
:func:`similarity_from_profiles` gives the schema, keys and distributions layers; there is no
values layer (comparing values row by row needs the rows). Which figures are estimates, and
their error bounds, is stated in each layer's ``error_bounds``:

- KS statistic: the sup distance between the two sketches' CDFs; each KLL CDF is within the
  sketch's normalized rank error ``ε`` of the true one at every point at once (99%
  confidence; 0 while a sketch still holds every value), so the estimate is within
  ``ε₁ + ε₂`` of the exact statistic, and the p-value is scipy's for the statistic;
- Wasserstein distance: the area between the two sketch CDFs, so within
  ``(ε₁ + ε₂) x (value range)`` of the exact one (divided by the reference standard
  deviation for the normalized figure); a loose bound. KLL is randomized: two runs on the
  same data can differ within these bounds;
- a verdict that differs across its figure's interval is "undecidable" (``drift`` null), and
  the dataset drift share becomes an interval; sketch mode never guesses;
- numeric columns with at most 5 distinct values and categorical columns are exact (exact
  counts): Evidently's chi-square, Z-test and Jensen–Shannon rules give the exact verdicts;
- Jaccard / containment of keys: the theta sketch's lower and upper bounds (2 standard
  deviations, about 95%);
- row counts and null rates are exact;
- a :class:`~meshkit._consistency.sharing.SharingPolicy` (minimum counts, clipped extremes,
  differential privacy) adds its own error, stated in the report.

Examples
--------
>>> import polars as pl
>>> d = pl.DataFrame({"id": range(1000), "x": [float(i % 7) for i in range(1000)]})
>>> p = profile(d, keys="id")
>>> p.n_rows, sorted(p.numeric)
(1000, ['x'])
>>> similarity_from_profiles(p, p).score
1.0
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import datasketches as ds
import numpy as np
import polars as pl

from meshkit._consistency import layers as L
from meshkit._consistency import metrics
from meshkit._consistency._frames import CATEGORICAL, NUMERIC, as_frame, as_keys, check_keys, column_kind
from meshkit._consistency.report import LayerResult, SimilarityReport, normalize_layer_weights
from meshkit._consistency.sharing import OTHER, SharingPolicy, geometric_noise, limit_counts, noise_bound
from meshkit._display import Bullets, Displayable, Heading
from meshkit._errors import ConsistencyError, DataError

__all__ = ["Profile", "profile", "profile_batches", "profile_parquet", "similarity_from_profiles",
           "KLL_K", "THETA_LG_K"]

KLL_K = 200
THETA_LG_K = 14
_SEP = "\x1f"


@dataclass(repr=False)
class Profile(Displayable):
    """A product's mergeable profile: what a domain shares instead of its rows.

    Attributes
    ----------
    name : str
    keys : list of str
    schema : dict
        Column name -> polars dtype.
    n_rows : int
    numeric : dict
        Column -> ``kll_doubles_sketch``.
    moments : dict
        Column -> ``[count, sum, sum of squares]`` (exact, for the standard deviation), of
        the values divided by ``moment_scales[column]`` (1 unless the values exceed 1e150,
        so the squares of values near ±1.8e308 stay finite).
    categorical : dict
        Column -> polars frame ``value, n`` (exact counts).
    infinite : dict
        Numeric column -> how many infinite values were left out of its sketch and moments
        (as the exact distributions layer leaves them out); absent when none.
    few_values : dict
        Numeric column -> exact value counts (``{value: n}``) while the column holds at most
        ``DRIFT_RULES["max_distinct_counted"]`` (5) distinct values, else None: Evidently's
        rules test such columns on their value counts, so sketch mode does too, exactly.
    nulls : dict
        Column -> null count (NaN counts as null), for the null rates.
    policy_errors : dict
        What the domain's :class:`~meshkit._consistency.sharing.SharingPolicy` changed and the
        error it adds (empty without a policy).
    withheld : list
        Columns (and ``"keys"``) the policy withholds.
    clip_errors : dict
        Numeric column -> ``(share of values clipped, mean clipping distance)``.
    epsilon : float or None
        The differential privacy budget this profile spent (None: not noised).
    key_sketch : datasketches.update_theta_sketch or compact_theta_sketch
    """

    name: str
    keys: list[str]
    schema: dict
    n_rows: int = 0
    numeric: dict = field(default_factory=dict)
    moments: dict = field(default_factory=dict)
    categorical: dict = field(default_factory=dict)
    key_sketch: object = None
    k: int = KLL_K
    lg_k: int = THETA_LG_K
    skipped: dict = field(default_factory=dict)
    max_categories: int = L.MAX_CATEGORIES
    infinite: dict = field(default_factory=dict)
    few_values: dict = field(default_factory=dict)
    nulls: dict = field(default_factory=dict)
    moment_scales: dict = field(default_factory=dict)
    policy_errors: dict = field(default_factory=dict)
    withheld: list = field(default_factory=list)
    clip_errors: dict = field(default_factory=dict)
    epsilon: float | None = None

    @classmethod
    def empty(cls, name: str, keys: list[str], schema: dict, *, k: int = KLL_K,
              lg_k: int = THETA_LG_K) -> Profile:
        """A profile with no rows yet, ready for :meth:`update`."""
        kinds = {c: column_kind(t) for c, t in schema.items() if c not in keys}
        out = cls(name, list(keys), dict(schema), 0,
                  {c: ds.kll_doubles_sketch(k) for c, kd in kinds.items() if kd == NUMERIC},
                  {c: np.zeros(3) for c, kd in kinds.items() if kd == NUMERIC},
                  {c: pl.DataFrame(schema={"value": pl.Utf8, "n": pl.Int64})
                   for c, kd in kinds.items() if kd == CATEGORICAL},
                  ds.update_theta_sketch(lg_k), k, lg_k)
        out.few_values = {c: {} for c, kd in kinds.items() if kd == NUMERIC}
        out.nulls = dict.fromkeys(kinds, 0)
        return out

    def update(self, frame: pl.DataFrame, *, clip: dict | None = None) -> Profile:
        """Add a batch of rows (same schema) to the profile; returns ``self``.

        ``clip`` maps a numeric column to the ``(low, high)`` its values are clipped to before
        they are sketched (a sharing policy's quantile clipping).
        """
        if list(frame.columns) != list(self.schema):
            raise DataError("batch columns differ from the profile's", where=self.name,
                            expected=list(self.schema), found=frame.columns)
        self.n_rows += frame.height
        for c in self.nulls:
            x = frame.get_column(c)
            self.nulls[c] += x.null_count() + (int(x.is_nan().sum()) if x.dtype.is_float() else 0)
        for c, sk in self.numeric.items():
            x = frame.get_column(c)
            if x.dtype == pl.Date or isinstance(x.dtype, pl.Datetime):
                # one scale for every date and time type, so a Date and a Datetime compare
                x = x.cast(pl.Datetime("us"))
            x = x.to_physical().cast(pl.Float64).drop_nulls().drop_nans()
            if x.dtype.is_float() and (n_inf := int(x.is_infinite().sum())):
                self.infinite[c] = self.infinite.get(c, 0) + n_inf
                x = x.filter(x.is_finite())
            arr = np.require(x.to_numpy(), np.float64, ["C", "W"])
            if clip and c in clip and arr.size:
                lo, hi = clip[c]
                clipped = np.clip(arr, lo, hi)
                share, dist = self.clip_errors.get(c, (0.0, 0.0))
                n_before = self.moments[c][0]
                moved = np.abs(arr - clipped)
                total = n_before + arr.size
                self.clip_errors[c] = ((share * n_before + np.count_nonzero(moved)) / total,
                                       (dist * n_before + float(moved.sum())) / total)
                arr = clipped
                x = pl.Series(c, arr)
            if arr.size:
                sk.update(arr)
                scale = self._rescale(c, _moment_scale(arr))
                scaled = arr / scale if scale != 1.0 else arr
                self.moments[c] += [arr.size, scaled.sum(), np.dot(scaled, scaled)]
                if self.few_values[c] is not None:
                    cap = L.DRIFT_RULES["max_distinct_counted"]
                    self.few_values[c] = None if x.n_unique() > cap else \
                        _add_counts(self.few_values[c], x.value_counts().rows())
        for c in list(self.categorical):
            counts = frame.get_column(c).cast(pl.Utf8).drop_nulls().value_counts(name="n")
            counts = counts.rename({counts.columns[0]: "value"}).cast({"n": pl.Int64})
            self.categorical[c] = pl.concat([self.categorical[c], counts]) \
                .group_by("value").agg(pl.col("n").sum()).sort("value")
            if self.categorical[c].height > self.max_categories:
                # near-unique text (emails, names...): counts would ship the values themselves
                del self.categorical[c]
                self.skipped[c] = f"more than {self.max_categories} categories: not profiled"
        keys = _key_values(frame, self.keys)
        # datasketches' theta sketch takes one item per call: map() drives it from C
        deque(map(self.key_sketch.update, keys), maxlen=0)
        return self

    def merge(self, other: Profile) -> Profile:
        """A new profile covering both (e.g. two partitions of one product)."""
        if self.policy_errors or other.policy_errors:
            raise ConsistencyError("released profiles do not merge", where=self.name,
                                   expected="profiles merged before a sharing policy is applied",
                                   found="a profile built under a sharing policy")
        if other.schema != self.schema or other.keys != self.keys:
            raise ConsistencyError("profiles of different shapes cannot merge", where=self.name,
                                   expected=f"schema {list(self.schema)} keyed by {self.keys}",
                                   found=f"schema {list(other.schema)} keyed by {other.keys}")
        out = Profile.empty(self.name, self.keys, self.schema, k=self.k, lg_k=self.lg_k)
        out.n_rows = self.n_rows + other.n_rows
        for c in out.numeric:
            out.numeric[c].merge(self.numeric[c])
            out.numeric[c].merge(other.numeric[c])
            scale = out._rescale(c, max(self.moment_scales.get(c, 1.0),
                                        other.moment_scales.get(c, 1.0)))
            out.moments[c] = _scaled(self.moments[c], self.moment_scales.get(c, 1.0), scale) \
                + _scaled(other.moments[c], other.moment_scales.get(c, 1.0), scale)
            few, more = self.few_values.get(c), other.few_values.get(c)
            out.few_values[c] = None if few is None or more is None \
                else _add_counts(few, more.items())
        out.nulls = {c: self.nulls.get(c, 0) + other.nulls.get(c, 0) for c in out.nulls}
        out.skipped = self.skipped | other.skipped
        out.infinite = {c: self.infinite.get(c, 0) + other.infinite.get(c, 0)
                        for c in self.infinite.keys() | other.infinite.keys()}
        for c in [c for c in out.categorical if c not in out.skipped]:
            out.categorical[c] = pl.concat([self.categorical[c], other.categorical[c]]) \
                .group_by("value").agg(pl.col("n").sum()).sort("value")
        for c in out.skipped:
            out.categorical.pop(c, None)
        union = ds.theta_union(self.lg_k)
        union.update(self.key_sketch)
        union.update(other.key_sketch)
        out.key_sketch = union.get_result()
        return out

    @property
    def keys_sketch(self):
        """The compact theta sketch of the keys."""
        sk = self.key_sketch
        return sk.compact() if hasattr(sk, "compact") else sk

    def size_bytes(self) -> int:
        """Bytes a domain would send: serialized sketches plus the category counts."""
        size = sum(len(sk.serialize()) for sk in self.numeric.values())
        size += len(self.keys_sketch.serialize()) if self.key_sketch is not None else 0
        size += sum(f.estimated_size() for f in self.categorical.values())
        return int(size + 24 * len(self.moments))

    def _rescale(self, column: str, scale: float) -> float:
        """Raise a column's moment scale to at least ``scale``; returns the scale in force."""
        old = self.moment_scales.get(column, 1.0)
        if scale > old:
            self.moments[column] = _scaled(self.moments[column], old, scale)
            self.moment_scales[column] = scale
            return scale
        return old

    def std(self, column: str) -> float:
        n, s, ss = self.moments[column]
        scale = self.moment_scales.get(column, 1.0)
        return float(np.sqrt(max(ss / n - (s / n) ** 2, 0.0)) * scale) if n else 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary of what the profile holds (not the sketches themselves)."""
        return {"name": self.name, "keys": list(self.keys), "rows": self.n_rows,
                "numeric": sorted(self.numeric), "categorical": sorted(self.categorical),
                "distinct_keys": (None if self.key_sketch is None
                                  else round(float(self.key_sketch.get_estimate()))),
                "skipped": dict(self.skipped), "size_bytes": self.size_bytes()}

    def _render(self) -> list:
        keys = ("keys withheld" if self.key_sketch is None
                else f"~{self.key_sketch.get_estimate():.0f} distinct keys")
        head = (f"Profile({self.name}: {self.n_rows} rows, keys {self.keys}, "
                f"{len(self.numeric)} KLL sketch(es), {len(self.categorical)} category "
                f"count(s), {keys}, {self.size_bytes()} bytes)")
        return [Heading(head, level=4), Bullets(f"{c}: {why}" for c, why in self.skipped.items())]

    def __repr__(self) -> str:
        return str(self)


def _moment_scale(arr: np.ndarray) -> float:
    """A power of two bringing ``arr`` below 1e150 in magnitude (so its squares are finite)."""
    top = float(np.max(np.abs(arr)))
    return 1.0 if top <= 1e150 else float(2.0 ** np.ceil(np.log2(top / 1e150)))


def _scaled(moments: np.ndarray, old: float, new: float) -> np.ndarray:
    """``[count, sum, sum of squares]`` of values over ``old`` restated over ``new``."""
    r = old / new
    return np.array([moments[0], moments[1] * r, moments[2] * r * r])


def _add_counts(counts: dict, rows) -> dict | None:
    """Exact value counts while at most ``max_distinct_counted`` values occur, else None."""
    out = dict(counts)
    for value, n in rows:
        out[float(value)] = out.get(float(value), 0) + int(n)
    return out if len(out) <= L.DRIFT_RULES["max_distinct_counted"] else None


def _key_values(frame: pl.DataFrame, keys: list[str]) -> list:
    """The keys as hashed by the theta sketch, on the scale exact mode matches them on.

    Every key goes through :func:`layers.key_scale` (numbers and times as Float64, dates as
    microseconds; text and booleans as text), so ``1`` and ``1.0``, or a ``Date`` and the
    ``Datetime`` at its midnight, hash alike here as they join alike in exact mode.
    """
    scaled = [L.key_scale(pl.col(k), frame.schema[k]) for k in keys]
    if len(keys) == 1:
        return frame.select(scaled[0]).to_series().to_list()
    return frame.select(pl.concat_str([x.cast(pl.Utf8) for x in scaled],
                                      separator=_SEP)).to_series().to_list()


def profile(frame, keys, *, name: str = "product", k: int = KLL_K,
            lg_k: int = THETA_LG_K, policy: SharingPolicy | None = None) -> Profile:
    """Profile one product locally (its rows never leave the domain).

    Parameters
    ----------
    frame : polars.DataFrame or LazyFrame
    keys : str or list of str
        Entity keys (checked: present, non-null, unique).
    k, lg_k : int
        KLL accuracy parameter and theta sketch log2 of nominal entries.
    policy : SharingPolicy, optional
        What the released profile may reveal (see :mod:`meshkit._consistency.sharing`).
    """
    keys = as_keys(keys)
    frame = as_frame(frame, where=name)
    check_keys(frame, keys, where=name)
    clip = _clip_bounds(frame.lazy(), keys, policy)
    prof = Profile.empty(name, keys, dict(frame.schema), k=k, lg_k=lg_k).update(frame, clip=clip)
    return _release(prof, policy, clip)


def profile_batches(batches: Iterable[pl.DataFrame], keys, *, name: str = "product",
                    k: int = KLL_K, lg_k: int = THETA_LG_K,
                    policy: SharingPolicy | None = None, clip: dict | None = None) -> Profile:
    """Profile a product arriving in batches (keys are assumed unique across batches).

    A policy that clips needs the column quantiles first (``clip``, as
    :func:`profile_parquet` computes them in a first pass over the file).
    """
    keys = as_keys(keys)
    if policy is not None and policy.clip is not None and clip is None:
        raise ConsistencyError("quantile clipping needs the quantiles before the batches",
                               where=name, expected="profile() or profile_parquet(), or clip=",
                               found="a stream of batches")
    prof = None
    for batch in batches:
        if prof is None:
            prof = Profile.empty(name, keys, dict(batch.schema), k=k, lg_k=lg_k)
        prof.update(batch, clip=clip)
    if prof is None or prof.n_rows == 0:
        raise DataError("the product is empty", where=name, expected="at least one row",
                        found="0 rows")
    return _release(prof, policy, clip)


def profile_parquet(path, keys, *, name: str | None = None, batch_rows: int = 2_000_000,
                    k: int = KLL_K, lg_k: int = THETA_LG_K,
                    policy: SharingPolicy | None = None) -> Profile:
    """Stream a Parquet file through :func:`profile_batches` with polars' batched scan.

    A policy that clips reads the file twice: once for the clipping quantiles, then the batches.
    """
    clip = _clip_bounds(pl.scan_parquet(path), as_keys(keys), policy)
    batches = pl.scan_parquet(path).collect_batches(chunk_size=batch_rows)
    return profile_batches(batches, keys, name=name or str(path).rsplit("/", 1)[-1], k=k,
                           lg_k=lg_k, policy=policy, clip=clip)


def _clip_bounds(lazy: pl.LazyFrame, keys: list[str], policy: SharingPolicy | None) -> dict | None:
    """Per numeric column, the policy's clipping quantiles (on the sketches' scale)."""
    if policy is None or policy.clip is None:
        return None
    schema = lazy.collect_schema()
    cols = [c for c, t in schema.items() if c not in keys and column_kind(t) == NUMERIC]
    if not cols:
        return {}
    exprs = []
    for c in cols:
        x = L.as_number(pl.col(c), schema[c], schema[c])
        x = x.filter(x.is_finite())
        exprs += [x.quantile(policy.clip[0], "linear").alias(f"{c}\x00lo"),
                  x.quantile(policy.clip[1], "linear").alias(f"{c}\x00hi")]
    row = lazy.select(exprs).collect().row(0)
    return {c: (row[2 * i], row[2 * i + 1]) for i, c in enumerate(cols)
            if row[2 * i] is not None}


def _release(prof: Profile, policy: SharingPolicy | None, clip: dict | None) -> Profile:
    """Apply a sharing policy to a freshly built profile (noise, then minimum counts)."""
    if policy is None:
        return prof
    errors = {}
    if clip:
        lo, hi = policy.clip
        errors["clip"] = (f"numeric values clipped to their {lo:.0%}–{hi:.0%} quantiles (no exact "
                          f"min/max): KS error + the share clipped, Wasserstein + the mean "
                          f"clipping distance, std of the clipped values")
    if policy.epsilon is not None:
        counted = [c for c, few in prof.few_values.items() if few is not None]
        queries = 1 + len(prof.nulls) + len(prof.categorical) + len(counted)
        each = policy.epsilon / queries
        prof.n_rows = max(0, prof.n_rows + int(geometric_noise(1, each)[0]))
        noisy = geometric_noise(len(prof.nulls), each)
        prof.nulls = {c: max(0, n + int(e)) for (c, n), e in zip(prof.nulls.items(), noisy)}
        for c, counts in prof.categorical.items():
            prof.categorical[c] = counts.with_columns(
                (pl.col("n") + pl.Series(geometric_noise(counts.height, each))).clip(0))
        for c in counted:
            few = prof.few_values[c]
            noise = geometric_noise(len(few), each)
            prof.few_values[c] = {v: max(0, n + int(e)) for (v, n), e in zip(few.items(), noise)}
            values = np.array(list(prof.few_values[c]))
            weights = np.array(list(prof.few_values[c].values()), dtype=np.float64)
            prof.moments[c] = np.array([weights.sum(), weights @ values, weights @ values ** 2])
            prof.moment_scales[c] = 1.0
        withheld = [c for c in prof.numeric if c not in counted]
        for c in withheld:  # a KLL sketch and its moments cannot be noised count by count
            del prof.numeric[c]
            prof.moments.pop(c, None)
        prof.withheld = withheld + ["keys"]
        prof.key_sketch = None
        prof.epsilon = float(policy.epsilon)
        policy.spent.append(float(policy.epsilon))
        errors["dp"] = (f"ε = {policy.epsilon:g} over {queries} counting queries (ε = {each:.4g} "
                        f"each): every count ± {noise_bound(each)} (95%); withheld: "
                        f"{', '.join(prof.withheld)}")
    folded = dropped = 0
    for c in list(prof.categorical):
        prof.categorical[c], f, d = limit_counts(prof.categorical[c], policy)
        folded, dropped = folded + f, dropped + d
    for c, few in prof.few_values.items():
        if few is not None and any(n < policy.min_count for n in few.values()):
            dropped += sum(n for n in few.values() if n < policy.min_count)
            prof.few_values[c] = {v: n for v, n in few.items() if n >= policy.min_count} or None
            if prof.few_values[c] is None and c not in prof.numeric:
                prof.withheld.append(c)
    errors["min_count"] = (f"counts below {policy.min_count} "
                           f"{'folded into ' + repr(OTHER) if policy.small == 'fold' else 'suppressed'}"
                           f": {folded} categor(ies) folded, {dropped} row(s) in no released count")
    prof.policy_errors = errors
    return prof


def _sketch_points(*sketches) -> np.ndarray:
    return np.unique(np.concatenate([np.fromiter((x for x, _ in sk), float, sk.num_retained)
                                     for sk in sketches]))


def _counted_row(name: str, few_a: dict, few_b: dict, std: float, drift_tests) -> dict:
    """A numeric column with few values on both sides: every figure exact, from the counts."""
    values = np.array(sorted(few_a.keys() | few_b.keys()))
    ca = np.array([few_a.get(v, 0) for v in values], dtype=np.float64)
    cb = np.array([few_b.get(v, 0) for v in values], dtype=np.float64)
    n_a, n_b = int(ca.sum()), int(cb.sum())
    diff = np.cumsum(ca) / n_a - np.cumsum(cb) / n_b
    ks = float(max(np.clip(-diff.min(), 0, 1), diff.max()))
    w = float(np.vecdot(np.abs(diff[:-1]), np.diff(values))) if values.size > 1 else 0.0
    test = L.pick_test(name, NUMERIC, n_a, values.size, drift_tests)
    row = {"column": name, "kind": NUMERIC, "ks_statistic": ks,
           "ks_pvalue": metrics.ks_pvalue(ks, n_a, n_b), "wasserstein": w,
           "wasserstein_normed": w / max(std, L.WASSERSTEIN_MIN_STD),
           "psi": metrics.psi_from_counts(*metrics.decile_counts_weighted(values, ca, cb)),
           "score": 1.0 - ks} | L.count_figures(ca, cb)
    return L.decide(row, test)


def _numeric_estimate(name: str, a, b, ref_std: float, drift_tests,
                      extra: tuple[float, float] = (0.0, 0.0)) -> tuple[dict, float, float]:
    """A numeric column from two KLL sketches: figures, verdict (or undecidable), bounds.

    The KS statistic and the Wasserstein distance come with intervals (the KLL rank error
    for all points at once, 99%, summed over the two sketches; 0 for a sketch that still
    holds every value); a verdict that differs at the ends of its figure's interval is
    "undecidable". The KS p-value is scipy's for the statistic at these sizes
    (:func:`metrics.ks_pvalue`: exact up to 10,000 rows a side).
    """
    n_a, n_b = a.n, b.n
    pts = _sketch_points(a, b)
    cdf_a = np.asarray(a.get_cdf(pts.tolist(), True))[:-1]
    cdf_b = np.asarray(b.get_cdf(pts.tolist(), True))[:-1]
    diff = cdf_a - cdf_b
    ks = float(max(np.clip(-diff.min(), 0, 1), diff.max()))
    w = float(np.vecdot(np.abs(diff[:-1]), np.diff(pts)))
    norm = max(ref_std, L.WASSERSTEIN_MIN_STD)
    wn = w / norm
    edges = np.unique(np.asarray(a.get_quantiles(np.linspace(0, 1, 11)[1:-1].tolist())))
    ref_counts = np.diff(np.concatenate([[0.0], np.asarray(a.get_cdf(edges.tolist()))[:-1], [1.0]]))
    cur_counts = np.diff(np.concatenate([[0.0], np.asarray(b.get_cdf(edges.tolist()))[:-1], [1.0]]))
    rank_error = lambda sk: sk.normalized_rank_error(True) if sk.is_estimation_mode() else 0.0  # noqa: E731
    rank_eps = rank_error(a) + rank_error(b)
    span = max(a.get_max_value(), b.get_max_value()) - min(a.get_min_value(), b.get_min_value())
    # a sharing policy's clipping adds the share of values it moved (KS) and the mean
    # distance it moved them (Wasserstein)
    eps = rank_eps + extra[0]
    w_bound = (rank_eps * span + extra[1]) / norm
    test = L.pick_test(name, NUMERIC, n_a, None, drift_tests)
    row = {"column": name, "kind": NUMERIC, "distinct": None, "ks_statistic": ks,
           "ks_pvalue": metrics.ks_pvalue(ks, n_a, n_b), "wasserstein": w,
           "wasserstein_normed": wn, "psi": metrics.psi_from_counts(ref_counts, cur_counts),
           "jensen_shannon": metrics.js_distance(ref_counts, cur_counts)
           if test.name == "jensen_shannon" else None,
           "chi_square": None, "chi_square_pvalue": None, "z_pvalue": None, "score": 1.0 - ks}
    interval = None
    if test.name == "ks":
        interval = (metrics.ks_pvalue(min(1.0, ks + eps), n_a, n_b),
                    metrics.ks_pvalue(max(0.0, ks - eps), n_a, n_b))
    elif test.name == "wasserstein":
        interval = (max(0.0, wn - w_bound), wn + w_bound)
    return L.decide(row, test, interval=interval), float(eps), float(w_bound)


def similarity_from_profiles(p1: Profile, p2: Profile, *, layer_weights: dict | None = None,
                             names: tuple[str, str] | None = None, drift_tests=None,
                             drift_share: float | None = None) -> SimilarityReport:
    """Similarity from two profiles alone (sketch mode): schema, keys, distributions.

    ``p1`` is the reference. Every default drift test of the exact mode is answered
    (Evidently 0.7.23's rules, :func:`layers.drift_rule`): categorical columns and numeric
    columns with at most 5 distinct values exactly, from their counts (chi-square goodness
    of fit, Z-test, Jensen–Shannon, and the KS / Wasserstein figures); other numeric columns
    from the KLL sketches, the KS statistic within the summed rank error and the normalized
    Wasserstein distance within ``rank error x value range / std``. Where that error makes a
    verdict differ across the threshold, the column's verdict is "undecidable" (``drift``
    null) and the dataset drift share becomes an interval. Row counts and null rates are
    exact (``details["rows"]``, ``details["null_rates"]``). Key figures are estimates within
    the theta bounds. PSI (and Jensen–Shannon by name on a many-valued numeric column) read
    the reference-decile bins off the sketches: each bin share is within the summed rank
    error, and no verdict interval is derived for them.
    """
    names = names or (p1.name, p2.name)
    if p1.keys != p2.keys:
        raise ConsistencyError("profiles use different entity keys", where=f"{names[0]} vs {names[1]}",
                               expected=f"keys {p1.keys}", found=f"keys {p2.keys}")
    pairs, only_l, only_r = L.match_columns(p1.schema, p2.schema)
    if not [p for p in pairs if p.left not in p1.keys]:
        raise ConsistencyError("no shared columns besides the keys", where=f"{names[0]} vs {names[1]}",
                               expected="at least one corresponding column",
                               found=f"{list(p1.schema)} and {list(p2.schema)}")
    schema = L.schema_layer(pairs, only_l, only_r)

    keys = None if p1.key_sketch is None or p2.key_sketch is None \
        else _key_layer(p1.keys_sketch, p2.keys_sketch)
    withheld = set(p1.withheld) | set(p2.withheld)

    rows, eps, w_eps, infinite, not_shared = [], {}, {}, {}, []
    for p in pairs:
        if not p.compatible or p.left in p1.keys:
            continue
        if p.left in p1.withheld or p.right in p2.withheld:
            not_shared.append(p.left)
            continue
        if p.kind == NUMERIC:
            infinite[p.left] = (p1.infinite.get(p.left, 0), p2.infinite.get(p.right, 0))
        if p.kind == NUMERIC and (row := L.empty_row(p.left, NUMERIC, p1.moments[p.left][0],
                                                     p2.moments[p.right][0])):
            rows.append(row)
        elif p.kind == NUMERIC and p1.few_values.get(p.left) is not None \
                and p2.few_values.get(p.right) is not None \
                and len(p1.few_values[p.left].keys() | p2.few_values[p.right].keys()) \
                <= L.DRIFT_RULES["max_distinct_counted"]:
            rows.append(_counted_row(p.left, p1.few_values[p.left], p2.few_values[p.right],
                                     p1.std(p.left), drift_tests))
            eps[p.left] = w_eps[p.left] = 0.0
        elif p.kind == NUMERIC and (p.left not in p1.numeric or p.right not in p2.numeric):
            not_shared.append(p.left)  # few values on one side, withheld sketch on the other
        elif p.kind == NUMERIC:
            clip_a = p1.clip_errors.get(p.left, (0.0, 0.0))
            clip_b = p2.clip_errors.get(p.right, (0.0, 0.0))
            row, e, wb = _numeric_estimate(p.left, p1.numeric[p.left], p2.numeric[p.right],
                                           p1.std(p.left), drift_tests,
                                           extra=(clip_a[0] + clip_b[0], clip_a[1] + clip_b[1]))
            rows.append(row)
            eps[p.left] = e
            w_eps[p.left] = wb
        elif p.kind == CATEGORICAL and p.left in p1.categorical and p.right in p2.categorical:
            ca = p1.categorical[p.left]
            cb = p2.categorical[p.right]
            both_c = ca.join(cb, on="value", how="full", coalesce=True, suffix="_r") \
                .fill_null(0).sort("value")
            rows.append(L.empty_row(p.left, CATEGORICAL, int(both_c["n"].sum()),
                                    int(both_c["n_r"].sum()))
                        or L.categorical_row(p.left, both_c["n"].to_numpy(),
                                             both_c["n_r"].to_numpy(), drift_tests=drift_tests))
    skipped = sorted(set(p1.skipped) | set(p2.skipped))
    policy_bounds = {f"policy[{prof.name if prof.name != other.name else side}].{k}": v
                     for side, prof, other in (("left", p1, p2), ("right", p2, p1))
                     for k, v in prof.policy_errors.items()}
    dist = L.distribution_result(
        rows, skipped, infinite=infinite, estimated=True, drift_share=drift_share,
        error_bounds={f"ks_statistic[{c}]": f"± {e:.4f} (KLL rank error, 99%; 0 when exact)"
                      for c, e in eps.items()}
        | {f"wasserstein_normed[{c}]": f"± {e:.4f} (rank error x value range / std)"
           for c, e in w_eps.items()}
        | ({"categorical": "exact (frequency counts)"}
           if any(r["kind"] == CATEGORICAL for r in rows) else {}) | policy_bounds,
        details={"ks_error_bound": eps, "wasserstein_normed_error_bound": w_eps,
                 "rows": (p1.n_rows, p2.n_rows),
                 "null_rates": {p.left: (p1.nulls.get(p.left, 0) / p1.n_rows if p1.n_rows else 0.0,
                                         p2.nulls.get(p.right, 0) / p2.n_rows if p2.n_rows else 0.0)
                                for p in pairs if p.compatible and p.left not in p1.keys},
                 "withheld": sorted(withheld),
                 "epsilon": (p1.epsilon, p2.epsilon)})
    if not_shared:
        dist.notes.append(f"withheld by a sharing policy: {', '.join(not_shared)}")
    result = {"schema": schema, "distributions": dist} if keys is None \
        else {"schema": schema, "keys": keys, "distributions": dist}
    return SimilarityReport(result, normalize_layer_weights(layer_weights, result), list(p1.keys),
                            "sketch", names)


def _key_layer(a, b) -> LayerResult:
    """The keys layer from two theta sketches (estimates within their bounds)."""
    lo, jac, hi = ds.theta_jaccard_similarity.jaccard(a, b)
    inter = ds.theta_intersection()
    inter.update(a)
    inter.update(b)
    both = inter.get_result()
    shared, shared_lo, shared_hi = both.get_estimate(), both.get_lower_bound(2), both.get_upper_bound(2)
    na, nb = a.get_estimate(), b.get_estimate()
    evidence = pl.DataFrame({
        "measure": ["left keys", "right keys", "shared keys", "jaccard", "left in right",
                    "right in left"],
        "value": [na, nb, shared, jac, shared / na if na else 0.0, shared / nb if nb else 0.0],
        "lower": [a.get_lower_bound(2), b.get_lower_bound(2), shared_lo, lo,
                  min(1.0, shared_lo / na) if na else 0.0, min(1.0, shared_lo / nb) if nb else 0.0],
        "upper": [a.get_upper_bound(2), b.get_upper_bound(2), shared_hi, hi,
                  min(1.0, shared_hi / na) if na else 0.0, min(1.0, shared_hi / nb) if nb else 0.0],
    })
    return LayerResult("keys", float(jac), evidence,
                       [f"about {na - shared:.0f} reference key(s) missing from the other product"]
                       if shared < na else [], estimated=True,
                       error_bounds={"jaccard": f"[{lo:.4f}, {hi:.4f}] (theta, ~95%)"},
                       details={"jaccard_bounds": (lo, hi)})
