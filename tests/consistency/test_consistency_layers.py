"""The layered similarity and the consistency verdict on plain polars frames."""

import warnings

import numpy as np
import polars as pl
import pytest

import meshkit as mk
from meshkit import DRIFT_RULES, consistency, similarity, similarity_matrix
from meshkit.tutorial.inject import stale_copy
from meshkit._consistency.layers import WASSERSTEIN_MIN_STD, drift_rule, match_columns


def customers(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "user_id": np.arange(n),
        "email": [f"user{i}@mail.example.org" for i in range(n)],
        "country": rng.choice(["DE", "FR", "ES", "IT"], n),
        "age": rng.integers(18, 90, n),
        "spend": rng.gamma(2.0, 50.0, n),
        "signup_date": pl.Series(np.datetime64("2024-01-01")
                                 - rng.integers(0, 1500, n).astype("timedelta64[D]")),
    })


def _similarity(a, b, sketch: bool):
    """Exact similarity on key ``id``, or the same from the two sides' sketch profiles."""
    from meshkit import profile

    if sketch:
        return similarity(profile(a, "id"), profile(b, "id"))
    return similarity(a, b, keys="id")


def test_identical_products_score_one_at_any_threshold():
    d = customers()
    report = similarity(d, d, keys="user_id")
    assert report.score == 1.0
    assert all(s == 1.0 for s in report.layer_scores().values())
    for theta in (0.0, 0.5, 0.9, 0.999999):
        assert consistency(d, d, threshold=theta, keys="user_id").consistent
    assert not consistency(d, d, threshold=1.0, keys="user_id").consistent
    assert consistency(d, d, threshold=0.9, keys="user_id").reasons == []


def test_top_level_names_resolve_to_the_functions():
    d = customers(200)
    assert mk.similarity(d, d, keys="user_id").score == 1.0
    assert mk.consistency(d, d, threshold=0.5, keys="user_id").consistent


def test_disjoint_keys_score_zero_on_the_key_layer():
    a = customers(500)
    b = a.with_columns(pl.col("user_id") + 10_000)
    report = similarity(a, b, keys="user_id")
    assert report.layers["keys"].score == 0.0
    assert report.layers["values"].score == 0.0
    assert "no shared keys" in " ".join(report.layers["values"].notes)
    assert report.layers["schema"].score == 1.0
    assert report.score < 1.0


def test_key_jaccard_and_containment():
    a = pl.DataFrame({"id": [1, 2, 3, 4], "x": [1, 2, 3, 4]})
    b = pl.DataFrame({"id": [3, 4, 5], "x": [3, 4, 5]})
    ev = dict(similarity(a, b, keys="id").layers["keys"].evidence.iter_rows())
    assert ev["jaccard"] == pytest.approx(2 / 5)
    assert ev["left in right"] == pytest.approx(2 / 4)
    assert ev["right in left"] == pytest.approx(2 / 3)


STEPS = ["stale_values", "missing_rows", "type_change", "shift"]


def test_score_only_moves_down_as_inconsistencies_are_injected():
    d = customers()
    scores, layers = [], []
    for k in range(len(STEPS) + 1):
        copy, done = stale_copy(d, "user_id", steps=STEPS[:k], seed=7, stale_column="email",
                                type_column="age", shift_column="spend")
        assert [i.name for i in done] == STEPS[:k]
        report = similarity(d, copy, keys="user_id")
        scores.append(report.score)
        layers.append(report.layer_scores())
    assert scores[0] == 1.0
    assert all(later < earlier for earlier, later in zip(scores, scores[1:])), scores
    # each change shows on the layer it belongs to
    assert layers[1]["values"] < 1 and layers[1]["keys"] == 1
    assert layers[2]["keys"] == pytest.approx(0.9)
    assert layers[3]["schema"] < layers[2]["schema"]
    assert layers[4]["distributions"] < layers[3]["distributions"]


def test_stale_copy_is_deterministic_per_seed():
    d = customers(400)
    a, _ = stale_copy(d, "user_id", seed=3, stale_column="email", type_column="age",
                      shift_column="spend")
    b, _ = stale_copy(d, "user_id", seed=3, stale_column="email", type_column="age",
                      shift_column="spend")
    c, _ = stale_copy(d, "user_id", seed=4, stale_column="email", type_column="age",
                      shift_column="spend")
    assert a.equals(b)
    assert not a.equals(c)


def test_schema_layer_exact_fuzzy_missing_and_types():
    left = {"user_id": pl.Int64, "E-Mail": pl.Utf8, "age": pl.Int64, "spend": pl.Float64,
            "only_left": pl.Utf8}
    right = {"user_id": pl.Int64, "email": pl.Utf8, "age": pl.Utf8, "spend": pl.Float32,
             "extra": pl.Int8}
    pairs, only_l, only_r = match_columns(left, right)
    by = {p.left: p for p in pairs}
    assert by["E-Mail"].right == "email" and by["E-Mail"].match == "fuzzy"
    assert not by["age"].compatible
    assert by["spend"].compatible and by["spend"].credit == 0.5
    assert only_l == ["only_left"] and only_r == ["extra"]


def test_values_layer_tolerance_and_worst_columns():
    a = pl.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0], "s": ["a", "b", "c", "d"]})
    b = pl.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.001, 3.0, 4.0], "s": ["a", "z", "y", "d"]})
    strict = similarity(a, b, keys="id").layers["values"]
    loose = similarity(a, b, keys="id", atol=0.01).layers["values"]
    ev = dict(strict.evidence.select("column", "agreement").iter_rows())
    assert ev == {"x": 0.75, "s": 0.5}
    assert dict(loose.evidence.select("column", "agreement").iter_rows())["x"] == 1.0
    assert "worst columns: s (50.0% agree), x (75.0% agree)" in strict.notes
    # equal infinities agree (inf - inf is NaN); opposite ones and inf vs a number do not
    inf = pl.DataFrame({"id": [1, 2, 3], "x": [float("inf"), float("-inf"), float("inf")]})
    other = inf.with_columns(pl.Series("x", [float("inf"), float("inf"), 1e308]))
    with warnings.catch_warnings():  # the distributions layer leaves infinities out quietly
        warnings.simplefilter("error", RuntimeWarning)
        assert similarity(inf, inf, keys="id").layers["values"].score == 1.0
        assert similarity(inf, other, keys="id").layers["values"].score == pytest.approx(1 / 3)


@pytest.mark.parametrize("sketch", [False, True])
def test_infinities_are_left_out_of_the_distributions_and_noted(sketch):

    inf, nan = float("inf"), float("nan")
    ref = pl.DataFrame({"id": np.arange(6), "x": [1.0, 2.0, inf, 3.0, -inf, 4.0],
                        "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    cur = ref.with_columns(pl.Series("x", [1.0, 2.0, 3.0, inf, nan, 4.0]))
    finite = pl.DataFrame({"id": np.arange(4), "x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2, 3, 4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        layer = _similarity(ref, cur, sketch).layers["distributions"]
        same = _similarity(finite, finite, sketch).layers["distributions"]
    row = layer.evidence.filter(pl.col("column") == "x").row(0, named=True)
    for name in ("ks_statistic", "wasserstein", "wasserstein_normed", "psi", "score"):
        assert np.isfinite(row[name]), name
    # x holds the same finite values on both sides: it compares like the finite column
    assert row["score"] == 1.0 and not row["drift"]
    assert 0.0 <= layer.score <= 1.0 and layer.score == same.score
    assert "excluded 3 infinite value(s) from the distributions of x" in layer.notes
    assert layer.details["infinite_excluded"] == {"x": (2, 1)}
    assert not any("infinite" in n for n in same.notes)
    # a column of infinities on one side only has no finite value there: one side empty
    only_inf = cur.with_columns(pl.lit(inf).alias("x"))
    row = _similarity(ref, only_inf, sketch).layers["distributions"].evidence \
        .filter(pl.col("column") == "x").row(0, named=True)
    assert row["test"] == "one side empty" and row["score"] == 0.0


def test_weights_change_the_score_and_are_validated():
    d = customers(800)
    copy, _ = stale_copy(d, "user_id", steps=["missing_rows"], fraction=0.5, seed=1)
    base = similarity(d, copy, keys="user_id")
    keys_only = similarity(d, copy, keys="user_id",
                           layer_weights={"schema": 0, "values": 0, "distributions": 0})
    assert keys_only.score == pytest.approx(base.layers["keys"].score)
    assert keys_only.score < base.score
    with pytest.raises(mk.ConsistencyError, match="unknown layer"):
        similarity(d, copy, keys="user_id", layer_weights={"vibes": 1})
    with pytest.raises(mk.ConsistencyError, match="sum to zero"):
        similarity(d, copy, keys="user_id",
                   layer_weights={"schema": 0, "keys": 0, "values": 0, "distributions": 0})


def test_threshold_sweep_flips_at_the_score():
    d = customers(800)
    copy, _ = stale_copy(d, "user_id", seed=2, stale_column="email", type_column="age",
                         shift_column="spend")
    report = similarity(d, copy, keys="user_id")
    sweep = report.sweep()
    assert sweep.height == 21
    flips = sweep.filter(pl.col("consistent"))["threshold"].max()
    assert flips < report.score <= flips + 0.05 + 1e-12
    assert sweep.filter(pl.col("threshold") >= report.score)["consistent"].sum() == 0


def test_drift_rules_follow_evidently_defaults():
    assert DRIFT_RULES == {"small_sample_rows": 1000, "p_value": 0.05,
                           "wasserstein_normed": 0.1, "jensen_shannon": 0.1,
                           "max_distinct_counted": 5, "max_distinct_binary": 2,
                           "drift_share": 0.5}
    assert drift_rule("numeric", 1000) == "ks" and drift_rule("numeric", 1001) == "wasserstein"
    assert drift_rule("categorical", 10) == "chi_square"
    assert drift_rule("categorical", 5000) == "jensen_shannon"
    small = customers(600)
    shifted = small.with_columns(pl.col("spend") * 1.5)
    ev = similarity(small, shifted, keys="user_id").layers["distributions"].evidence
    row = ev.filter(pl.col("column") == "spend").row(0, named=True)
    assert row["test"] == "ks" and row["drift"] and row["ks_pvalue"] <= 0.05
    assert not ev.filter(pl.col("column") == "country")["drift"].item()
    big = customers(5000)
    nudged = big.with_columns(pl.col("spend") + 0.01 * big["spend"].std(ddof=0))  # Evidently: np.std
    ev = similarity(big, nudged, keys="user_id").layers["distributions"].evidence
    row = ev.filter(pl.col("column") == "spend").row(0, named=True)
    assert row["test"] == "wasserstein" and not row["drift"]
    assert row["wasserstein_normed"] == pytest.approx(0.01, rel=1e-6)


def test_consistency_reasons_and_rendering_are_deterministic():
    d = customers(1500)
    copy, _ = stale_copy(d, "user_id", seed=5, stale_column="email", type_column="age",
                         shift_column="spend")
    rep = consistency(d, copy, threshold=0.9, keys="user_id", names=("crm", "copy"))
    assert not rep.consistent
    text = " ".join(rep.reasons)
    for needle in ("150 reference key(s) missing", "incompatible types: age", "spend",
                   "worst columns"):
        assert needle in text
    again = consistency(d, copy, threshold=0.9, keys="user_id", names=("crm", "copy"))
    assert rep._repr_html_() == again._repr_html_()
    assert str(rep) == str(again)
    assert "0x" not in rep._repr_html_()
    assert rep.to_dict()["consistent"] is False


def _contract(name, props):
    from meshkit import DataContract
    return DataContract.from_dict({
        "apiVersion": "v3.1.0", "kind": "DataContract", "id": name, "version": "1.0.0",
        "status": "active", "schema": [{"name": name, "properties": props}]})


def test_contract_conformance_and_disagreeing_standards_are_flagged():
    d = customers(300).select("user_id", "country", "age")
    copy = d.with_columns(pl.when(pl.col("user_id") < 10).then(pl.lit("XX"))
                          .otherwise(pl.col("country")).alias("country"))
    countries = {"metric": "invalidValues", "mustBe": 0,
                 "arguments": {"validValues": ["DE", "FR", "ES", "IT"]}}
    c1 = _contract("crm", [{"name": "user_id", "logicalType": "integer", "primaryKey": True},
                           {"name": "country", "logicalType": "string", "quality": [countries]},
                           {"name": "age", "logicalType": "integer"}])
    c2 = _contract("copy", [{"name": "user_id", "logicalType": "integer", "primaryKey": True},
                            {"name": "country", "logicalType": "string", "quality": [
                                dict(countries, arguments={"validValues": ["DE", "FR"]})]},
                            {"name": "age", "logicalType": "number"}])
    rep = consistency(d, copy, threshold=0.5, contracts=(c1, c2))   # keys from the contract
    assert rep.similarity.keys == ["user_id"]
    aspects = set(zip(rep.standards["left"], rep.standards["aspect"]))
    assert aspects == {("country", "validValues"), ("age", "logicalType")}
    assert rep.conformance.height == 2
    assert not rep.standards_ok
    text = " ".join(rep.reasons)
    assert "contracts disagree on age logicalType: integer vs number" in text
    assert "fails its contract" in text
    clean = consistency(d, d, threshold=0.5, contracts=(c1, c1))
    assert clean.standards_ok and clean.reasons == []


def test_similarity_matrix_over_products_sharing_the_entity():
    d = customers(600)
    stale, _ = stale_copy(d, "user_id", seed=1, stale_column="email", type_column="age",
                          shift_column="spend")
    half = d.head(300)
    other = pl.DataFrame({"order_id": [1, 2], "x": [1.0, 2.0]})
    m = similarity_matrix({"crm": d, "stale": stale, "half": half, "orders": other}, "user_id")
    assert m.names == ["crm", "stale", "half"]
    assert "orders" in m.skipped
    assert np.allclose(np.diag(m.scores), 1.0)
    assert m.scores[0, 1] < m.scores[0, 2] < 1.0
    assert m.to_frame().columns == ["product", "crm", "stale", "half"]


def test_viz_figures():
    from meshkit.viz.consistency import layer_scores, similarity_heatmap, threshold_sweep
    d = customers(300)
    stale, _ = stale_copy(d, "user_id", seed=1, stale_column="email", type_column="age",
                          shift_column="spend")
    m = similarity_matrix({"a": d, "b": stale}, "user_id")
    fig = similarity_heatmap(m)
    assert fig.axes[0].get_title() == "Similarity across products"
    reports = {"stale": m.reports[("a", "b")]}
    assert len(threshold_sweep(reports).axes[0].lines) == 3
    assert len(layer_scores(reports).axes[0].patches) == 4


def test_row_order_and_key_width_do_not_change_the_report():
    d = customers(2000)
    copy, _ = stale_copy(d, "user_id", seed=9, stale_column="email", type_column="age",
                         shift_column="spend")
    base = similarity(d, copy, keys="user_id")
    shuffled = similarity(d.sample(fraction=1.0, shuffle=True, seed=1),
                          copy.sample(fraction=1.0, shuffle=True, seed=2)
                          .with_columns(pl.col("user_id").cast(pl.Int32)), keys="user_id")
    for layer in ("keys", "values", "distributions"):     # the schema sees Int32 vs Int64
        assert shuffled.layers[layer].score == pytest.approx(base.layers[layer].score, abs=1e-12)
    assert shuffled.layers["schema"].score < base.layers["schema"].score
    assert shuffled.layers["values"].evidence.equals(base.layers["values"].evidence)


def test_keys_of_two_types_match_by_value():
    # an Int64 key against a Float64 one: 1.5 must not match 1 (a cast would truncate it)
    left = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    right = pl.DataFrame({"id": [1.5, 2.0, 3.0], "x": [1.0, 2.0, 3.0]})
    report = similarity(left, right, keys="id")
    assert report.layers["keys"].score == pytest.approx(2 / 4)
    assert report.layers["values"].details["shared_keys"] == 2
    # a Boolean key against a text one: compared as text, not a polars cast error
    flags = pl.DataFrame({"id": [True, False], "x": [1.0, 2.0]})
    text = pl.DataFrame({"id": ["true", "maybe"], "x": [1.0, 2.0]})
    assert similarity(flags, text, keys="id").layers["keys"].score == pytest.approx(1 / 3)


@pytest.mark.parametrize("sketch", [False, True])
def test_all_null_and_nan_columns(sketch):

    empty = pl.DataFrame({"id": [1, 2, 3], "x": [None, None, None], "n": [float("nan")] * 3,
                          "c": [None, None, None]},
                         schema={"id": pl.Int64, "x": pl.Float64, "n": pl.Float64, "c": pl.Utf8})
    report = _similarity(empty, empty, sketch)
    assert report.score == 1.0 and report.layers["distributions"].score == 1.0
    full = empty.with_columns(pl.Series("x", [1.0, 2.0, 3.0]), pl.Series("c", ["a", "b", "a"]))
    ev = _similarity(full, empty, sketch).layers["distributions"].evidence
    one_sided = ev.filter(pl.col("column").is_in(["x", "c"]))
    assert one_sided["score"].to_list() == [0.0, 0.0] and one_sided["drift"].all()
    # emptying a column on one side can only lower the distributions layer
    shifted = full.with_columns(pl.Series("x", [10.0, 20.0, 30.0]))
    assert _similarity(full, empty, sketch).layers["distributions"].score \
        < _similarity(full, shifted, sketch).layers["distributions"].score


@pytest.mark.parametrize("sketch", [False, True])
def test_constant_reference_wasserstein_uses_evidently_std_floor(sketch):
    from meshkit import profile

    n = 2000  # above Evidently's 1,000 rows: the normalized Wasserstein rule applies
    ref = pl.DataFrame({"id": np.arange(n), "x": np.full(n, 5.0)})
    cur = ref.with_columns(pl.when(pl.col("id") < 200).then(5.5).otherwise(5.0).alias("x"))
    report = similarity(profile(ref, "id"), profile(cur, "id")) if sketch \
        else similarity(ref, cur, keys="id")
    row = report.layers["distributions"].evidence.row(0, named=True)
    assert np.isfinite(row["wasserstein_normed"])
    assert row["wasserstein_normed"] == pytest.approx(row["wasserstein"] / 0.001)
    assert row["drift"] and WASSERSTEIN_MIN_STD == 0.001


def test_other_drift_tests_are_available_by_name():
    from scipy import stats

    rng = np.random.default_rng(11)
    n = 3000
    ref = pl.DataFrame({"id": np.arange(n), "x": rng.normal(0, 1, n),
                        "c": rng.choice(["a", "b"], n)})
    cur = pl.DataFrame({"id": np.arange(n), "x": rng.normal(0.2, 1, n),
                        "c": rng.choice(["a", "b"], n, p=[0.45, 0.55])})
    default = similarity(ref, cur, keys="id").layers["distributions"].evidence
    assert default["test"].to_list() == ["wasserstein", "jensen_shannon"]
    named = similarity(ref, cur, keys="id", drift_tests={"x": "ks", "c": "z"}) \
        .layers["distributions"]
    x, c = named.evidence.row(0, named=True), named.evidence.row(1, named=True)
    assert (x["test"], c["test"]) == ("ks", "z")
    assert x["ks_pvalue"] == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).pvalue, rel=1e-9)
    assert x["drift"] == (x["ks_pvalue"] <= 0.05) and c["drift"] == (c["z_pvalue"] < 0.05)
    psi = similarity(ref, cur, keys="id", drift_tests={"x": "psi"}) \
        .layers["distributions"].evidence.row(0, named=True)
    assert psi["test"] == "psi" and psi["drift"] == (psi["psi"] >= 0.1)
    for bad, match in (({"x": "t_test"}, "unknown drift test"), ({"c": "ks"}, "numeric column"),
                       ({"x": "z"}, "at most two values")):
        with pytest.raises(mk.ConsistencyError, match=match):
            similarity(ref, cur, keys="id", drift_tests=bad)
    # the dataset drift share follows drift_share
    share = similarity(ref, cur, keys="id", drift_tests={"x": "ks", "c": "z"}, drift_share=0.4) \
        .layers["distributions"].details["dataset_drift"]
    assert share["drift_share_threshold"] == 0.4
    assert share["dataset_drift"] == (share["drift_share"] >= 0.4)
