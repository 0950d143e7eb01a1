"""The parts of a data contract: its schema objects, their properties and quality rules.

:class:`~meshkit._contracts.model.DataContract` is made of these; the reader
(:mod:`~meshkit._contracts.parse`) builds them, so they live apart from both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshkit._errors import ContractError

__all__ = ["SchemaObject", "ContractProperty", "QualityRule", "OPERATORS", "METRICS",
           "kept_fields"]

#: ODCS comparison operators and their symbols (``between`` is exclusive, see module doc).
OPERATORS: dict[str, str] = {
    "mustBe": "=",
    "mustNotBe": "!=",
    "mustBeGreaterThan": ">",
    "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<",
    "mustBeLessOrEqualTo": "<=",
    "mustBeBetween": "in (a, b)",
    "mustNotBeBetween": "not in (a, b)",
}

#: ODCS library metrics meshkit runs, and the level each may appear at.
METRICS: dict[str, tuple[str, ...]] = {
    "nullValues": ("property",),
    "missingValues": ("property",),
    "invalidValues": ("property",),
    "duplicateValues": ("property", "schema"),
    "rowCount": ("schema",),
}


@dataclass(frozen=True)
class QualityRule:
    """One ODCS quality rule: a library ``metric`` compared with one operator.

    Parameters
    ----------
    metric : str or None
        ``nullValues``, ``missingValues``, ``invalidValues``, ``duplicateValues`` or
        ``rowCount``; ``None`` for a ``type: text`` rule, which is kept but never run.
    operator : str or None
        One of :data:`OPERATORS`.
    threshold : float or tuple of float or None
        The value compared with; a ``(low, high)`` pair for the ``between`` operators.
    unit : str
        ``"rows"`` (a count) or ``"percent"`` (of all rows).
    arguments : dict
        The metric's ODCS ``arguments`` (``validValues``, ``pattern``, ``missingValues``,
        ``properties``), as written.
    extra : dict
        Every other ODCS key of the rule, kept verbatim (``name``, ``description``,
        ``severity``, ``dimension``, ``type``...).

    Examples
    --------
    >>> rule = QualityRule("nullValues", "mustBeLessThan", 5)
    >>> rule.passes(4), rule.passes(5), rule.describe()
    (True, False, 'nullValues < 5 rows')
    >>> QualityRule("rowCount", "mustBeBetween", (0, 10)).passes(10)
    False
    """

    metric: str | None
    operator: str | None = None
    threshold: Any = None
    unit: str = "rows"
    arguments: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """``severity`` as written, ``"error"`` when absent; only errors fail a report."""
        return str(self.extra.get("severity", "error"))

    @property
    def label(self) -> str | None:
        """The rule's ODCS ``name`` or ``id``, if it has one."""
        return self.extra.get("name") or self.extra.get("id")

    @property
    def type(self) -> str:
        """ODCS ``type``: ``library`` (default), ``sql``, ``text`` or ``custom``."""
        return str(self.extra.get("type", "library"))

    @property
    def query(self) -> str | None:
        """The SQL of a ``type: sql`` rule."""
        return self.extra.get("query")

    def passes(self, value: float) -> bool:
        """Compare a measured metric with the threshold (``between`` is exclusive)."""
        op, t = self.operator, self.threshold
        if op == "mustBe":
            return value == t
        if op == "mustNotBe":
            return value != t
        if op == "mustBeGreaterThan":
            return value > t
        if op == "mustBeGreaterOrEqualTo":
            return value >= t
        if op == "mustBeLessThan":
            return value < t
        if op == "mustBeLessOrEqualTo":
            return value <= t
        if op == "mustBeBetween":
            return t[0] < value < t[1]
        if op == "mustNotBeBetween":
            return value <= t[0] or value >= t[1]
        raise ContractError("unknown operator", expected=", ".join(OPERATORS), found=op)

    def describe(self) -> str:
        """A short human reading of the rule, e.g. ``invalidValues < 5 rows``."""
        metric = self.metric or (self.extra.get("rule") if self.type == "library" else None)
        if metric is None:
            if self.type == "sql" and self.operator is not None:
                return f"sql {_threshold_text(self.operator, self.threshold)}"
            engine = self.extra.get("engine")
            return self.type + (f" ({engine})" if engine else "")
        if self.operator is None:
            return metric
        unit = "%" if self.unit == "percent" else " rows"
        return f"{metric} {_threshold_text(self.operator, self.threshold)}{unit}"

    def to_dict(self) -> dict:
        """The rule as plain ODCS (every field it was read with, see :func:`kept_fields`)."""
        out: dict[str, Any] = {}
        if "type" in self.extra:
            out["type"] = self.extra["type"]
        if self.metric is not None:
            out["metric"] = self.metric
        if self.arguments:
            out["arguments"] = _plain(self.arguments)
        if self.operator is not None:
            value = self.threshold
            out[self.operator] = list(value) if isinstance(value, tuple) else value
        if self.unit != "rows":
            out["unit"] = self.unit
        out.update(_plain(self.extra))
        return out


@dataclass(frozen=True)
class ContractProperty:
    """One column of a data product, as its contract describes it.

    Parameters
    ----------
    name : str
        The column name.
    logical_type : str or None
        An ODCS logical type (see :mod:`meshkit._contracts.types`); ``None`` when the
        contract gives none (its values are then not type-checked).
    required, unique, primary_key : bool
        ODCS ``required`` (no nulls), ``unique`` and ``primaryKey``.
    primary_key_position : int or None
        ODCS ``primaryKeyPosition`` (1-based) for composite keys.
    classification : str or None
        ODCS ``classification``; ``"pii"`` values never appear in quality reports.
    options : dict
        ODCS ``logicalTypeOptions`` as written (``minimum``, ``maxLength``, ``pattern``...).
    quality : tuple of QualityRule
        The property's quality rules.
    extra : dict
        Every other ODCS key, kept verbatim (``description``, ``tags``...).

    Examples
    --------
    >>> p = ContractProperty("email", "string", classification="PII")
    >>> p.is_pii, p.to_dict()
    (True, {'name': 'email', 'logicalType': 'string', 'classification': 'PII'})
    """

    name: str
    logical_type: str | None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    primary_key_position: int | None = None
    classification: str | None = None
    options: dict = field(default_factory=dict)
    quality: tuple[QualityRule, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def enum(self) -> list | None:
        """The allowed values of an ODCS v3.2 ``enum`` (its entries' ``value``), if any."""
        entries = self.extra.get("enum")
        return None if entries is None else [e["value"] for e in entries]

    @property
    def is_pii(self) -> bool:
        """Whether the column is classified ``pii`` (case-insensitive)."""
        return (self.classification or "").lower() == "pii"

    def to_dict(self) -> dict:
        """The property as plain ODCS."""
        out: dict[str, Any] = {"name": self.name}
        if self.logical_type is not None:
            out["logicalType"] = self.logical_type
        if self.options:
            out["logicalTypeOptions"] = _plain(self.options)
        for key, value in (("required", self.required), ("unique", self.unique),
                           ("primaryKey", self.primary_key)):
            if value:
                out[key] = True
        if self.primary_key_position is not None:
            out["primaryKeyPosition"] = self.primary_key_position
        if self.classification is not None:
            out["classification"] = self.classification
        out.update(_plain(self.extra))
        if self.quality and "quality" not in self.extra:
            out["quality"] = [rule.to_dict() for rule in self.quality]
        return out


@dataclass(frozen=True)
class SchemaObject:
    """One ODCS schema object: a table, mapped to one data product.

    Parameters
    ----------
    name : str
        The schema object's ``name``.
    properties : tuple of ContractProperty
        Its columns, in contract order.
    quality : tuple of QualityRule
        Its schema-level rules.
    extra : dict
        Every other ODCS key (``physicalName``, ``relationships``...), kept verbatim.
    """

    name: str
    properties: tuple[ContractProperty, ...] = ()
    quality: tuple[QualityRule, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The schema object as plain ODCS."""
        out: dict[str, Any] = {"name": self.name}
        out.update(_plain(self.extra))
        if self.properties and "properties" not in self.extra:
            out["properties"] = [p.to_dict() for p in self.properties]
        if self.quality and "quality" not in self.extra:
            out["quality"] = [rule.to_dict() for rule in self.quality]
        return out


def _threshold_text(operator: str, t: Any) -> str:
    if operator in ("mustBeBetween", "mustNotBeBetween"):
        word = "in" if operator == "mustBeBetween" else "not in"
        return f"{word} ({_num(t[0])}, {_num(t[1])})"
    return f"{OPERATORS[operator]} {_num(t)}"


def kept_fields(read: dict, written: dict) -> dict:
    """The fields of ``read`` that ``written`` (the interpreted part) lacks or changes.

    Every model object keeps them in ``extra`` and lays them over what it writes, so a
    round trip gives back exactly the document read.

    Examples
    --------
    >>> kept_fields({"name": "x", "required": False, "tags": ["a"]}, {"name": "x"})
    {'required': False, 'tags': ['a']}
    """
    return {k: _plain(v) for k, v in read.items() if k not in written or written[k] != v}


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plain(value: Any) -> Any:
    """Deep-copy a JSON-ready value (so a to_dict() result never aliases the contract)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
