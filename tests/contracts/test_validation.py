"""Validating polars frames against contracts: every check, the report, and bad input."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit import CheckResult, DataContract, QualityReport, infer_contract, validate
from meshkit import DataError, QualityError


def contract_for(properties: list[dict], quality: list[dict] | None = None) -> DataContract:
    table = {"name": "t", "properties": properties}
    if quality:
        table["quality"] = quality
    return DataContract.from_dict({"apiVersion": "v3.1.0", "kind": "DataContract", "id": "t",
                                   "version": "1.0.0", "status": "active", "schema": [table]})


ORDERS = contract_for(
    [
        {"name": "order_id", "logicalType": "integer", "primaryKey": True},
        {"name": "email", "logicalType": "string", "classification": "pii", "required": True,
         "logicalTypeOptions": {"pattern": "^[^@]+@[^@]+$"}},
        {"name": "amount", "logicalType": "number",
         "logicalTypeOptions": {"minimum": 0, "exclusiveMaximum": 1000}},
        {"name": "unit", "logicalType": "string",
         "quality": [{"metric": "invalidValues", "arguments": {"validValues": ["kg", "lb"]},
                      "mustBe": 0}]},
    ],
    quality=[{"metric": "rowCount", "mustBeGreaterThan": 0}],
)


def good_orders() -> pl.DataFrame:
    return pl.DataFrame({"order_id": [1, 2, 3], "email": ["a@x.org", "b@y.org", "c@z.org"],
                         "amount": [0.0, 10.5, 999.9], "unit": ["kg", "lb", None]})


def bad_orders() -> pl.DataFrame:
    return pl.DataFrame({
        "order_id": [1, 2, 2, None, 5],
        "email": ["secret@x.org", "leak-no-at", None, "d@x.org", "hidden@y.org"],
        "amount": [-1.0, 5.0, 1000.0, None, 12.0],
        "unit": ["kg", "g", "lb", "oz", None],
    })


# ---- a clean product ----------------------------------------------------------------------

def test_a_clean_product_passes_every_check():
    report = validate(good_orders(), ORDERS)
    assert report.passed and report.failed == []
    assert all(c.passed for c in report.checks)
    assert report.rows == 3
    assert report.raise_if_failed(where="orders") is report
    names = [c.name for c in report.checks]
    assert len(names) == len(set(names))
    assert {"t.not_empty", "t.columns", "order_id.type", "email.required", "email.pattern",
            "amount.minimum", "amount.exclusiveMaximum", "unit.quality[0].invalidValues",
            "t.primaryKey", "t.quality[0].rowCount"} <= set(names)


def test_dataframe_and_lazyframe_give_the_same_report():
    eager = validate(bad_orders(), ORDERS)
    lazy = validate(bad_orders().lazy(), ORDERS)
    assert eager.to_dict() == lazy.to_dict()


# ---- each rule counts the right rows -----------------------------------------------------

def test_failing_counts_of_each_rule():
    report = validate(bad_orders(), ORDERS)
    failing = {c.name: c.failing for c in report.checks}
    assert failing["email.required"] == 1
    assert failing["email.pattern"] == 1          # null is not a pattern failure
    assert failing["amount.minimum"] == 1         # -1
    assert failing["amount.exclusiveMaximum"] == 1  # 1000 is not < 1000
    assert failing["unit.quality[0].invalidValues"] == 2  # g, oz; null is not invalid
    assert failing["t.primaryKey"] == 3           # the two 2s and the null
    assert not report.passed
    assert {c.name for c in report.failed} == {
        "email.required", "email.pattern", "amount.minimum", "amount.exclusiveMaximum",
        "unit.quality[0].invalidValues", "t.primaryKey"}


def test_samples_hold_failing_rows_with_their_row_numbers():
    report = validate(bad_orders(), ORDERS, sample_size=5)
    samples = report.check("t.primaryKey").samples
    assert samples["row"].to_list() == [1, 2, 3]
    assert samples["order_id"].to_list() == [2, 2, None]
    assert report.check("amount.minimum").samples["amount"].to_list() == [-1.0]
    assert report.check("email.pattern").samples is not None
    assert report.check("amount.type").samples is None  # passed checks carry no samples
    assert validate(bad_orders(), ORDERS, sample_size=1).check("t.primaryKey").samples.height == 1
    assert validate(bad_orders(), ORDERS, sample_size=0).check("t.primaryKey").samples is None


def test_pii_values_never_leave_the_report():
    report = validate(bad_orders(), ORDERS)
    samples = report.check("email.pattern").samples
    assert samples["email"].to_list() == ["***"]
    assert report.check("email.required").samples["email"].to_list() == [None]
    rendered = str(report) + report._repr_html_() + json.dumps(report.to_dict()) + \
        str(report.to_frame().to_dicts())
    for secret in ("secret@x.org", "leak-no-at", "hidden@y.org", "d@x.org"):
        assert secret not in rendered
    assert "kg" in rendered  # non-pii values of failing rows are shown


def test_between_is_exclusive_at_both_ends():
    rule = [{"metric": "rowCount", "mustBeBetween": [2, 4]}]
    contract = contract_for([{"name": "x", "logicalType": "integer"}], quality=rule)
    outcome = {n: validate(pl.DataFrame({"x": list(range(n))}), contract)
               .check("t.quality[0].rowCount").passed for n in (1, 2, 3, 4, 5)}
    assert outcome == {1: False, 2: False, 3: True, 4: False, 5: False}
    nulls = contract_for([{"name": "x", "logicalType": "integer", "quality": [
        {"metric": "nullValues", "mustNotBeBetween": [1, 3]}]}])
    outcome = {k: validate(pl.DataFrame({"x": [None] * k + [1] * (5 - k)},
                                        schema={"x": pl.Int64}), nulls)
               .check("x.quality[0].nullValues").passed for k in range(5)}
    assert outcome == {0: True, 1: True, 2: False, 3: True, 4: True}


@pytest.mark.parametrize("operator, threshold, passing_counts", [
    ("mustBe", 2, {2}),
    ("mustNotBe", 2, {0, 1, 3, 4}),
    ("mustBeGreaterThan", 2, {3, 4}),
    ("mustBeGreaterOrEqualTo", 2, {2, 3, 4}),
    ("mustBeLessThan", 2, {0, 1}),
    ("mustBeLessOrEqualTo", 2, {0, 1, 2}),
])
def test_operators_compare_the_metric(operator, threshold, passing_counts):
    contract = contract_for([{"name": "x", "logicalType": "integer", "quality": [
        {"metric": "nullValues", operator: threshold}]}])
    for nulls in range(5):
        frame = pl.DataFrame({"x": [None] * nulls + [7] * (4 - nulls)}, schema={"x": pl.Int32})
        check = validate(frame, contract).check("x.quality[0].nullValues")
        assert check.failing == nulls and check.observed == nulls
        assert check.passed == (nulls in passing_counts)


def test_percent_unit_compares_a_share_of_rows():
    contract = contract_for([{"name": "x", "logicalType": "string", "quality": [
        {"metric": "missingValues", "arguments": {"missingValues": [None, "", "N/A"]},
         "mustBeLessThan": 50, "unit": "percent"}]}])
    frame = pl.DataFrame({"x": ["a", "", "N/A", None, "b", "c", "d", "e"]})
    check = validate(frame, contract).check("x.quality[0].missingValues")
    assert (check.failing, check.observed, check.passed) == (3, 37.5, True)
    frame = pl.DataFrame({"x": ["a", "", "N/A", None]})
    assert not validate(frame, contract).check("x.quality[0].missingValues").passed


def test_missing_values_default_and_without_null():
    contract = contract_for([
        {"name": "s", "logicalType": "string", "quality": [{"metric": "missingValues", "mustBe": 0}]},
        {"name": "i", "logicalType": "integer", "quality": [
            {"metric": "missingValues", "arguments": {"missingValues": [-1]}, "mustBe": 0}]}])
    frame = pl.DataFrame({"s": ["", None, "ok"], "i": [-1, None, 3]})
    report = validate(frame, contract)
    assert report.check("s.quality[0].missingValues").failing == 2
    assert report.check("i.quality[0].missingValues").failing == 1  # null not listed


def test_invalid_values_by_pattern_and_both_criteria_on_categoricals():
    contract = contract_for([{"name": "code", "logicalType": "string", "quality": [
        {"metric": "invalidValues", "arguments": {"pattern": "^[A-Z]{2}$"}, "mustBe": 0},
        {"metric": "invalidValues", "arguments": {"validValues": ["AB", "CD", "x"],
                                                  "pattern": "^[A-Z]{2}$"}, "mustBe": 0}]}])
    frame = pl.DataFrame({"code": pl.Series(["AB", "CD", "EF", "x", None], dtype=pl.Categorical)})
    report = validate(frame, contract)
    assert report.check("code.type").passed
    assert report.check("code.quality[0].invalidValues").failing == 1  # x
    assert report.check("code.quality[1].invalidValues").failing == 2  # EF (not valid), x (pattern)


def test_duplicates_on_a_column_and_across_columns():
    contract = contract_for(
        [{"name": "a", "logicalType": "integer", "unique": True,
          "quality": [{"metric": "duplicateValues", "mustBeLessThan": 3}]},
         {"name": "b", "logicalType": "string"}],
        quality=[{"metric": "duplicateValues", "mustBe": 0,
                  "arguments": {"properties": ["a", "b"]}}])
    frame = pl.DataFrame({"a": [1, 1, 2, None, None, 3], "b": ["x", "y", "z", "w", "w", "v"]})
    report = validate(frame, contract)
    assert report.check("a.unique").failing == 2  # both 1s; nulls are never duplicates
    assert report.check("a.quality[0].duplicateValues").passed
    assert report.check("t.quality[0].duplicateValues").failing == 2  # (null, w) twice


def test_composite_primary_key():
    contract = contract_for([
        {"name": "k1", "logicalType": "string", "primaryKey": True, "primaryKeyPosition": 1},
        {"name": "k2", "logicalType": "integer", "primaryKey": True, "primaryKeyPosition": 2}])
    frame = pl.DataFrame({"k1": ["a", "a", "b", "b", None], "k2": [1, 2, 1, 1, 3]})
    check = validate(frame, contract).check("t.primaryKey")
    assert (check.column, check.failing) == ("k1, k2", 3)


def test_string_lengths_and_number_options():
    contract = contract_for([
        {"name": "s", "logicalType": "string", "logicalTypeOptions": {"minLength": 2, "maxLength": 3}},
        {"name": "n", "logicalType": "number",
         "logicalTypeOptions": {"exclusiveMinimum": 0, "maximum": 1, "multipleOf": 0.25}},
        {"name": "i", "logicalType": "integer", "logicalTypeOptions": {"multipleOf": 5}}])
    frame = pl.DataFrame({"s": ["a", "ab", "abc", "abcd", "é€"], "n": [0.0, 0.25, 0.3, 1.0, 1.25],
                          "i": [0, 5, 7, -10, None]})
    report = validate(frame, contract)
    failing = {c.name: c.failing for c in report.checks}
    assert failing["s.minLength"] == 1 and failing["s.maxLength"] == 1  # "é€" is 2 characters
    assert failing["n.exclusiveMinimum"] == 1 and failing["n.maximum"] == 1
    assert failing["n.multipleOf"] == 1 and failing["i.multipleOf"] == 1


def test_temporal_bounds_including_time_zones():
    contract = contract_for([
        {"name": "d", "logicalType": "date", "logicalTypeOptions": {"minimum": "2024-01-01",
                                                                  "exclusiveMaximum": "2024-12-31"}},
        {"name": "ts", "logicalType": "timestamp",
         "logicalTypeOptions": {"minimum": "2024-06-01T02:00:00+02:00"}},
        {"name": "naive", "logicalType": "timestamp",
         "logicalTypeOptions": {"maximum": "2024-06-01T00:00:00"}},
        {"name": "clock", "logicalType": "time", "logicalTypeOptions": {"maximum": "18:00:00"}}])
    utc = dt.timezone.utc
    frame = pl.DataFrame({
        "d": [dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 12, 31)],
        "ts": [dt.datetime(2024, 5, 31, 23, 59, tzinfo=utc), dt.datetime(2024, 6, 1, tzinfo=utc),
               dt.datetime(2024, 7, 1, tzinfo=utc)],
        "naive": [dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 2), dt.datetime(2024, 1, 1)],
        "clock": [dt.time(17), dt.time(18), dt.time(19)]})
    failing = {c.name: c.failing for c in validate(frame, contract).checks}
    assert failing["d.minimum"] == 1 and failing["d.exclusiveMaximum"] == 1
    assert failing["ts.minimum"] == 1   # 02:00+02:00 is midnight UTC
    assert failing["naive.maximum"] == 1 and failing["clock.maximum"] == 1


def test_listed_timestamps_match_columns_with_or_without_a_time_zone():
    contract = contract_for([
        {"name": "ts", "logicalType": "timestamp", "quality": [
            {"metric": "invalidValues", "mustBe": 0,
             "arguments": {"validValues": ["2024-06-01T02:00:00+02:00", "2024-06-02T00:00:00"]}},
            {"metric": "missingValues", "mustBe": 0,
             "arguments": {"missingValues": [None, "2024-06-03T00:00:00Z"]}}]}])
    instants = [dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 2), dt.datetime(2024, 6, 3),
                dt.datetime(2024, 6, 4), None]
    naive = pl.Series("ts", instants, dtype=pl.Datetime("ns"))
    for column in (naive, naive.dt.replace_time_zone("UTC")):  # naive values read as UTC
        report = validate(pl.DataFrame([column]), contract)
        assert report.check("ts.quality[0].invalidValues").failing == 2   # 06-03 and 06-04
        assert report.check("ts.quality[1].missingValues").failing == 2   # 06-03 and null


def test_severity_warning_is_shown_but_does_not_fail():
    contract = contract_for([{"name": "x", "logicalType": "integer", "quality": [
        {"metric": "nullValues", "mustBe": 0, "severity": "warning"}]}])
    report = validate(pl.DataFrame({"x": [1, None]}), contract)
    check = report.check("x.quality[0].nullValues")
    assert not check.passed and check.severity == "warning"
    assert report.passed
    assert "WARN  x.quality[0].nullValues" in str(report)


# ---- schema mismatches and empty products are failing checks, not exceptions --------------

def test_missing_column_fails_its_checks_without_evaluating_them():
    report = validate(good_orders().drop("email"), ORDERS)
    assert not report.passed
    assert report.check("email.type").message == "column missing"
    for name in ("email.required", "email.pattern"):
        check = report.check(name)
        assert not check.passed and check.failing is None and "not evaluated" in check.message
    assert report.check("amount.minimum").passed


def test_wrong_dtype_and_extra_columns():
    frame = good_orders().with_columns(pl.col("order_id").cast(pl.String), extra=pl.lit(1))
    report = validate(frame, ORDERS)
    assert report.check("order_id.type").message == "found String"
    assert not report.check("t.primaryKey").passed
    columns = report.check("t.columns")
    assert not columns.passed and columns.observed == 1 and "extra" in columns.message
    with pytest.raises(QualityError) as info:
        report.raise_if_failed(where="products/orders")
    assert info.value.report is report
    assert "order_id.type" in str(info.value) and "t.columns" in str(info.value)
    assert info.value.where == "products/orders"


@pytest.mark.parametrize("dtype", [pl.Int64, pl.UInt8, pl.Float32, pl.Decimal(10, 2)])
def test_number_accepts_every_numeric_dtype(dtype):
    contract = contract_for([{"name": "x", "logicalType": "number",
                              "logicalTypeOptions": {"minimum": 0}}])
    report = validate(pl.DataFrame({"x": pl.Series([1, 2], dtype=dtype)}), contract)
    assert report.passed


def test_integer_rejects_floats():
    contract = contract_for([{"name": "x", "logicalType": "integer"}])
    assert not validate(pl.DataFrame({"x": [1.0]}), contract).passed


def test_an_empty_product_fails():
    frame = good_orders().clear()
    report = validate(frame, ORDERS)
    assert not report.passed
    assert [c.name for c in report.failed] == ["t.not_empty", "t.quality[0].rowCount"]
    assert report.check("t.not_empty").message == "the product is empty"
    with pytest.raises(QualityError, match=r"t\.not_empty"):
        report.raise_if_failed()


def test_a_frame_with_a_row_column_keeps_its_samples_apart():
    contract = contract_for([{"name": "row", "logicalType": "integer",
                              "logicalTypeOptions": {"maximum": 1}}])
    samples = validate(pl.DataFrame({"row": [0, 5]}), contract).check("row.maximum").samples
    assert samples.columns == ["_row", "row"] and samples.row(0) == (1, 5)


# ---- bad input raises ---------------------------------------------------------------------

@pytest.mark.parametrize("thing", [{"order_id": [1]}, [1, 2], None, "orders.parquet"])
def test_only_polars_frames_are_validated(thing):
    with pytest.raises(DataError, match="expected a polars DataFrame or LazyFrame"):
        validate(thing, ORDERS)


def test_pandas_frames_are_refused_with_their_type():
    import pandas as pd
    with pytest.raises(DataError, match="found DataFrame"):
        validate(pd.DataFrame({"order_id": [1]}), ORDERS)


def test_bad_contract_or_sample_size():
    with pytest.raises(DataError, match="expected a DataContract"):
        validate(good_orders(), ORDERS.to_dict())
    with pytest.raises(DataError, match="sample_size"):
        validate(good_orders(), ORDERS, sample_size=-1)


# ---- the report explains itself -----------------------------------------------------------

def test_to_frame_has_one_row_per_check():
    report = validate(bad_orders(), ORDERS)
    frame = report.to_frame()
    assert frame.height == len(report.checks)
    assert frame.columns == ["name", "column", "rule", "severity", "passed", "failing", "total",
                             "observed", "expected", "message"]
    assert frame.filter(pl.col("name") == "t.primaryKey")["failing"].item() == 3
    assert frame["passed"].sum() == len(report.checks) - sum(not c.passed for c in report.checks)


def test_to_dict_is_json_ready_with_dates():
    contract = contract_for([{"name": "d", "logicalType": "date",
                              "logicalTypeOptions": {"minimum": "2024-01-01"}}])
    report = validate(pl.DataFrame({"d": [dt.date(2020, 5, 17)]}), contract)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False and data["failed"] == ["d.minimum"]
    check = next(c for c in data["checks"] if c["name"] == "d.minimum")
    assert check["samples"] == [{"row": 0, "d": "2020-05-17"}]


def test_text_and_html_are_deterministic():
    first, second = validate(bad_orders(), ORDERS), validate(bad_orders().lazy(), ORDERS)
    assert str(first) == str(second) and first._repr_html_() == second._repr_html_()
    text = str(first)
    assert text.startswith("QualityReport t v1.0.0: FAILED (")
    assert "FAIL  t.primaryKey" in text
    assert not re.search(r"0x[0-9a-f]{6,}|\d{4}-\d\d-\d\dT\d\d:", text + first._repr_html_())
    assert "<table" in first._repr_html_() and "t.primaryKey" in first._repr_html_()
    assert repr(first).startswith("QualityReport(contract_id='t', passed=False")


def test_report_lookup_of_an_unknown_check():
    report = QualityReport("t", "1", 0, [CheckResult("a", None, "x", True, 0, 0)])
    with pytest.raises(KeyError, match="no check named 'b'"):
        report.check("b")


def test_infer_then_validate_round_trip():
    frame = bad_orders()
    contract = infer_contract(frame, id="orders", pii=["email"])
    report = validate(frame, contract)
    assert report.passed  # columns, types and nulls are those of the frame


# ---- counts agree with a plain-Python reference on random data ---------------------------

@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=30))
def test_counts_match_a_reference(values):
    contract = contract_for([{"name": "x", "logicalType": "integer", "unique": True,
                              "logicalTypeOptions": {"minimum": -2, "exclusiveMaximum": 3},
                              "quality": [{"metric": "nullValues", "mustBe": 0},
                                          {"metric": "invalidValues", "mustBe": 0,
                                           "arguments": {"validValues": [0, 1, 2]}}]}])
    report = validate(pl.DataFrame({"x": values}, schema={"x": pl.Int64}), contract)
    present = [v for v in values if v is not None]
    counts = Counter(present)
    expected = {
        "x.unique": sum(1 for v in present if counts[v] > 1),
        "x.minimum": sum(1 for v in present if v < -2),
        "x.exclusiveMaximum": sum(1 for v in present if v >= 3),
        "x.quality[0].nullValues": len(values) - len(present),
        "x.quality[1].invalidValues": sum(1 for v in present if v not in (0, 1, 2)),
    }
    assert {name: report.check(name).failing for name in expected} == expected
    assert report.check("t.not_empty").passed == bool(values)
    assert report.passed == (bool(values) and not any(expected.values()))


@pytest.mark.parametrize("values, dtype", [
    ([{"x": 1}, {"x": 1}, {"x": 2}, None], pl.Struct({"x": pl.Int64})),
    ([[1], [1], [], None, []], pl.List(pl.Int64)),
    ([float("nan"), float("nan"), 1.0, None, None], pl.Float64),
    (["b", "a", "b", None, "a", "c"], pl.Categorical),
    ([True, False, None, None], pl.Boolean),
])
def test_duplicate_counts_agree_with_hashing_for_every_dtype(values, dtype):
    logical = {pl.Struct: "object", pl.List: "array", pl.Float64: "number",
               pl.Categorical: "string", pl.Boolean: "boolean"}[dtype.base_type()]
    contract = contract_for([{"name": "v", "logicalType": logical, "unique": True,
                              "primaryKey": True}])
    frame = pl.DataFrame({"v": pl.Series(values, dtype=dtype)})
    report = validate(frame, contract)
    reference = frame.select((pl.col("v").is_duplicated() & pl.col("v").is_not_null()).sum()).item()
    assert report.check("v.unique").failing == reference
    nulls = frame["v"].null_count()
    assert report.check("t.primaryKey").failing == reference + nulls
    samples = report.check("t.primaryKey").samples
    if reference + nulls:
        assert 0 < samples.height <= 5


def test_the_public_api_exports_the_contract_names():
    import meshkit
    from meshkit import _contracts as contracts

    assert meshkit.DataContract is DataContract and meshkit.validate is validate
    assert meshkit.QualityReport is QualityReport
    assert set(meshkit.__all__) >= set(contracts.__all__) >= {"DataContract", "validate", "QualityReport", "CheckResult",
                                      "infer_contract"}


def test_an_unreadable_lazy_source_is_a_data_error(tmp_path):
    lazy = pl.scan_parquet(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match="cannot read the product") as info:
        validate(lazy, ORDERS)
    assert info.value.__cause__ is not None
