"""Invalid ODCS documents are refused with the field path, one case per kind of mistake the
standard's own negative test suite covers (written here: the suite is not in any package)."""

from __future__ import annotations

import copy

import pytest

from meshkit import ContractError, DataContract


def base(version: str = "v3.2.0") -> dict:
    return {"apiVersion": version, "kind": "DataContract", "id": "neg", "version": "1.0.0",
            "status": "active", "schema": [{"name": "t", "properties": [
                {"name": "a", "logicalType": "string"}]}]}


def _prop(doc: dict) -> dict:
    return doc["schema"][0]["properties"][0]


P = "schema[0].properties[0]"

CASES = [
    ("unknown top-level field", lambda d: d.update(unknownRootField=1), "unknownRootField"),
    ("enum with a duplicate", lambda d: _prop(d).update(enum=[{"value": "x"}, {"value": "x"}]),
     f"{P}.enum"),
    ("empty enum", lambda d: _prop(d).update(enum=[]), f"{P}.enum"),
    ("enum entry without value", lambda d: _prop(d).update(enum=[{"label": "X"}]),
     f"{P}.enum[0].value"),
    ("unknown apiVersion", lambda d: d.update(apiVersion="v4.0.0"), "apiVersion"),
    ("wrong kind", lambda d: d.update(kind="DataModel"), "kind"),
    ("unknown quality dimension",
     lambda d: _prop(d).update(quality=[{"metric": "nullValues", "mustBe": 0,
                                         "dimension": "validity"}]), f"{P}.quality[0].dimension"),
    ("unknown metric", lambda d: _prop(d).update(quality=[{"metric": "nope", "mustBe": 0}]),
     f"{P}.quality[0].metric"),
    ("unknown rule type", lambda d: _prop(d).update(quality=[{"type": "magic"}]),
     f"{P}.quality[0].type"),
    ("map without its block", lambda d: _prop(d).update(logicalType="map"), f"{P}.map"),
    ("map without key", lambda d: _prop(d).update(
        logicalType="map", map={"value": {"logicalType": "string"}}), f"{P}.map.key"),
    ("missing id", lambda d: d.pop("id"), "id"),
    ("custom rule without implementation",
     lambda d: _prop(d).update(quality=[{"type": "custom", "engine": "soda"}]),
     f"{P}.quality[0].implementation"),
    ("library rule without metric",
     lambda d: _prop(d).update(quality=[{"type": "library", "mustBe": 0}]),
     f"{P}.quality[0].metric"),
    ("two operators", lambda d: _prop(d).update(
        quality=[{"metric": "nullValues", "mustBe": 0, "mustNotBe": 5}]), f"{P}.quality[0]"),
    ("between with one bound", lambda d: d["schema"][0].update(
        quality=[{"metric": "rowCount", "mustBeBetween": [100]}]), "schema[0].quality[0]"),
    ("sql rule without query", lambda d: _prop(d).update(
        quality=[{"type": "sql", "mustBe": 0}]), f"{P}.quality[0].query"),
    ("property relationship with from", lambda d: _prop(d).update(
        relationships=[{"from": "t.a", "to": "u.a"}]), f"{P}.relationships[0]"),
    ("schema relationship without from", lambda d: d["schema"][0].update(
        relationships=[{"to": "u.a"}]), "schema[0].relationships[0].from"),
    ("unknown logical type", lambda d: _prop(d).update(logicalType="binary"),
     f"{P}.logicalType"),
    ("property without name", lambda d: _prop(d).pop("name"), f"{P}.name"),
    ("unknown server type", lambda d: d.update(servers=[{"server": "s", "type": "mongodb"}]),
     "servers[0].type"),
    ("server without name", lambda d: d.update(servers=[{"type": "local", "path": "x",
                                                         "format": "csv"}]), "servers[0].server"),
    ("sla property without value", lambda d: d.update(slaProperties=[{"property": "latency"}]),
     "slaProperties[0].value"),
]


@pytest.mark.parametrize("version", ["v3.2.0", "v3.1.0", "v3.0.2"])
@pytest.mark.parametrize("label, change, path", CASES, ids=[c[0] for c in CASES])
def test_invalid_documents_are_refused_with_their_field_path(version, label, change, path):
    doc = base(version)
    change(doc)
    with pytest.raises(ContractError) as info:
        DataContract.from_dict(copy.deepcopy(doc), where="neg.yaml")
    where = info.value.where
    assert where.startswith("neg.yaml: ")
    if version == "v3.2.0" or path in ("apiVersion", "kind", "id", "unknownRootField"):
        assert where == f"neg.yaml: {path}", str(info.value)
    else:  # older releases refuse the same document, maybe at another field of it
        assert where.split(": ", 1)[1].split(".")[0].split("[")[0] == path.split(".")[0].split("[")[0]


@pytest.mark.parametrize("version", ["v3.2.0", "v3.1.0", "v3.0.2"])
def test_the_base_document_itself_is_valid(version):
    assert DataContract.from_dict(base(version)).to_dict() == base(version)
