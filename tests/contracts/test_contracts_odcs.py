"""ODCS as users have it: v3.0.x, v3.1.0 and v3.2.0 contracts, read losslessly and enforced.

The standard's published examples live in its source repository, which no installed package
ships; these contracts are written here to use every feature those examples use (several
tables, ``sql`` and ``custom`` rules, ``enum``, format options, an empty schema,
relationships, the three releases), and the standard's negative cases are mirrored by
hand-written invalid documents.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import math
from pathlib import Path

import jsonschema
import polars as pl
import pytest
import yaml

from meshkit import (
    CheckResult,
    ContractError,
    DataContract,
    DataError,
    QualityReport,
    Relationship,
    SchemaObject,
    check_relationships,
    validate,
)

V302 = """\
apiVersion: v3.0.2
kind: DataContract
id: 7a1c-stores
name: Store visits
version: 0.9.0
status: draft
domain: retail
dataProduct: visits
description:
  purpose: Visits counted at the door of each store.
  limitations: Counts stop when a sensor is offline.
team:
  - username: mlopez
    role: owner
    dateIn: 2023-04-01
servers:
  - server: local
    type: local
    path: ./visits.parquet
    format: parquet
schema:
  - name: visits
    physicalName: visits_v1
    physicalType: table
    properties:
      - name: store_id
        logicalType: integer
        primaryKey: true
        primaryKeyPosition: 1
      - name: visitors
        logicalType: integer
        logicalTypeOptions:
          minimum: 0
          maximum: 100000
          exclusiveMaximum: true
          format: i32
        quality:
          - rule: nullCheck
            mustBeLessThan: 1
            description: every count is present
      - name: day
        logicalType: date
        logicalTypeOptions:
          format: yyyy-MM-dd
      - name: opened_on
        logicalType: date
        logicalTypeOptions:
          minimum: "2020-01-01"
    quality:
      - rule: rowCount
        mustBeGreaterThan: 0
      - type: custom
        engine: greatExpectations
        implementation: |
          expect_table_row_count_to_be_between: {min_value: 1}
"""

V310 = """\
apiVersion: v3.1.0
kind: DataContract
id: urn:shop:orders
version: 2.0.0
status: active
name: Shop
tags: [shop, orders]
slaProperties:
  - property: latency
    value: 4
    unit: h
schema:
  - name: customers
    physicalType: table
    properties:
      - name: customer_id
        logicalType: string
        primaryKey: true
        logicalTypeOptions:
          pattern: "^C[0-9]{3}$"
          minLength: 4
          maxLength: 4
      - name: email
        logicalType: string
        classification: pii
  - name: orders
    physicalType: table
    description: One row per order.
    properties:
      - name: order_id
        logicalType: integer
        required: true
        unique: true
      - name: customer_id
        logicalType: string
        relationships:
          - to: customers.customer_id
            type: foreignKey
      - name: amount
        logicalType: number
        logicalTypeOptions:
          exclusiveMinimum: 0
        quality:
          - type: sql
            query: SELECT COUNT(*) FROM ${object} WHERE ${property} > 1000
            mustBeLessOrEqualTo: 1
            name: few_large_orders
            dimension: accuracy
      - name: items
        logicalType: array
        logicalTypeOptions:
          minItems: 1
    quality:
      - type: sql
        query: SELECT SUM(amount) FROM orders
        mustBeGreaterThan: 0
      - type: text
        description: Orders are final once shipped.
      - metric: rowCount
        mustBeBetween: [0, 1000]
  - name: archive
"""

V320 = """\
apiVersion: v3.2.0
kind: DataContract
id: urn:shop:payments
version: 1.0.0
status: proposed
schema:
  - name: payments
    properties:
      - name: payment_id
        logicalType: integer
        primaryKey: true
      - name: state
        logicalType: string
        enum:
          - value: paid
            label: Paid
            description: Money received.
          - value: refunded
            label: Refunded
      - name: priority
        logicalType: integer
        enum:
          - value: 1
          - value: 2
      - name: order_id
        logicalType: integer
      - name: attributes
        logicalType: map
        map:
          key:
            logicalType: string
          value:
            logicalType: string
    relationships:
      - type: foreignKey
        from: payments.order_id
        to: orders.order_id
    quality:
      - type: custom
        engine: soda
        implementation:
          type: row_count
          must_be_greater_than: 0
      - type: sql
        query: SELECT COUNT(*) FROM payments WHERE priority IS NULL
        mustBe: 0
"""

EMPTY = """\
apiVersion: v3.2.0
kind: DataContract
id: placeholder
version: 0.0.1
schema: []
"""

DOCUMENTS = {"v3.0.2": V302, "v3.1.0": V310, "v3.2.0": V320, "empty": EMPTY}


def _json_ready(value):
    return json.loads(json.dumps(value, default=str))


def official_schema(release: str) -> dict:
    """The official schema, located through its distribution (the package is not imported)."""
    if release == "v3.2.0":
        dist, name = "open-data-contract-standard", "open_data_contract_standard/schema.json"
    else:
        dist, name = "datacontract-cli", f"datacontract/schemas/odcs-{release[1:]}.schema.json"
    path = Path(importlib.metadata.distribution(dist).locate_file(name))
    return json.loads(path.read_text(encoding="utf-8"))


# ---- reading every release, losslessly ----------------------------------------------------

@pytest.mark.parametrize("label", list(DOCUMENTS))
def test_each_release_reads_with_a_lossless_round_trip(label, tmp_path):
    raw = _json_ready(yaml.safe_load(DOCUMENTS[label]))
    path = tmp_path / "c.yaml"
    path.write_text(DOCUMENTS[label])
    contract = DataContract.from_yaml(path)
    assert contract.api_version == raw["apiVersion"]
    assert contract.to_dict() == raw
    written = tmp_path / "out.yaml"
    contract.to_yaml(written)
    assert yaml.safe_load(written.read_text()) == raw
    assert DataContract.from_yaml(written) == contract


@pytest.mark.parametrize("label", ["v3.0.2", "v3.1.0", "v3.2.0"])
def test_what_meshkit_writes_is_valid_against_its_releases_official_schema(label):
    contract = DataContract.from_dict(yaml.safe_load(DOCUMENTS[label]))
    schema = official_schema(label)
    jsonschema.validators.validator_for(schema)(schema).validate(contract.to_dict())


def test_v302_using_what_v310_introduced_reads_as_the_standard_reads_it():
    """A v3.0.2 document with a timestamp column breaks the v3.0.2 schema, the v3.1.0 schema
    accepts it; the standard checks its v3.0.2-labelled examples the same way."""
    raw = {"apiVersion": "v3.0.2", "kind": "DataContract", "id": "w", "version": "1",
           "status": "draft", "schema": [{"name": "w", "properties": [
               {"name": "at", "logicalType": "timestamp",
                "logicalTypeOptions": {"minimum": "2020-01-01 00:00:00"}}]}]}
    v302, v310 = official_schema("v3.0.2"), official_schema("v3.1.0")
    assert not jsonschema.validators.validator_for(v302)(v302).is_valid(raw)
    assert jsonschema.validators.validator_for(v310)(v310).is_valid(raw)
    contract = DataContract.from_dict(copy.deepcopy(raw))
    assert contract.api_version == "v3.0.2" and contract.to_dict() == raw
    raw["schema"][0]["properties"][0]["logicalType"] = "identifier"
    with pytest.raises(ContractError, match=r"properties\[0\]\.logicalType: not valid ODCS v3.0.2"):
        DataContract.from_dict(raw)


def test_a_v310_document_is_not_let_through_by_the_v320_schema():
    raw = _json_ready(yaml.safe_load(V310))
    del raw["status"]  # optional in v3.2.0, required in v3.1.0
    with pytest.raises(ContractError, match=r"^status: a required field is missing"):
        DataContract.from_dict(raw)
    raw["apiVersion"] = "v3.2.0"
    assert DataContract.from_dict(raw).status is None


# ---- several tables ---------------------------------------------------------------------------

def test_several_tables_each_give_a_single_table_contract():
    shop = DataContract.from_dict(yaml.safe_load(V310))
    assert shop.tables == ["customers", "orders", "archive"]
    orders = shop.object("orders")
    assert orders.columns == ["order_id", "customer_id", "amount", "items"]
    assert orders.id == shop.id and orders.to_dict()["slaProperties"] == shop.extra["slaProperties"]
    assert shop.object("customers").pii_columns == ["email"]
    assert shop.object("archive").columns == []
    for single_table_only in (lambda: shop.columns, lambda: shop.primary_key,
                              lambda: shop.property("email")):
        with pytest.raises(ContractError, match="needs a single-table contract"):
            single_table_only()
    with pytest.raises(ContractError, match=r"no such schema object.*found 'nope'"):
        shop.object("nope")
    frame = pl.DataFrame({"customer_id": ["C001"], "email": ["a@b.c"]})
    with pytest.raises(ContractError, match="one table of its contract"):
        validate(frame, shop)
    assert validate(frame, shop, table="customers").passed


def test_a_contract_built_in_code_from_schema_objects():
    two = DataContract(id="x", version="1", status="draft", api_version="v3.2.0", objects=(
        SchemaObject("a", ()), SchemaObject("b", ())))
    doc = two.to_dict()
    assert [t["name"] for t in doc["schema"]] == ["a", "b"]
    assert DataContract.from_dict(doc) == two


# ---- enforcement ------------------------------------------------------------------------------

def _orders(amounts, items=None, customer_ids=None):
    n = len(amounts)
    return pl.DataFrame({
        "order_id": list(range(n)), "customer_id": customer_ids or ["C001"] * n,
        "amount": amounts, "items": items or [["x"]] * n})


def test_sql_rules_run_on_the_product_with_placeholders_filled():
    orders = DataContract.from_dict(yaml.safe_load(V310)).object("orders")
    good = validate(_orders([10.0, 2000.0]), orders)
    large = good.check("amount.quality[0].sql")
    assert large.passed and large.observed == 1 and "amount > 1000" in large.message
    assert good.check("orders.quality[0].sql").observed == pytest.approx(2010.0)
    bad = validate(_orders([2000.0, 3000.0]), orders)
    assert not bad.check("amount.quality[0].sql").passed
    assert bad.check("amount.quality[0].sql").observed == 2
    assert "amount.quality[0].sql" in [c.name for c in bad.failed]


def test_a_sql_rule_that_cannot_run_fails_and_says_why():
    doc = yaml.safe_load(V310)
    doc["schema"][1]["quality"][0]["query"] = "SELECT COUNT(*) FROM orders WHERE nope > 1"
    doc["schema"][1]["quality"].append({"type": "sql", "query": "SELECT order_id FROM orders",
                                        "mustBe": 0})
    report = validate(_orders([1.0, 2.0]), DataContract.from_dict(doc).object("orders"))
    broken = report.check("orders.quality[0].sql")
    assert broken.passed is False and "could not run" in broken.message
    several = report.check("orders.quality[3].sql")
    assert several.passed is False and "not one number" in several.message


def test_format_options_enforced_and_the_others_reported():
    orders = DataContract.from_dict(yaml.safe_load(V310))
    report = validate(_orders([0.0, 5.0], items=[["a"], []]), orders.object("orders"))
    assert report.check("amount.exclusiveMinimum").failing == 1
    assert report.check("items.minItems").failing == 1
    customers = validate(pl.DataFrame({"customer_id": ["C001", "C01", "X123", None],
                                       "email": ["a", "b", "c", "d"]}),
                         orders.object("customers"))
    assert customers.check("customer_id.pattern").failing == 2   # C01, X123
    assert customers.check("customer_id.minLength").failing == 1  # C01
    assert customers.check("customer_id.maxLength").passed
    visits = DataContract.from_dict(yaml.safe_load(V302))
    frame = pl.DataFrame({"store_id": [1, 2, 3], "visitors": [5, 100000, None],
                          "day": [None] * 3,
                          "opened_on": [None] * 3}).cast({"day": pl.Date,
                                                         "opened_on": pl.Date})
    report = validate(frame, visits)
    assert report.check("visitors.maximum").failing == 1  # v3.0 exclusiveMaximum: true
    assert report.check("visitors.format").passed is None
    assert "option 'format'" in report.check("day.format").message
    assert report.check("visitors.quality[0].nullValues").failing == 1  # v3.0 nullCheck
    assert not report.check("visitors.quality[0].nullValues").passed
    assert report.check("visits.quality[0].rowCount").passed          # v3.0 rowCount
    assert report.check("visits.quality[0].rowCount").expected == "rowCount > 0 rows"
    assert report.check("visits.quality[1].custom").passed is None


def test_enum_values_are_enforced():
    payments = DataContract.from_dict(yaml.safe_load(V320))
    assert payments.property("state").enum == ["paid", "refunded"]
    frame = pl.DataFrame({"payment_id": [1, 2, 3, 4], "state": ["paid", "lost", None, "Paid"],
                          "priority": [1, 2, 3, 1], "order_id": [1, 1, 2, 3],
                          "attributes": [[{"key": "k", "value": "v"}]] * 4})
    report = validate(frame, payments)
    assert report.check("state.enum").failing == 2      # lost, Paid; null is not a value
    assert report.check("priority.enum").failing == 1   # 3
    assert report.check("attributes.type").passed       # a map as Arrow reads it
    samples = report.check("state.enum").samples
    assert samples["state"].to_list() == ["lost", "Paid"]


def test_rules_of_engines_meshkit_does_not_run_are_never_refused_nor_passed():
    payments = DataContract.from_dict(yaml.safe_load(V320))
    frame = pl.DataFrame({"payment_id": [1], "state": ["paid"], "priority": [2],
                          "order_id": [1], "attributes": [[{"key": "k", "value": "v"}]]})
    report = validate(frame, payments)
    custom = report.check("payments.quality[0].custom")
    assert custom.passed is None and "engine 'soda'" in custom.message
    assert report.passed and custom in report.not_enforced
    data = report.to_dict()
    assert "payments.quality[0].custom" in data["not_enforced"]
    assert "payments.quality[0].custom" not in data["failed"]
    frame_view = report.to_frame().filter(pl.col("name") == "payments.quality[0].custom")
    assert frame_view["passed"].to_list() == [None]


def test_empty_schema_reads_but_there_is_no_table_to_validate():
    empty = DataContract.from_dict(yaml.safe_load(EMPTY))
    assert empty.tables == [] and empty.relationships == []
    with pytest.raises(ContractError, match="0 schema objects"):
        validate(pl.DataFrame({"a": [1]}), empty)


# ---- relationships ----------------------------------------------------------------------------

def test_relationships_are_read_from_properties_and_schema_objects():
    shop = DataContract.from_dict(yaml.safe_load(V310))
    assert shop.relationships == [Relationship(
        "orders", ("customer_id",), "customers", ("customer_id",),
        "schema[1].properties[1].relationships[0]")]
    payments = DataContract.from_dict(yaml.safe_load(V320))
    assert [r.name for r in payments.relationships] == ["payments.order_id->orders.order_id"]


def test_referential_gaps_between_two_published_tables():
    shop = DataContract.from_dict(yaml.safe_load(V310))
    customers = pl.DataFrame({"customer_id": ["C001", "C002"], "email": ["a", "b"]})
    orders = _orders([1.0, 2.0, 3.0, 4.0], customer_ids=["C001", "C009", None, "C009"])
    report = check_relationships(shop, {"customers": customers, "orders": orders.lazy()})
    gap = report.check("orders.customer_id->customers.customer_id")
    assert (gap.passed, gap.failing, gap.total) == (False, 2, 4)
    assert gap.samples["customer_id"].to_list() == ["C009", "C009"]
    assert not report.passed
    # reference: an anti-join in plain Python
    known = set(customers["customer_id"])
    assert gap.failing == sum(1 for c in orders["customer_id"] if c is not None and c not in known)
    assert report.to_dict()["checks"][0]["failing"] == 2
    fixed = orders.with_columns(pl.col("customer_id").replace("C009", "C002"))
    assert check_relationships(shop, {"customers": customers, "orders": fixed}).passed


def test_referential_gap_samples_mask_pii():
    doc = yaml.safe_load(V310)
    doc["schema"][1]["properties"][1]["classification"] = "pii"
    shop = DataContract.from_dict(doc)
    customers = pl.DataFrame({"customer_id": ["C001"], "email": ["a"]})
    report = check_relationships(shop, {"customers": customers,
                                        "orders": _orders([1.0], customer_ids=["C777"])})
    samples = report.check("orders.customer_id->customers.customer_id").samples
    assert samples["customer_id"].to_list() == ["***"] and "C777" not in str(report)


def test_a_relationship_to_a_table_not_yet_published_is_not_enforced():
    shop = DataContract.from_dict(yaml.safe_load(V310))
    report = check_relationships(shop, {"orders": _orders([1.0])})
    check = report.check("orders.customer_id->customers.customer_id")
    assert check.passed is None and "not published: customers" in check.message
    assert report.passed and report.not_enforced == [check]


def test_composite_keys_and_references_meshkit_cannot_read():
    doc = {"apiVersion": "v3.2.0", "kind": "DataContract", "id": "c", "version": "1",
           "schema": [
               {"name": "a", "properties": [{"name": "x", "logicalType": "integer"},
                                            {"name": "y", "logicalType": "integer"}],
                "relationships": [
                    {"type": "foreignKey", "from": ["a.x", "a.y"], "to": ["b.x", "b.y"]},
                    {"type": "foreignKey", "from": "a.x",
                     "to": "other.yaml#/schema/t/properties/x"}]},
               {"name": "b", "properties": [{"name": "x", "logicalType": "integer"},
                                            {"name": "y", "logicalType": "integer"}]}]}
    contract = DataContract.from_dict(doc)
    a = pl.DataFrame({"x": [1, 1, 2], "y": [1, 2, None]})
    b = pl.DataFrame({"x": [1], "y": [1]})
    report = check_relationships(contract, {"a": a, "b": b})
    composite = report.check("a.x+y->b.x+y")
    assert composite.failing == 1  # (1, 2); a row with a null key part never breaks it
    other = report.not_enforced[0]
    assert "is not of the form table.column" in other.message
    with pytest.raises(DataError, match="a foreign-key column is missing"):
        check_relationships(contract, {"a": a.drop("y"), "b": b})


# ---- NaN and the bounds -----------------------------------------------------------------------

@pytest.mark.parametrize("options, failing", [
    ({"minimum": 0}, 2), ({"maximum": 10}, 2), ({"exclusiveMinimum": 0}, 2),
    ({"exclusiveMaximum": 10}, 2), ({"multipleOf": 0.5}, 2),
])
def test_nan_breaks_every_numeric_bound(options, failing):
    contract = DataContract.from_dict({
        "apiVersion": "v3.1.0", "kind": "DataContract", "id": "n", "version": "1",
        "status": "draft", "schema": [{"name": "n", "properties": [
            {"name": "v", "logicalType": "number", "logicalTypeOptions": options}]}]})
    frame = pl.DataFrame({"v": [1.0, math.nan, None, 2.0, math.nan]})
    check = validate(frame, contract).check(f"v.{next(iter(options))}")
    assert check.failing == failing and not check.passed
    # reference: JSON Schema's own verdict on each non-null value
    validator = jsonschema.Draft202012Validator({"type": "number", **options})
    assert failing == sum(1 for v in frame["v"] if v is not None and (
        math.isnan(v) or not validator.is_valid(v)))


# ---- where the schemas come from ----------------------------------------------------------------

def test_schemas_come_from_installed_packages_and_match_their_release():
    from meshkit._contracts.schemas import API_VERSIONS, schema_for

    for version in API_VERSIONS:
        release = {"v3.0": "v3.0.2", "v3.1": "v3.1.0", "v3.2": "v3.2.0"}[version[:4]]
        assert schema_for(version) == official_schema(release)
        assert version in schema_for(version)["properties"]["apiVersion"]["enum"]


def test_reading_a_contract_imports_neither_schema_package():
    """datacontract's __init__ re-registers PyYAML's SafeDumper: it must never be imported."""
    import subprocess
    import sys

    code = ("import sys, yaml\n"
            "from meshkit import DataContract\n"
            "for v in ('v3.0.2', 'v3.1.0', 'v3.2.0'):\n"
            "    DataContract.from_dict({'apiVersion': v, 'kind': 'DataContract', 'id': 'i',"
            " 'version': '1', 'status': 'draft'})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('datacontract', 'open_data_contract_standard')))\n"
            "print(repr(yaml.safe_dump({'a': 'x\\ny'})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    plain = subprocess.run([sys.executable, "-c",
                            "import yaml; print(repr(yaml.safe_dump({'a': 'x\\ny'})))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert out[0] == "[]"
    assert out[1] == plain  # PyYAML as it ships, untouched


@pytest.mark.parametrize("module", ["schemas", "relations"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"meshkit._contracts.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_report_without_not_enforced_checks_reads_as_before():
    report = QualityReport("t", "1", rows=1, checks=[
        CheckResult("t.not_empty", None, "not_empty", True, 0, 1)])
    assert "not enforced" not in str(report) and report.not_enforced == []
