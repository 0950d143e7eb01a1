"""Read an ODCS document into a :class:`~meshkit._contracts.model.DataContract`.

Every check names the field path at fault (``schema[0].properties[2].logicalType``),
prefixed with where the document came from. Fields meshkit acts upon are checked against
the supported subset (see :mod:`meshkit._contracts.model`); other standard fields are kept
verbatim after a type check; a key the standard does not know is rejected.

Examples
--------
>>> parse_contract({"apiVersion": "v3.1.0", "kind": "DataContract", "id": "x",
...                 "version": "1", "status": "draft",
...                 "schema": [{"name": "x", "properties": [
...                     {"name": "a", "logicalType": "text"}]}]}, "x.yaml")
Traceback (most recent call last):
...
meshkit._errors.ContractError: x.yaml: schema[0].properties[0].logicalType: unknown logical type (expected one of string, integer, number, boolean, date, timestamp, time, object, array; found 'text')
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import polars as pl

from meshkit._contracts.model import METRICS, OPERATORS, ContractProperty, DataContract, QualityRule
from meshkit._contracts.types import LOGICAL_TYPES, parse_literal
from meshkit._errors import ContractError
from meshkit._yaml import load_yaml as load_yaml_file

__all__ = ["parse_contract", "load_yaml", "API_VERSION"]

API_VERSION = "v3.1.0"

# Standard fields meshkit keeps verbatim, with the JSON type the standard gives them.
_TOP_KEPT = {
    "tenant": str, "tags": list, "servers": list, "dataProduct": str, "description": dict,
    "domain": str, "support": list, "price": dict, "team": (dict, list), "roles": list,
    "slaDefaultElement": str, "slaProperties": list, "authoritativeDefinitions": list,
    "customProperties": list, "contractCreatedTs": str,
}
_TABLE_KEPT = {
    "id": str, "physicalType": str, "physicalName": str, "description": str,
    "businessName": str, "dataGranularityDescription": str, "authoritativeDefinitions": list,
    "tags": list, "customProperties": list, "relationships": list,
}
_PROPERTY_KEPT = {
    "id": str, "physicalType": str, "physicalName": str, "description": str,
    "businessName": str, "authoritativeDefinitions": list, "tags": list,
    "customProperties": list, "partitioned": bool, "partitionKeyPosition": int,
    "encryptedName": str, "transformSourceObjects": list, "transformLogic": str,
    "transformDescription": str, "examples": list, "criticalDataElement": bool,
    "relationships": list,
}
_RULE_KEPT = {
    "id": str, "name": str, "description": str, "severity": str, "businessImpact": str,
    "method": str, "schedule": str, "scheduler": str, "tags": list,
    "customProperties": list, "authoritativeDefinitions": list, "dimension": str,
}
_DIMENSIONS = ("accuracy", "completeness", "conformity", "consistency", "coverage",
               "timeliness", "uniqueness")
_RANGE_OPTIONS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_OPTIONS = {
    "string": ("minLength", "maxLength", "pattern"),
    "integer": (*_RANGE_OPTIONS, "multipleOf"),
    "number": (*_RANGE_OPTIONS, "multipleOf"),
    "date": _RANGE_OPTIONS,
    "timestamp": _RANGE_OPTIONS,
    "time": _RANGE_OPTIONS,
    "boolean": (),
    "object": (),
    "array": (),
}
_ARGUMENTS = {
    ("nullValues", "property"): (),
    ("missingValues", "property"): ("missingValues",),
    ("invalidValues", "property"): ("validValues", "pattern"),
    ("duplicateValues", "property"): (),
    ("duplicateValues", "schema"): ("properties",),
    ("rowCount", "schema"): (),
}
_TYPE_NAMES = {str: "a string", list: "a list", dict: "a mapping", bool: "true or false",
               int: "an integer"}


class _Reader:
    """Raise ContractErrors that name the source and the field path."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, path: str, message: str, expected: object = None, found: object = None):
        where = f"{self.source}: {path}" if self.source else path
        raise ContractError(message, where=where, expected=expected, found=found)

    def mapping(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "not a mapping", expected="a mapping of ODCS fields",
                      found=_show(value))
        return value

    def known_keys(self, value: dict, path: str, allowed) -> None:
        for key in value:
            if key not in allowed:
                self.fail(_join(path, str(key)), "field outside meshkit's ODCS v3.1 subset",
                          expected=f"one of {', '.join(sorted(allowed))}", found=repr(key))

    def required_text(self, value: dict, key: str, path: str, expected: str = "a string") -> str:
        if key not in value:
            self.fail(_join(path, key), "a required field is missing", expected=expected)
        return self.text(value[key], _join(path, key), expected)

    def text(self, value: Any, path: str, expected: str = "a string") -> str:
        if not isinstance(value, str) or not value.strip():
            hint = " (quote it in YAML)" if isinstance(value, (int, float)) else ""
            self.fail(path, f"not a non-empty string{hint}", expected=expected,
                      found=_show(value))
        return value

    def boolean(self, value: dict, key: str, path: str) -> bool:
        flag = value.get(key, False)
        if not isinstance(flag, bool):
            self.fail(_join(path, key), "not a boolean", expected="true or false",
                      found=_show(flag))
        return flag

    def kept(self, value: dict, kinds: dict, path: str) -> dict:
        extra = {}
        for key, kind in kinds.items():
            if key in value:
                item = _json_ready(value[key])
                if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
                    names = kind if isinstance(kind, tuple) else (kind,)
                    self.fail(_join(path, key), "wrong type",
                              expected=" or ".join(_TYPE_NAMES[k] for k in names),
                              found=_show(item))
                extra[key] = item
        return extra


def load_yaml(path: str | os.PathLike) -> Any:
    """Load a contract's YAML file through :func:`meshkit._yaml.load_yaml`.

    A missing, oversized or non-UTF-8 file, malformed YAML, a duplicate key, deep nesting or
    runaway aliases are a ContractError naming the file (and the line where there is one).

    Examples
    --------
    >>> load_yaml("no/such/contract.yaml")
    Traceback (most recent call last):
    ...
    meshkit._errors.ContractError: no/such/contract.yaml: cannot read the contract file: not found (expected an existing YAML file; found FileNotFoundError)
    """
    return load_yaml_file(path, error=ContractError, what="the contract file")


def parse_contract(data: Any, source: str | None = None) -> DataContract:
    """Check an ODCS document against meshkit's subset and build the DataContract.

    Parameters
    ----------
    data : dict
        The parsed document.
    source : str, optional
        A file name or label, prefixed to field paths in errors.
    """
    r = _Reader(source)
    doc = r.mapping(data, "(document)")
    r.known_keys(doc, "", {"apiVersion", "kind", "id", "version", "status", "name", "schema",
                           *_TOP_KEPT})
    api = r.required_text(doc, "apiVersion", "", expected=API_VERSION)
    if api != API_VERSION:
        r.fail("apiVersion", "unsupported ODCS version", expected=API_VERSION, found=repr(api))
    kind = r.required_text(doc, "kind", "", expected="DataContract")
    if kind != "DataContract":
        r.fail("kind", "not a data contract", expected="DataContract", found=repr(kind))
    contract_id = r.required_text(doc, "id", "")
    version = r.required_text(doc, "version", "", expected="a version string such as '1.0.0'")
    status = r.required_text(doc, "status", "", expected="a status such as 'active'")
    name = r.text(doc["name"], "name") if "name" in doc else None

    if "schema" not in doc:
        r.fail("schema", "a required field is missing", expected="one schema object")
    tables = doc["schema"]
    if not isinstance(tables, list) or len(tables) != 1:
        r.fail("schema", "meshkit products have exactly one table",
               expected="a list with one schema object", found=_show(tables))
    table = r.mapping(tables[0], "schema[0]")
    table_name, properties, table_rules, table_extra = _parse_table(r, table, "schema[0]")
    return DataContract(id=contract_id, version=version, status=status, table=table_name,
                        properties=properties, quality=table_rules, contract_name=name,
                        api_version=api, extra=r.kept(doc, _TOP_KEPT, ""),
                        table_extra=table_extra)


def _parse_table(r: _Reader, table: dict, path: str):
    r.known_keys(table, path, {"name", "logicalType", "properties", "quality", *_TABLE_KEPT})
    name = r.required_text(table, "name", path)
    if "logicalType" in table and table["logicalType"] != "object":
        r.fail(_join(path, "logicalType"), "a schema object is a table",
               expected="'object'", found=_show(table["logicalType"]))
    props = table.get("properties")
    if not isinstance(props, list) or not props:
        r.fail(_join(path, "properties"), "a table needs columns",
               expected="a non-empty list of properties", found=_show(props))
    properties = tuple(_parse_property(r, r.mapping(p, f"{path}.properties[{i}]"),
                                       f"{path}.properties[{i}]") for i, p in enumerate(props))
    names = [p.name for p in properties]
    for i, n in enumerate(names):
        if n in names[:i]:
            r.fail(f"{path}.properties[{i}].name", "duplicate column name",
                   expected="unique property names", found=repr(n))
    rules = _parse_rules(r, table, path, "schema", None, names)
    extra = r.kept(table, _TABLE_KEPT, path)
    if "logicalType" in table:
        extra = {"logicalType": "object", **extra}
    return name, properties, rules, extra


def _parse_property(r: _Reader, prop: dict, path: str) -> ContractProperty:
    r.known_keys(prop, path, {"name", "logicalType", "logicalTypeOptions", "required",
                              "unique", "primaryKey", "primaryKeyPosition", "classification",
                              "quality", *_PROPERTY_KEPT})
    name = r.required_text(prop, "name", path)
    expected_types = f"one of {', '.join(LOGICAL_TYPES)}"
    if "logicalType" not in prop:
        r.fail(_join(path, "logicalType"), "a required field is missing",
               expected=expected_types)
    logical_type = prop["logicalType"]
    if logical_type not in LOGICAL_TYPES:
        r.fail(_join(path, "logicalType"), "unknown logical type", expected=expected_types,
               found=_show(logical_type))
    position = prop.get("primaryKeyPosition")
    if position is not None and (not isinstance(position, int) or isinstance(position, bool)):
        r.fail(_join(path, "primaryKeyPosition"), "not an integer", expected="an integer",
               found=_show(position))
    classification = prop.get("classification")
    if classification is not None:
        classification = r.text(classification, _join(path, "classification"))
    options = _parse_options(r, prop.get("logicalTypeOptions", {}), logical_type,
                             _join(path, "logicalTypeOptions"))
    return ContractProperty(
        name=name, logical_type=logical_type,
        required=r.boolean(prop, "required", path), unique=r.boolean(prop, "unique", path),
        primary_key=r.boolean(prop, "primaryKey", path), primary_key_position=position,
        classification=classification, options=options,
        quality=_parse_rules(r, prop, path, "property", logical_type, [name]),
        extra=r.kept(prop, _PROPERTY_KEPT, path))


def _parse_options(r: _Reader, options: Any, logical_type: str, path: str) -> dict:
    options = r.mapping(options, path)
    allowed = _OPTIONS[logical_type]
    for key in options:
        if key not in allowed:
            r.fail(_join(path, str(key)), f"option outside meshkit's subset for {logical_type}",
                   expected=f"one of {', '.join(allowed)}" if allowed else "no options",
                   found=repr(key))
    out = {}
    for key, value in options.items():
        where = _join(path, key)
        if key in ("minLength", "maxLength"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                r.fail(where, "not a length", expected="an integer >= 0", found=_show(value))
        elif key == "pattern":
            _check_pattern(r, value, where)
        elif key == "multipleOf":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                r.fail(where, "not a positive number", expected="a number > 0",
                       found=_show(value))
        else:  # a bound
            if logical_type in ("integer", "number"):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    r.fail(where, "not a number", expected="a number", found=_show(value))
            else:
                try:
                    parse_literal(value, logical_type)
                except ValueError:
                    r.fail(where, f"not an ISO 8601 {logical_type}",
                           expected=f"an ISO 8601 {logical_type} string", found=_show(value))
                value = _json_ready(value)
        out[key] = value
    if "minLength" in out and "maxLength" in out and out["minLength"] > out["maxLength"]:
        r.fail(path, "minLength is above maxLength", expected="minLength <= maxLength",
               found=f"{out['minLength']} > {out['maxLength']}")
    return out


def _parse_rules(r: _Reader, owner: dict, path: str, level: str,
                 logical_type: str | None, columns: list[str]) -> tuple[QualityRule, ...]:
    rules = owner.get("quality", [])
    if not isinstance(rules, list):
        r.fail(_join(path, "quality"), "not a list", expected="a list of quality rules",
               found=_show(rules))
    return tuple(_parse_rule(r, r.mapping(rule, f"{path}.quality[{i}]"),
                             f"{path}.quality[{i}]", level, logical_type, columns)
                 for i, rule in enumerate(rules))


def _parse_rule(r: _Reader, rule: dict, path: str, level: str,
                logical_type: str | None, columns: list[str]) -> QualityRule:
    kind = rule.get("type", "library")
    if kind not in ("library", "text"):
        r.fail(_join(path, "type"), "quality rule type outside meshkit's subset",
               expected="'library' or 'text'", found=_show(kind))
    if "rule" in rule:
        r.fail(_join(path, "rule"), "'rule' is deprecated in ODCS v3.1",
               expected="'metric'", found="'rule'")
    r.known_keys(rule, path, {"type", "metric", "arguments", "unit", *OPERATORS, *_RULE_KEPT})
    extra = r.kept(rule, _RULE_KEPT, path)
    if "type" in rule:
        extra["type"] = kind
    if "dimension" in extra and extra["dimension"] not in _DIMENSIONS:
        r.fail(_join(path, "dimension"), "unknown dimension",
               expected=f"one of {', '.join(_DIMENSIONS)}", found=_show(extra["dimension"]))
    if kind == "text":
        if "metric" in rule or any(op in rule for op in OPERATORS):
            r.fail(path, "a text rule is description only", expected="no metric or operator",
                   found="a metric or an operator")
        return QualityRule(metric=None, extra=extra)

    metric = rule.get("metric")
    if metric is None:
        r.fail(_join(path, "metric"), "a required field is missing",
               expected=f"one of {', '.join(METRICS)}")
    if metric not in METRICS:
        r.fail(_join(path, "metric"), "metric outside meshkit's subset",
               expected=f"one of {', '.join(METRICS)}", found=_show(metric))
    if level not in METRICS[metric]:
        r.fail(_join(path, "metric"), f"{metric} does not apply to a {level}",
               expected=f"a rule on a {' or '.join(METRICS[metric])}", found=f"a {level} rule")

    operators = [op for op in OPERATORS if op in rule]
    if len(operators) != 1:
        r.fail(path, "a rule needs exactly one operator", expected=f"one of {', '.join(OPERATORS)}",
               found=", ".join(operators) or "none")
    operator = operators[0]
    threshold = _parse_threshold(r, rule[operator], operator, _join(path, operator))

    unit = rule.get("unit", "rows")
    if unit not in ("rows", "percent"):
        r.fail(_join(path, "unit"), "unit outside meshkit's subset",
               expected="'rows' or 'percent'", found=_show(unit))
    if metric == "rowCount" and unit != "rows":
        r.fail(_join(path, "unit"), "rowCount counts rows", expected="'rows'",
               found=_show(unit))
    if "unit" in rule:
        extra["unit"] = unit

    arguments = _parse_arguments(r, rule.get("arguments", {}), metric, level, logical_type,
                                 columns, _join(path, "arguments"))
    return QualityRule(metric=metric, operator=operator, threshold=threshold, unit=unit,
                       arguments=arguments, extra=extra)


def _parse_threshold(r: _Reader, value: Any, operator: str, path: str):
    def number(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            r.fail(path, "not a number", expected="a number", found=_show(v))
        return v

    if operator in ("mustBeBetween", "mustNotBeBetween"):
        if not isinstance(value, list) or len(value) != 2:
            r.fail(path, "not a range", expected="a list of two numbers [low, high]",
                   found=_show(value))
        low, high = number(value[0]), number(value[1])
        if not low < high:
            r.fail(path, "range bounds out of order", expected="low < high (smallest first)",
                   found=f"[{low}, {high}]")
        return (low, high)
    return number(value)


def _parse_arguments(r: _Reader, arguments: Any, metric: str, level: str,
                     logical_type: str | None, columns: list[str], path: str) -> dict:
    arguments = r.mapping(arguments, path)
    allowed = _ARGUMENTS[(metric, level)]
    for key in arguments:
        if key not in allowed:
            r.fail(_join(path, str(key)), f"argument outside meshkit's subset for {metric}",
                   expected=f"one of {', '.join(allowed)}" if allowed else "no arguments",
                   found=repr(key))
    out: dict[str, Any] = {}
    if metric == "missingValues" and "missingValues" in arguments:
        out["missingValues"] = _values_list(r, arguments["missingValues"], logical_type,
                                            _join(path, "missingValues"), allow_null=True)
    if metric == "invalidValues":
        if not arguments:
            r.fail(path, "invalidValues needs a criterion",
                   expected="validValues and/or pattern", found="none")
        if "validValues" in arguments:
            out["validValues"] = _values_list(r, arguments["validValues"], logical_type,
                                              _join(path, "validValues"), allow_null=False)
        if "pattern" in arguments:
            if logical_type != "string":
                r.fail(_join(path, "pattern"), "a pattern applies to strings",
                       expected="a string column", found=f"a {logical_type} column")
            out["pattern"] = _check_pattern(r, arguments["pattern"], _join(path, "pattern"))
    if metric == "duplicateValues" and level == "schema":
        names = arguments.get("properties")
        if not isinstance(names, list) or not names:
            r.fail(_join(path, "properties"), "a schema-level duplicateValues names its columns",
                   expected="a non-empty list of property names", found=_show(names))
        for i, n in enumerate(names):
            if n not in columns:
                r.fail(f"{path}.properties[{i}]", "no such property",
                       expected=f"one of {columns}", found=_show(n))
        out["properties"] = list(names)
    return out


def _values_list(r: _Reader, values: Any, logical_type: str | None, path: str,
                 allow_null: bool) -> list:
    if not isinstance(values, list) or not values:
        r.fail(path, "not a list of values", expected="a non-empty list", found=_show(values))
    for i, value in enumerate(values):
        if value is None and not allow_null:
            r.fail(f"{path}[{i}]", "null is never a valid value", expected="a value",
                   found="null")
        try:
            parse_literal(value, logical_type)
        except ValueError:
            r.fail(f"{path}[{i}]", "value does not fit the column's logical type",
                   expected=f"a {logical_type} value", found=_show(value))
    return [_json_ready(v) for v in values]


def _check_pattern(r: _Reader, pattern: Any, path: str) -> str:
    if not isinstance(pattern, str):
        r.fail(path, "not a regular expression", expected="a string", found=_show(pattern))
    try:  # the pattern runs on polars' regex engine; compile it now rather than mid-check
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception as exc:  # polars raises ComputeError for a bad regex
        r.fail(path, "invalid regular expression", expected="a regex polars can run",
               found=f"{pattern!r} ({str(exc).splitlines()[0]})")
    return pattern


def _json_ready(value: Any) -> Any:
    """YAML turns unquoted dates into date objects; ODCS wants ISO strings."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text if isinstance(value, str) else f"{text} ({type(value).__name__})"
