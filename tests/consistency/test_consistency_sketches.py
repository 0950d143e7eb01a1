"""Federated profiles: similarity from two profiles alone, estimates within their bounds."""

import numpy as np
import polars as pl
import pytest

from meshkit import profile, similarity
from meshkit.tutorial.inject import stale_copy
from meshkit._consistency.sketches import profile_batches, profile_parquet


def product(n, seed, shift=0.0, start=0):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "id": np.arange(start, start + n),
        "amount": rng.lognormal(3.0 + shift, 0.6, n),
        "score": rng.normal(shift, 1.0, n),
        "segment": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
    })


@pytest.fixture(scope="module")
def pair():
    left = product(200_000, 1)
    right = product(200_000, 2, shift=0.15, start=50_000)  # 150k shared keys
    return left, right


def test_sketch_estimates_stay_within_their_bounds(pair):
    left, right = pair
    exact = similarity(left, right, keys="id")
    est = similarity(profile(left, "id", name="left"), profile(right, "id", name="right"))
    assert est.mode == "sketch" and "values" not in est.layers
    assert est.layers["keys"].estimated and est.layers["distributions"].estimated
    assert not est.layers["schema"].estimated
    # keys: the exact Jaccard lies inside the theta bounds
    lo, hi = est.layers["keys"].details["jaccard_bounds"]
    true_jaccard = exact.layers["keys"].score
    assert true_jaccard == pytest.approx(150_000 / 250_000)
    assert lo <= true_jaccard <= hi
    assert hi - lo < 0.05
    # numeric columns: the KS estimate is within eps_left + eps_right of the exact statistic
    bounds = est.layers["distributions"].details["ks_error_bound"]
    ex = exact.layers["distributions"].evidence
    es = est.layers["distributions"].evidence
    for column in ("amount", "score"):
        d_exact = ex.filter(pl.col("column") == column)["ks_statistic"].item()
        d_est = es.filter(pl.col("column") == column)["ks_statistic"].item()
        assert abs(d_est - d_exact) <= bounds[column], (column, d_est, d_exact)
        assert 0 < bounds[column] < 0.05
        w_exact = ex.filter(pl.col("column") == column)["wasserstein_normed"].item()
        w_est = es.filter(pl.col("column") == column)["wasserstein_normed"].item()
        w_bound = est.layers["distributions"].details["wasserstein_normed_error_bound"][column]
        assert abs(w_est - w_exact) <= w_bound
    # categorical figures are exact (frequency counts)
    for name in ("jensen_shannon", "chi_square"):
        assert es.filter(pl.col("column") == "segment")[name].item() == pytest.approx(
            ex.filter(pl.col("column") == "segment")[name].item(), abs=1e-9)
    assert "KLL rank error" in str(est)


def test_profiles_merge_like_one_profile(pair):
    left, _ = pair
    whole = profile(left, "id")
    parts = profile(left.head(120_000), "id").merge(profile(left.tail(80_000), "id"))
    assert parts.n_rows == whole.n_rows == 200_000
    assert parts.keys_sketch.get_estimate() == pytest.approx(200_000, rel=0.03)
    assert parts.categorical["segment"].equals(whole.categorical["segment"])
    assert np.allclose(parts.moments["amount"], whole.moments["amount"])
    assert similarity(whole, parts).score > 0.98


def test_identical_profiles_score_one_and_disjoint_keys_zero():
    d = product(5000, 3)
    p = profile(d, "id")
    assert similarity(p, p).score == 1.0
    other = profile(d.with_columns(pl.col("id") + 1_000_000), "id")
    assert similarity(p, other).layers["keys"].score == 0.0


def with_email(d):
    return d.with_columns(
        (pl.lit("user") + pl.col("id").cast(pl.Utf8) + pl.lit("@mail.example.org")).alias("email"))


def test_profile_is_small_and_leaves_near_unique_text_out(pair):
    d = with_email(pair[0])
    p = profile(d, "id")
    assert "email" not in p.categorical and "email" in p.skipped
    assert p.size_bytes() < 0.05 * d.estimated_size()
    # bounded: four times fewer rows, about the same size (the sketches are full)
    quarter = profile(d.head(50_000), "id")
    assert p.size_bytes() < 1.2 * quarter.size_bytes()
    stale, _ = stale_copy(d, "id", steps=["stale_values"], stale_column="email", seed=1)
    rep = similarity(p, profile(stale, "id"))
    assert any("more than 1000 categories): email" in n for n in rep.layers["distributions"].notes)


def test_streamed_profile_equals_in_memory_counts(tmp_path, pair):
    left, _ = pair
    path = tmp_path / "left.parquet"
    left.write_parquet(path)
    streamed = profile_parquet(path, "id", batch_rows=50_000)
    batches = profile_batches(left.iter_slices(70_000), "id")
    whole = profile(left, "id")
    for p in (streamed, batches):
        assert p.n_rows == 200_000
        assert p.categorical["segment"].equals(whole.categorical["segment"])
        assert np.allclose(p.moments["score"], whole.moments["score"])
        # theta sketches are deterministic: same keys, same estimate
        assert p.keys_sketch.get_estimate() == pytest.approx(whole.keys_sketch.get_estimate())


def test_sketch_and_exact_agree_on_keys_of_two_types():
    import datetime as dt

    def both(a, b, keys):
        exact = similarity(a, b, keys=keys).layers["keys"].score
        sketch = similarity(profile(a, keys), profile(b, keys)).layers["keys"].score
        return exact, sketch

    # an Int64 key against a Float64 one: 2 and 2.0 match, 1 and 1.5 do not
    ints = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    floats = pl.DataFrame({"id": [1.5, 2.0, 3.0], "x": [1.0, 2.0, 3.0]})
    assert both(ints, floats, "id") == (pytest.approx(2 / 4), pytest.approx(2 / 4))
    # a Date key against a Datetime one: a date matches its midnight only
    dates = pl.DataFrame({"day": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)], "x": [1.0, 2.0]})
    times = pl.DataFrame({"day": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 12)],
                          "x": [1.0, 2.0]}, schema={"day": pl.Datetime("ms"), "x": pl.Float64})
    assert both(dates, times, "day") == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    # composite keys follow the same rule column by column
    left = ints.with_columns(pl.lit("a").alias("k"))
    right = floats.with_columns(pl.lit("a").alias("k"))
    assert both(left, right, ["id", "k"]) == (pytest.approx(2 / 4), pytest.approx(2 / 4))
    # and a Boolean key meets a text one as text
    flags = pl.DataFrame({"id": [True, False], "x": [1.0, 2.0]})
    text = pl.DataFrame({"id": ["true", "maybe"], "x": [1.0, 2.0]})
    assert both(flags, text, "id") == (pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_sketch_small_sample_pvalue_is_scipys_for_the_statistic():
    from scipy import stats

    from meshkit._consistency import metrics

    a = product(300, 4)
    b = product(400, 5, shift=0.3)
    report = similarity(profile(a, "id"), profile(b, "id")).layers["distributions"]
    row = report.evidence.filter(pl.col("column") == "score").row(0, named=True)
    ref = stats.ks_2samp(a["score"].to_numpy(), b["score"].to_numpy())
    assert abs(row["ks_statistic"] - ref.statistic) <= report.details["ks_error_bound"]["score"]
    assert row["ks_pvalue"] == metrics.ks_pvalue(row["ks_statistic"], 300, 400)
    # sketches still holding every value: the statistic is exact, and so is scipy's p-value
    a, b = product(150, 4), product(180, 5, shift=0.3)
    report = similarity(profile(a, "id"), profile(b, "id")).layers["distributions"]
    row = report.evidence.filter(pl.col("column") == "score").row(0, named=True)
    ref = stats.ks_2samp(a["score"].to_numpy(), b["score"].to_numpy())
    assert report.details["ks_error_bound"]["score"] == 0.0
    assert row["ks_statistic"] == pytest.approx(ref.statistic, abs=1e-12)
    assert row["ks_pvalue"] == pytest.approx(ref.pvalue, rel=1e-9)
    # the same function gives ks_pvalue's figure above 10,000 rows a side
    assert metrics.ks_pvalue(0.02, 20_000, 30_000) == metrics.ks_asymptotic_pvalue(0.02, 30_000, 20_000)


def _random_pair(rng):
    """Two products with random sizes (both sides of 1,000 rows), shifts, nulls and values."""
    n_ref = int(rng.choice([300, 900, 1000, 1001, 3000, 20_000]))
    n_cur = int(rng.integers(200, 20_000))
    shift = float(rng.choice([0.0, 0.02, 0.05, 0.1, 0.3]))

    def side(n, s, start):
        x = rng.normal(s, 1.0, n)
        x[rng.random(n) < 0.05] = np.nan
        levels = rng.choice(3, n, p=np.array([0.5, 0.3, 0.2]) + [s / 2, -s / 4, -s / 4])
        return pl.DataFrame({
            "id": np.arange(start, start + n),
            "x": x,
            "y": rng.gamma(2.0 + 4 * s, 1.0, n),
            "few": levels.astype(np.float64),
            "flag": rng.random(n) < 0.3 + s,
            "segment": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
        }).with_columns(pl.when(pl.col("id") % 17 == 0).then(None)
                        .otherwise(pl.col("segment")).alias("segment"))

    return side(n_ref, 0.0, 0), side(n_cur, shift, n_ref // 2)


def test_sketch_verdicts_equal_exact_verdicts_unless_undecidable():
    rng = np.random.default_rng(20261129)
    decided = undecidable = 0
    for _ in range(40):
        left, right = _random_pair(rng)
        exact = similarity(left, right, keys="id").layers["distributions"]
        est = similarity(profile(left, "id"), profile(right, "id")).layers["distributions"]
        ex, es = exact.evidence, est.evidence
        assert ex["column"].to_list() == es["column"].to_list()
        for e_row, s_row in zip(ex.iter_rows(named=True), es.iter_rows(named=True)):
            column = e_row["column"]
            assert s_row["test"] == e_row["test"], column
            if s_row["drift"] is None:
                undecidable += 1
                assert s_row["verdict"] == "undecidable"
                assert column in ("x", "y")  # counted columns are exact: always decided
                continue
            decided += 1
            assert s_row["drift"] == e_row["drift"], (column, e_row, s_row)
            if e_row["kind"] != "numeric":  # categorical: exact counts, exact figures
                assert s_row["jensen_shannon"] == pytest.approx(e_row["jensen_shannon"], abs=1e-12)
                continue
            # the stated errors bound the observed ones
            assert abs(s_row["ks_statistic"] - e_row["ks_statistic"]) \
                <= est.details["ks_error_bound"].get(column, 0.0) + 1e-12, column
            if e_row["wasserstein_normed"] is not None:
                assert abs(s_row["wasserstein_normed"] - e_row["wasserstein_normed"]) <= \
                    est.details["wasserstein_normed_error_bound"].get(column, 0.0) + 1e-9, column
        # rows, null rates and the dataset drift share: exact, or undecidable
        assert est.details["rows"] == exact.details["rows"]
        for column, rates in exact.details["null_rates"].items():
            assert est.details["null_rates"][column] == pytest.approx(rates)
        ds_exact, ds_est = exact.details["dataset_drift"], est.details["dataset_drift"]
        assert ds_est["drift_share"] <= ds_exact["drift_share"] <= ds_est["drift_share_upper"]
        assert ds_est["dataset_drift"] in (None, ds_exact["dataset_drift"])
    assert decided > 2 * undecidable  # the error leaves most verdicts decided


def test_undecidable_is_said_in_the_report():
    rng = np.random.default_rng(7)
    n = 50_000
    left = pl.DataFrame({"id": np.arange(n), "x": rng.normal(0, 1, n)})
    # a shift whose normalized Wasserstein distance sits right at Evidently's 0.1
    right = pl.DataFrame({"id": np.arange(n), "x": rng.normal(0.1, 1, n)})
    layer = similarity(profile(left, "id"), profile(right, "id")).layers["distributions"]
    row = layer.evidence.row(0, named=True)
    assert row["test"] == "wasserstein"
    assert row["verdict"] == "undecidable" and row["drift"] is None
    assert any("undecidable" in n for n in layer.notes)
    assert layer.details["dataset_drift"]["dataset_drift"] is None
    assert "undecidable" in str(layer)
