"""Read an ODCS document into a :class:`~meshkit._contracts.model.DataContract`.

Reading has two steps, each naming the field path at fault
(``schema[0].properties[2].logicalType``), prefixed with where the document came from:

1. the document is checked against the official JSON Schema of its ``apiVersion``
   (:mod:`meshkit._contracts.schemas`): anything the standard refuses is refused;
2. the fields meshkit acts upon are read, and refused only when they cannot mean anything
   on data: a bound that is not a value of its column's type, a range upside down, a
   regular expression that does not compile, a rule naming a column the table lacks.

Every field, interpreted or not, is kept: writing the contract gives the document back.
Rules and options meshkit does not run are kept and reported as "not enforced" by
:func:`~meshkit._contracts.validate`, never refused.

Examples
--------
>>> from meshkit import DataContract
>>> parse_contract({"apiVersion": "v3.1.0", "kind": "DataContract", "id": "x",
...                 "version": "1", "status": "draft",
...                 "schema": [{"name": "x", "properties": [
...                     {"name": "a", "logicalType": "text"}]}]}, "x.yaml", DataContract)
Traceback (most recent call last):
...
meshkit._errors.ContractError: x.yaml: schema[0].properties[0].logicalType: not valid ODCS v3.1.0 ('text' is not one of [...]) (expected one of string, date, ...; found 'text')
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import polars as pl

from meshkit._contracts.parts import (
    OPERATORS,
    ContractProperty,
    QualityRule,
    SchemaObject,
    kept_fields,
)
from meshkit._contracts.schemas import API_VERSIONS, check_document
from meshkit._contracts.types import parse_literal
from meshkit._errors import ContractError
from meshkit._yaml import load_yaml as load_yaml_file

__all__ = ["parse_contract", "load_yaml", "API_VERSION", "API_VERSIONS"]

#: The version meshkit writes for contracts it drafts itself.
API_VERSION = "v3.1.0"

_BOUND_OPTIONS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


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


class _Reader:
    """Raise ContractErrors that name the source and the field path."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, path: str, message: str, expected: object = None, found: object = None):
        where = f"{self.source}: {path}" if self.source else path
        raise ContractError(message, where=where, expected=expected, found=found)


def parse_contract(data: Any, source: str | None, contract_class: type):
    """Check an ODCS document against its version's JSON Schema and build the contract.

    Parameters
    ----------
    data : dict
        The parsed document (YAML dates are turned into ISO strings first).
    source : str or None
        A file name or label, prefixed to field paths in errors.
    contract_class : type
        :class:`~meshkit._contracts.model.DataContract`, passed in by its ``from_dict``: the
        reader builds the parts itself and leaves the whole to the model, so neither module
        imports the other's.
    """
    r = _Reader(source)
    if not isinstance(data, dict):
        r.fail("(document)", "not a mapping", expected="a mapping of ODCS fields",
               found=_show(data))
    doc = _json_ready(data)
    if "apiVersion" not in doc:
        r.fail("apiVersion", "a required field is missing",
               expected=f"one of {', '.join(API_VERSIONS)}")
    check_document(doc, source)
    for key in ("id", "version", "status"):
        if key in doc and not str(doc[key]).strip():
            r.fail(key, "an empty value", expected="a non-empty string", found=repr(doc[key]))
    tables = doc.get("schema") or []
    objects = tuple(_parse_object(r, table, f"schema[{i}]") for i, table in enumerate(tables))
    names = [o.name for o in objects]
    for i, name in enumerate(names):
        if name in names[:i]:
            r.fail(f"schema[{i}].name", "duplicate schema object name",
                   expected="one schema object per table", found=repr(name))
    contract = contract_class(id=doc["id"], version=doc["version"], status=doc.get("status"),
                                contract_name=doc.get("name"),
                                api_version=doc["apiVersion"], objects=objects)
    return contract_class(id=contract.id, version=contract.version, status=contract.status,
                        contract_name=contract.contract_name, api_version=contract.api_version,
                        objects=objects, extra=kept_fields(doc, contract.to_dict()))


def _parse_object(r: _Reader, table: dict, path: str) -> SchemaObject:
    props = table.get("properties") or []
    properties = tuple(_parse_property(r, p, f"{path}.properties[{i}]")
                       for i, p in enumerate(props))
    names = [p.name for p in properties]
    for i, n in enumerate(names):
        if n in names[:i]:
            r.fail(f"{path}.properties[{i}].name", "duplicate column name",
                   expected="unique property names", found=repr(n))
    rules = _parse_rules(r, table, path, None, names)
    core = SchemaObject(table["name"], properties, rules)
    return SchemaObject(core.name, properties, rules, kept_fields(table, core.to_dict()))


def _parse_property(r: _Reader, prop: dict, path: str) -> ContractProperty:
    logical_type = prop.get("logicalType")
    options = prop.get("logicalTypeOptions") or {}
    _check_options(r, options, logical_type, f"{path}.logicalTypeOptions")
    position = prop.get("primaryKeyPosition")
    if position == -1:  # the standard's "no position"
        position = None
    core = ContractProperty(
        name=prop["name"], logical_type=logical_type,
        required=prop.get("required") is True, unique=prop.get("unique") is True,
        primary_key=prop.get("primaryKey") is True, primary_key_position=position,
        classification=prop.get("classification"), options=dict(options),
        quality=_parse_rules(r, prop, path, logical_type, [prop["name"]]))
    return ContractProperty(core.name, core.logical_type, core.required, core.unique,
                            core.primary_key, core.primary_key_position, core.classification,
                            core.options, core.quality, kept_fields(prop, core.to_dict()))


def _check_options(r: _Reader, options: dict, logical_type: str | None, path: str) -> None:
    """Refuse options that cannot mean anything on a column of ``logical_type``."""
    for key, value in options.items():
        where = f"{path}.{key}"
        if key in ("minLength", "maxLength") and logical_type == "string":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                r.fail(where, "not a length", expected="an integer >= 0", found=_show(value))
        elif key == "pattern" and logical_type == "string":
            _check_pattern(r, value, where)
        elif key in _BOUND_OPTIONS and not isinstance(value, bool):
            if logical_type in ("integer", "number"):
                if not isinstance(value, (int, float)):
                    r.fail(where, "not a number", expected="a number", found=_show(value))
            elif logical_type in ("date", "timestamp", "time"):
                try:
                    parse_literal(value, logical_type)
                except ValueError:
                    r.fail(where, f"not an ISO 8601 {logical_type}",
                           expected=f"an ISO 8601 {logical_type} string", found=_show(value))
    low, high = options.get("minLength"), options.get("maxLength")
    if logical_type == "string" and isinstance(low, int) and isinstance(high, int) \
            and low > high:
        r.fail(path, "minLength is above maxLength", expected="minLength <= maxLength",
               found=f"{low} > {high}")


def _parse_rules(r: _Reader, owner: dict, path: str, logical_type: str | None,
                 columns: list[str]) -> tuple[QualityRule, ...]:
    rules = owner.get("quality") or []
    return tuple(_parse_rule(r, rule, f"{path}.quality[{i}]", logical_type, columns)
                 for i, rule in enumerate(rules))


def _parse_rule(r: _Reader, rule: dict, path: str, logical_type: str | None,
                columns: list[str]) -> QualityRule:
    operators = [op for op in OPERATORS if op in rule]
    operator = operators[0] if len(operators) == 1 else None
    threshold = None
    if operator is not None:
        threshold = _parse_threshold(r, rule[operator], operator, f"{path}.{operator}")
    kind = rule.get("type", "library")
    metric = rule.get("metric") if kind == "library" else None  # v3.0 ``rule`` stays as written
    arguments = rule.get("arguments") if isinstance(rule.get("arguments"), dict) else {}
    unit = rule.get("unit", "rows")
    if metric is not None:
        _check_arguments(r, arguments, metric, logical_type, columns, f"{path}.arguments")
    core = QualityRule(metric=metric, operator=operator, threshold=threshold,
                       unit=unit if isinstance(unit, str) else "rows",
                       arguments=dict(arguments) if metric is not None else {})
    return QualityRule(core.metric, core.operator, core.threshold, core.unit, core.arguments,
                       kept_fields(rule, core.to_dict()))


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


def _check_arguments(r: _Reader, arguments: dict, metric: str, logical_type: str | None,
                     columns: list[str], path: str) -> None:
    """Refuse arguments that contradict the column they apply to."""
    for key in ("validValues", "missingValues"):
        if key in arguments and logical_type is not None:
            values = arguments[key]
            if not isinstance(values, list):
                r.fail(f"{path}.{key}", "not a list of values", expected="a list",
                       found=_show(values))
            for i, value in enumerate(values):
                try:
                    parse_literal(value, logical_type)
                except ValueError:
                    r.fail(f"{path}.{key}[{i}]", "value does not fit the column's logical type",
                           expected=f"a {logical_type} value", found=_show(value))
    if "pattern" in arguments and metric == "invalidValues":
        if logical_type not in (None, "string"):
            r.fail(f"{path}.pattern", "a pattern applies to strings",
                   expected="a string column", found=f"a {logical_type} column")
        _check_pattern(r, arguments["pattern"], f"{path}.pattern")
    if metric == "duplicateValues" and "properties" in arguments and logical_type is None:
        names = arguments["properties"]
        if not isinstance(names, list) or not names:
            r.fail(f"{path}.properties", "a schema-level duplicateValues names its columns",
                   expected="a non-empty list of property names", found=_show(names))
        for i, n in enumerate(names):
            if n not in columns:
                r.fail(f"{path}.properties[{i}]", "no such property",
                       expected=f"one of {columns}", found=_show(n))


def _check_pattern(r: _Reader, pattern: Any, path: str) -> str:
    if not isinstance(pattern, str):
        r.fail(path, "not a regular expression", expected="a string", found=_show(pattern))
    try:
        re.compile(pattern)
    except re.error as exc:
        r.fail(path, "invalid regular expression", expected="a regular expression",
               found=f"{pattern!r} ({exc})")
    return pattern


def pattern_runs_on_polars(pattern: str) -> str | None:
    """``None`` when polars' regex engine runs ``pattern``, else why not (look-around...)."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception as exc:  # polars raises ComputeError for a regex it cannot run
        return str(exc).splitlines()[0]
    return None


def _json_ready(value: Any) -> Any:
    """YAML turns unquoted dates into date objects; ODCS wants ISO strings."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text if isinstance(value, str) else f"{text} ({type(value).__name__})"
