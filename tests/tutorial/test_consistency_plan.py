"""Scenario defaults for the consistency walk-through: plan_copy and stale_copy on any product."""

from datetime import date, datetime

import polars as pl
import pytest

from meshkit import similarity
from meshkit.tutorial.copy_plan import default_reference, plan_copy
from meshkit.tutorial.inject import stale_copy
from meshkit.tutorial.inject import default_columns, default_type_to
from meshkit import ConsistencyError, SpecError
from meshkit.scenarios import SCENARIOS


def test_default_reference_is_the_keyed_product_with_most_pii(scenarios):
    assert default_reference(scenarios["retail"].mesh) == "customer_profiles"
    assert default_reference(scenarios["healthcare"].mesh) == "north_admissions"
    # no PII anywhere: the first keyed product of the mesh
    mesh = scenarios["manufacturing"].mesh
    assert default_reference(mesh) == next(iter(mesh.products())).name


def test_retail_plan_keeps_the_walk_through_of_the_customer_records(scenarios):
    sc = scenarios["retail"]
    plan = plan_copy(sc.mesh, sc.frames)
    assert (plan.reference, plan.keys) == ("customer_profiles", ["user_id"])
    assert plan.stale_product == "customer_profiles_at_orders"
    assert (plan.stale_column, plan.type_column, plan.shift_column, plan.narrowed_column) == (
        "email", "signup_date", "signup_date", "country")
    assert plan.type_to == pl.Datetime("us")
    assert set(plan.defaulted) == {"reference", "keys", "stale_product", "stale_column",
                                   "type_column", "shift_column", "narrowed_column"}
    narrowed = plan.narrowed_values(sc.mesh.product("customer_profiles").contract)
    assert list(narrowed) == ["country"] and "SE" not in narrowed["country"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_gets_all_four_changes_on_its_own_columns(scenarios, name):
    sc = scenarios[name]
    plan = plan_copy(sc.mesh, sc.frames)
    names = {p.name for p in sc.mesh.products()}
    assert plan.reference in names and plan.stale_product not in names
    source = sc.frames[plan.reference]
    assert source.select(plan.keys).is_unique().all()
    copy, done = stale_copy(source, plan.keys, seed=1, **plan.stale_copy_args())
    assert [i.name for i in done] == ["stale_values", "missing_rows", "type_change", "shift"]
    changed = {i.name: i.column for i in done}
    assert not set(plan.keys) & {changed["stale_values"], changed["type_change"],
                                 changed["shift"]}
    assert copy.schema[plan.type_column] != source.schema[plan.type_column]
    assert 0 < copy[plan.stale_column].str.starts_with("old.").sum() <= done[0].rows
    assert copy.height < source.height
    report = similarity(source, copy, keys=plan.keys)
    assert report.score < 1
    assert all(s < 1 for s in report.layer_scores().values()), report.layer_scores()


def test_given_choices_are_kept_and_checked(scenarios):
    sc = scenarios["retail"]
    plan = plan_copy(sc.mesh, sc.frames, reference="purchases", type_column="price",
                     stale_product="orders_copy")
    assert (plan.reference, plan.keys, plan.stale_product) == ("purchases", ["order_id"],
                                                                "orders_copy")
    assert plan.type_to == pl.Utf8
    assert plan.stale_column is None  # no text column besides the key: nothing goes stale
    # the shift cannot land on the column the copy turns into text
    assert plan.shift_column not in (None, "price", "order_id")
    assert "reference" not in plan.defaulted and "keys" in plan.defaulted
    with pytest.raises(SpecError, match="customer_profiles"):
        plan_copy(scenarios["healthcare"].mesh, scenarios["healthcare"].frames,
                  reference="customer_profiles")
    with pytest.raises(ConsistencyError, match="no such column"):
        plan_copy(sc.mesh, sc.frames, stale_column="no_such_column")
    with pytest.raises(ConsistencyError, match="replace a product"):
        plan_copy(sc.mesh, sc.frames, stale_product="purchases")


def test_default_columns_never_touch_the_key_and_follow_the_types():
    frame = pl.DataFrame({"id": ["a", "b", "c", "d"], "code": ["x", "y", "x", "y"],
                          "name": ["p", "q", "r", "s"], "flag": [0, 1, 0, 1],
                          "at": [datetime(2024, 1, d) for d in (1, 2, 3, 4)],
                          "level": [1.0, 2.0, 3.5, 9.0]})
    cols = default_columns(frame, "id")
    assert cols == {"stale_column": "name", "type_column": "at", "type_to": pl.Date,
                    "shift_column": "level"}
    assert default_type_to(pl.Date) == pl.Datetime("us")
    assert default_type_to(pl.Float64) == pl.Utf8


def test_stale_copy_skips_what_does_not_apply_but_refuses_a_named_missing_column():
    numbers = pl.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 5.0, 2.0, 8.0]})
    copy, done = stale_copy(numbers, "id", fraction=0.5)
    # no text column to go stale; once x is stored as text nothing is left to shift
    assert [i.name for i in done] == ["missing_rows", "type_change"]
    assert done[1].column == "x" and copy.schema["x"] == pl.Utf8
    copy, done = stale_copy(numbers, "id", steps=["shift"])
    assert [i.column for i in done] == ["x"] and copy["x"].mean() > numbers["x"].mean()
    with pytest.raises(ConsistencyError, match="stale_values"):
        stale_copy(numbers, "id", steps=["stale_values"], stale_column="email")
    dates = pl.DataFrame({"id": [1, 2, 3], "day": [date(2024, 1, d) for d in (1, 2, 3)]})
    copy, done = stale_copy(dates, "id", steps=["type_change"], type_column="day")
    assert copy.schema["day"] == pl.Datetime("us")
