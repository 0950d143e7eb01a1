"""Data contracts: reading and writing ODCS, and the errors bad input gets.

The official JSON Schemas come from installed packages (never from outside the repository):
the standard's own ``open-data-contract-standard`` for v3.2.0, ``datacontract-cli`` for the
earlier releases.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
from pathlib import Path

import jsonschema
import polars as pl
import pytest
import yaml

from meshkit import DataContract, QualityRule, infer_contract
from meshkit import ContractError, DataError, MeshkitError, SpecError

def official_schema(release: str) -> dict:
    """The official ODCS JSON Schema of ``release``, read straight from its package."""
    if release == "v3.2.0":
        dist, name = "open-data-contract-standard", "open_data_contract_standard/schema.json"
    else:
        dist, name = "datacontract-cli", f"datacontract/schemas/odcs-{release[1:]}.schema.json"
    path = Path(importlib.metadata.distribution(dist).locate_file(name))
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["properties"]["apiVersion"]["default"] == release
    return schema


@pytest.fixture(scope="module")
def odcs_validator():
    schema = official_schema("v3.1.0")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def full_contract() -> dict:
    """A contract using every feature of the subset, plus kept metadata."""
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "retail-orders",
        "name": "Orders",
        "version": "1.2.0",
        "status": "active",
        "domain": "sales",
        "description": {"purpose": "One row per order."},
        "tags": ["retail"],
        "contractCreatedTs": "2024-05-01T10:00:00Z",
        "schema": [{
            "name": "orders",
            "physicalType": "table",
            "description": "Orders placed online.",
            "properties": [
                {"name": "tenant", "logicalType": "string", "primaryKey": True,
                 "primaryKeyPosition": 1},
                {"name": "order_id", "logicalType": "integer",
                 "logicalTypeOptions": {"minimum": 1, "multipleOf": 1},
                 "required": True, "primaryKey": True, "primaryKeyPosition": 2,
                 "description": "Order number."},
                {"name": "email", "logicalType": "string",
                 "logicalTypeOptions": {"minLength": 3, "maxLength": 80, "pattern": "^[^@]+@[^@]+$"},
                 "classification": "pii",
                 "quality": [{"metric": "missingValues", "arguments": {"missingValues": [None, "", "N/A"]},
                              "mustBeLessThan": 5, "unit": "percent"}]},
                {"name": "amount", "logicalType": "number",
                 "logicalTypeOptions": {"exclusiveMinimum": 0, "maximum": 10000},
                 "quality": [{"metric": "nullValues", "mustBe": 0, "name": "amount_present",
                              "dimension": "completeness", "severity": "error"}]},
                {"name": "unit", "logicalType": "string",
                 "quality": [{"type": "library", "metric": "invalidValues",
                              "arguments": {"validValues": ["kg", "lb"]}, "mustBeLessOrEqualTo": 2}]},
                {"name": "sku", "logicalType": "string", "unique": True,
                 "quality": [{"metric": "invalidValues", "arguments": {"pattern": "^SKU-[0-9]+$"},
                              "mustBe": 0},
                             {"metric": "duplicateValues", "mustNotBe": 3}]},
                {"name": "ordered_on", "logicalType": "date",
                 "logicalTypeOptions": {"minimum": "2020-01-01", "exclusiveMaximum": "2030-01-01"}},
                {"name": "ordered_at", "logicalType": "timestamp",
                 "logicalTypeOptions": {"minimum": "2020-01-01T00:00:00+00:00"}},
                {"name": "slot", "logicalType": "time", "logicalTypeOptions": {"maximum": "22:00:00"}},
                {"name": "gift", "logicalType": "boolean"},
                {"name": "address", "logicalType": "object"},
                {"name": "items", "logicalType": "array"},
            ],
            "quality": [
                {"metric": "rowCount", "mustBeBetween": [0, 1000000]},
                {"metric": "duplicateValues", "mustBe": 0,
                 "arguments": {"properties": ["tenant", "order_id"]}},
                {"type": "text", "description": "Orders are final once shipped."},
            ],
        }],
    }


def minimal(**changes) -> dict:
    doc = {"apiVersion": "v3.1.0", "kind": "DataContract", "id": "t", "version": "1.0.0",
           "status": "draft", "schema": [{"name": "t", "properties": [
               {"name": "x", "logicalType": "integer"}]}]}
    doc.update(changes)
    return doc


# ---- reading the subset -------------------------------------------------------------------

def test_full_contract_reads_every_field():
    c = DataContract.from_dict(full_contract(), where="orders.yaml")
    assert (c.id, c.version, c.status, c.name, c.table) == ("retail-orders", "1.2.0", "active",
                                                             "Orders", "orders")
    assert c.columns[:3] == ["tenant", "order_id", "email"]
    assert c.primary_key == ["tenant", "order_id"]
    assert c.pii_columns == ["email"]
    order_id = c.property("order_id")
    assert order_id.logical_type == "integer" and order_id.required and order_id.primary_key
    assert order_id.options == {"minimum": 1, "multipleOf": 1}
    assert c.property("sku").unique and not c.property("email").unique
    assert c.property("email").classification == "pii" and c.property("email").is_pii
    rule = c.property("email").quality[0]
    assert (rule.metric, rule.operator, rule.threshold, rule.unit) == (
        "missingValues", "mustBeLessThan", 5, "percent")
    assert rule.arguments == {"missingValues": [None, "", "N/A"]}
    assert [r.metric for r in c.quality] == ["rowCount", "duplicateValues", None]
    assert c.quality[0].threshold == (0, 1000000)
    assert c.property("amount").quality[0].label == "amount_present"


def test_name_falls_back_to_table_and_primary_key_order_follows_positions():
    doc = minimal()
    doc["schema"][0]["properties"] = [
        {"name": "b", "logicalType": "string", "primaryKey": True, "primaryKeyPosition": 2},
        {"name": "a", "logicalType": "string", "primaryKey": True, "primaryKeyPosition": 1}]
    c = DataContract.from_dict(doc)
    assert c.name == "t" and c.primary_key == ["a", "b"]


def test_property_of_unknown_column_is_a_contract_error():
    c = DataContract.from_dict(minimal())
    with pytest.raises(ContractError, match=r"no such column.*found 'nope'"):
        c.property("nope")


# ---- writing: plain ODCS, schema-valid, lossless ------------------------------------------

def test_to_dict_round_trips_without_loss():
    doc = full_contract()
    c = DataContract.from_dict(copy.deepcopy(doc))
    assert c.to_dict() == doc
    assert DataContract.from_dict(c.to_dict()) == c


def test_written_contracts_validate_against_the_official_schema(odcs_validator, tmp_path):
    c = DataContract.from_dict(full_contract())
    odcs_validator.validate(c.to_dict())
    path = c.to_yaml(tmp_path / "contracts" / "orders.yaml") and tmp_path / "contracts" / "orders.yaml"
    odcs_validator.validate(yaml.safe_load(path.read_text()))
    inferred = infer_contract(pl.DataFrame({"k": [1, 2], "s": ["a", None], "f": [0.5, 1.5]}),
                              id="inferred", primary_key=["k"], pii=["s"])
    odcs_validator.validate(inferred.to_dict())


def test_the_official_schema_rejects_what_meshkit_rejects(odcs_validator):
    """Sanity check of the fixture: the schema is strict where the subset is."""
    bad = minimal()
    bad["schema"][0]["properties"][0]["logicalType"] = "text"
    with pytest.raises(jsonschema.ValidationError):
        odcs_validator.validate(bad)


def test_yaml_round_trip_is_the_same_file_a_user_writes(tmp_path):
    doc = full_contract()
    hand_written = tmp_path / "orders.yaml"
    hand_written.write_text(yaml.safe_dump(doc, sort_keys=False))
    c = DataContract.from_yaml(hand_written)
    written = tmp_path / "out" / "orders.yaml"
    text = c.to_yaml(written)
    assert written.read_text() == text
    assert yaml.safe_load(text) == doc
    assert DataContract.from_yaml(written) == c
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_yaml_unquoted_dates_become_iso_strings(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "apiVersion: v3.1.0\nkind: DataContract\nid: d\nversion: '1'\nstatus: draft\n"
        "contractCreatedTs: 2024-05-01T10:00:00Z\n"
        "schema:\n- name: d\n  properties:\n  - name: day\n    logicalType: date\n"
        "    logicalTypeOptions:\n      minimum: 2024-01-01\n")
    c = DataContract.from_yaml(path)
    assert c.property("day").options == {"minimum": "2024-01-01"}
    assert isinstance(c.to_dict()["contractCreatedTs"], str)


def test_to_dict_does_not_alias_the_contract():
    c = DataContract.from_dict(full_contract())
    out = c.to_dict()
    out["schema"][0]["properties"][2]["quality"][0]["arguments"]["missingValues"].append("x")
    out["tags"].append("mutated")
    assert c.to_dict() == full_contract()


def test_quality_rule_describe_and_between_is_exclusive():
    between = QualityRule("rowCount", "mustBeBetween", (10, 20))
    assert [between.passes(v) for v in (10, 11, 19, 20)] == [False, True, True, False]
    outside = QualityRule("rowCount", "mustNotBeBetween", (10, 20))
    assert [outside.passes(v) for v in (10, 11, 19, 20)] == [True, False, False, True]
    assert between.describe() == "rowCount in (10, 20) rows"
    assert QualityRule("nullValues", "mustBeLessOrEqualTo", 2.5, unit="percent").describe() == \
        "nullValues <= 2.5%"


# ---- bad input: clear errors naming the field path ----------------------------------------

def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v3.1.0\nkind: DataContract\nschema: [\n  - name: x\n   oops: :\n")
    with pytest.raises(ContractError) as info:
        DataContract.from_yaml(path)
    assert "broken.yaml, line" in str(info.value) and "malformed YAML" in str(info.value)
    assert isinstance(info.value, SpecError) and isinstance(info.value, MeshkitError)


def test_missing_file_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match="cannot read the contract file"):
        DataContract.from_yaml(tmp_path / "absent.yaml")


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ContractError, match=r"list\.yaml: \(document\): not a mapping"):
        DataContract.from_yaml(path)


@pytest.mark.parametrize("field", ["apiVersion", "kind", "id", "version", "status"])
def test_missing_required_top_level_field(field):
    doc = minimal()
    del doc[field]
    with pytest.raises(ContractError) as info:
        DataContract.from_dict(doc, where="c.yaml")
    assert str(info.value).startswith(f"c.yaml: {field}: ")
    assert info.value.where == f"c.yaml: {field}"
    assert "a required field is missing" in str(info.value)


@pytest.mark.parametrize("schema", [None, []])
def test_a_contract_without_tables_reads_and_round_trips(schema):
    doc = minimal()
    if schema is None:
        del doc["schema"]
    else:
        doc["schema"] = schema
    c = DataContract.from_dict(copy.deepcopy(doc))
    assert c.tables == [] and c.table is None and c.to_dict() == doc
    with pytest.raises(ContractError, match="needs a single-table contract"):
        c.columns


def test_missing_property_name_is_refused_and_a_missing_logical_type_is_not():
    doc = minimal()
    doc["schema"][0]["properties"].append({"logicalType": "string"})
    with pytest.raises(ContractError, match=r"schema\[0\]\.properties\[1\]\.name: a required"):
        DataContract.from_dict(doc)
    doc["schema"][0]["properties"][1] = {"name": "y"}
    c = DataContract.from_dict(copy.deepcopy(doc))
    assert c.property("y").logical_type is None and c.to_dict() == doc


def test_unknown_logical_type_names_path_expected_and_found():
    doc = minimal()
    doc["schema"][0]["properties"][0]["logicalType"] = "varchar"
    with pytest.raises(ContractError) as info:
        DataContract.from_dict(doc, where="orders.yaml")
    err = info.value
    assert err.where == "orders.yaml: schema[0].properties[0].logicalType"
    assert "string" in err.expected and err.found == "'varchar'"


@pytest.mark.parametrize("change, path, fragment", [
    (lambda d: d.update(apiVersion="v3.3.0"), "apiVersion", "unsupported ODCS version"),
    (lambda d: d.update(apiVersion="v2.2.2"), "apiVersion", "unsupported ODCS version"),
    (lambda d: d.update(kind="Contract"), "kind", "not valid ODCS v3.1.0"),
    (lambda d: d.update(version=1.0), "version", "is not of type 'string'"),
    (lambda d: d.update(owner="me"), "owner", "a field ODCS v3.1.0 does not define"),
    (lambda d: d.update(tags="retail"), "tags", "is not of type 'array'"),
    (lambda d: d["schema"][0]["properties"].append({"name": "x", "logicalType": "string"}),
     "schema[0].properties[1].name", "duplicate column name"),
    (lambda d: d["schema"].append({"name": "t", "properties": []}), "schema[1].name",
     "duplicate schema object name"),
    (lambda d: d["schema"][0]["properties"][0].update(required="yes"),
     "schema[0].properties[0].required", "is not of type 'boolean'"),
    (lambda d: d["schema"][0]["properties"][0].update(items={"logicalType": "string"}),
     "schema[0].properties[0].items", "a field ODCS v3.1.0 does not define"),
    (lambda d: d["schema"][0]["properties"][0].update(logicalTypeOptions={"maxLength": 3}),
     "schema[0].properties[0].logicalTypeOptions.maxLength", "does not define"),
    (lambda d: d["schema"][0]["properties"][0].update(logicalTypeOptions={"minimum": "1"}),
     "schema[0].properties[0].logicalTypeOptions.minimum", "is not of type 'number'"),
    (lambda d: d["schema"][0]["properties"][0].update(
        logicalType="string", logicalTypeOptions={"pattern": "(unclosed"}),
     "schema[0].properties[0].logicalTypeOptions.pattern", "invalid regular expression"),
    (lambda d: d["schema"][0]["properties"][0].update(
        logicalType="string", logicalTypeOptions={"minLength": 5, "maxLength": 2}),
     "schema[0].properties[0].logicalTypeOptions", "minLength is above maxLength"),
    (lambda d: d["schema"][0]["properties"][0].update(
        logicalType="date", logicalTypeOptions={"minimum": "01/02/2024"}),
     "schema[0].properties[0].logicalTypeOptions.minimum", "not an ISO 8601 date"),
])
def test_invalid_or_self_contradicting_contracts_are_refused(change, path, fragment):
    doc = minimal()
    change(doc)
    with pytest.raises(ContractError) as info:
        DataContract.from_dict(doc, where="c.yaml")
    assert info.value.where == f"c.yaml: {path}"
    assert fragment in str(info.value)


@pytest.mark.parametrize("change", [
    lambda d: d.update(apiVersion="v3.0.2"),
    lambda d: d.update(apiVersion="v3.2.0"),
    lambda d: d["schema"].append({"name": "u", "properties": []}),
    lambda d: d["schema"][0].update(properties=[]),
    lambda d: d["schema"][0]["properties"][0].update(logicalTypeOptions={"format": "i32"}),
])
def test_valid_odcs_that_the_v31_subset_refused_now_reads_losslessly(change):
    doc = minimal()
    change(doc)
    c = DataContract.from_dict(copy.deepcopy(doc))
    assert c.to_dict() == doc and c.api_version == doc["apiVersion"]


def _with_rule(rule: dict, level: str = "property", logical_type: str = "integer") -> dict:
    doc = minimal()
    doc["schema"][0]["properties"][0]["logicalType"] = logical_type
    target = doc["schema"][0]["properties"][0] if level == "property" else doc["schema"][0]
    target["quality"] = [rule]
    return doc


@pytest.mark.parametrize("rule, level, logical_type, path, fragment", [
    ({"type": "custom", "engine": "soda"}, "schema", "integer", "implementation",
     "a required field is missing"),
    ({"metric": "completeness", "mustBe": 0}, "property", "integer", "metric",
     "'completeness' is not one of"),
    ({"rule": "nullValues", "mustBe": 0}, "property", "integer", "mustBe",
     "does not define"),
    ({"mustBe": 0}, "property", "integer", "mustBe", "does not define"),
    ({"metric": "nullValues"}, "property", "integer", "", "not valid under any"),
    ({"metric": "nullValues", "mustBe": 0, "mustBeLessThan": 3}, "property", "integer", "",
     "is valid under each of"),
    ({"metric": "nullValues", "mustBeBetween": [5, 1]}, "property", "integer", "mustBeBetween",
     "range bounds out of order"),
    ({"metric": "nullValues", "mustBeBetween": [1]}, "property", "integer", "",
     "not valid under any"),
    ({"metric": "nullValues", "mustBeLessThan": "5"}, "property", "integer", "",
     "not valid under any"),
    ({"metric": "nullValues", "mustBe": 0, "dimension": "beauty"}, "property", "integer",
     "dimension", "'beauty' is not one of"),
    ({"metric": "invalidValues", "mustBe": 0, "arguments": {"validValues": [1, 2]}},
     "property", "string", "arguments.validValues[0]", "does not fit"),
    ({"metric": "invalidValues", "mustBe": 0, "arguments": {"pattern": "^a"}},
     "property", "integer", "arguments.pattern", "a pattern applies to strings"),
    ({"metric": "duplicateValues", "mustBe": 0, "arguments": {"properties": ["x", "y"]}},
     "schema", "integer", "arguments.properties[1]", "no such property"),
])
def test_bad_quality_rules(rule, level, logical_type, path, fragment):
    doc = _with_rule(rule, level, logical_type)
    base = "schema[0].properties[0].quality[0]" if level == "property" else "schema[0].quality[0]"
    with pytest.raises(ContractError) as info:
        DataContract.from_dict(doc)
    assert info.value.where == (f"{base}.{path}" if path else base)
    assert fragment in str(info.value)


@pytest.mark.parametrize("rule, level, logical_type, check, reason", [
    ({"type": "custom", "engine": "soda", "implementation": "checks: []"}, "schema",
     "integer", "t.quality[0].custom", "custom rule of engine 'soda'"),
    ({"metric": "rowCount", "mustBe": 3}, "property", "integer", "x.quality[0].rowCount",
     "metric 'rowCount' on a property"),
    ({"metric": "nullValues", "mustBe": 0}, "schema", "integer", "t.quality[0].nullValues",
     "metric 'nullValues' on a schema"),
    ({"metric": "nullValues", "mustBe": 0, "unit": "bytes"}, "property", "integer",
     "x.quality[0].nullValues", "unit 'bytes'"),
    ({"metric": "invalidValues", "mustBe": 0}, "property", "string",
     "x.quality[0].invalidValues", "without validValues or pattern"),
    ({"metric": "invalidValues", "mustBe": 0, "arguments": {"regex": "^a"}}, "property",
     "string", "x.quality[0].invalidValues", "arguments meshkit does not run: regex"),
    ({"type": "text", "metric": "nullValues", "mustBe": 0}, "property", "integer",
     "x.quality[0].text", "a text rule describes"),
])
def test_rules_meshkit_does_not_run_are_kept_and_reported_not_enforced(
        rule, level, logical_type, check, reason):
    from meshkit import validate

    doc = _with_rule(rule, level, logical_type)
    c = DataContract.from_dict(copy.deepcopy(doc))
    assert c.to_dict() == doc
    frame = pl.DataFrame({"x": [1, None] if logical_type == "integer" else ["a", None]})
    report = validate(frame, c)
    result = report.check(check)
    assert result.passed is None and reason in result.message
    assert result in report.not_enforced and result not in report.failed
    assert "n/e" in str(report) and "not enforced" in str(report).splitlines()[0]


# ---- infer_contract -----------------------------------------------------------------------

def test_infer_contract_maps_dtypes_to_logical_types():
    import datetime as dt

    frame = pl.DataFrame({
        "id": pl.Series([1, 2], dtype=pl.UInt16), "price": [1.5, None], "name": ["a", "b"],
        "flag": [True, False], "day": [dt.date(2024, 1, 1)] * 2,
        "at": [dt.datetime(2024, 1, 1)] * 2, "clock": [dt.time(1, 2)] * 2,
        "point": [{"x": 1}, {"x": 2}], "tags": [["a"], []],
        "cat": pl.Series(["u", "v"], dtype=pl.Categorical),
    })
    c = infer_contract(frame.lazy(), id="things", name="things_table", primary_key=["id"],
                       pii=["name"], version="2.0.0", status="active")
    assert {p.name: p.logical_type for p in c.properties} == {
        "id": "integer", "price": "number", "name": "string", "flag": "boolean",
        "day": "date", "at": "timestamp", "clock": "time", "point": "object",
        "tags": "array", "cat": "string"}
    assert c.property("price").required is False and c.property("name").required is True
    assert c.primary_key == ["id"] and c.pii_columns == ["name"]
    assert (c.table, c.version, c.status) == ("things_table", "2.0.0", "active")


def test_infer_contract_bad_input():
    frame = pl.DataFrame({"a": [1], "b": [b"x"]})
    with pytest.raises(DataError, match=r"primary_key=.*found 'zz'"):
        infer_contract(frame.select("a"), id="x", primary_key=["zz"])
    with pytest.raises(DataError, match=r"column 'b': dtype has no ODCS logical type"):
        infer_contract(frame, id="x")
    with pytest.raises(DataError, match="a polars DataFrame or LazyFrame"):
        infer_contract({"a": [1]}, id="x")


@pytest.mark.parametrize("module", ["model", "parse", "types", "checks", "report", "validate",
                                    "infer"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"meshkit._contracts.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
