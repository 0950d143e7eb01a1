"""The data contract: the Open Data Contract Standard (ODCS) v3.0.x, v3.1.0 and v3.2.0.

A contract has one or several schema objects (tables), each mapped to one data product;
their properties are its columns. :class:`DataContract` is an immutable value: read it with
:meth:`DataContract.from_dict` / :meth:`DataContract.from_yaml` (checked against the
official JSON Schema of its ``apiVersion``, see :mod:`meshkit._contracts.schemas`), write
it back with :meth:`DataContract.to_dict` / :meth:`DataContract.to_yaml`: every field is
kept, in the order it was written, and the declared ``apiVersion`` is written back (a
lossless round trip). :meth:`DataContract.object` gives each table's single-table contract.

What meshkit enforces on a product (see :mod:`meshkit._contracts.checks`):

* property: ``logicalType`` (string, integer, number, boolean, date, timestamp, time,
  object, array, map, vector), ``required``, ``unique``, ``primaryKey`` (with
  ``primaryKeyPosition``), ``enum`` (v3.2), ``classification`` (``pii`` columns are masked
  in reports), ``logicalTypeOptions``: ``minimum``, ``maximum``, ``exclusiveMinimum``,
  ``exclusiveMaximum`` (numbers, or ISO strings for date, timestamp and time; v3.0's
  boolean ``exclusive*`` make their bound strict), ``multipleOf``, ``minLength``,
  ``maxLength``, ``pattern``, ``minItems``, ``maxItems``;
* quality rules: ``type: library`` metrics ``nullValues``, ``missingValues``,
  ``invalidValues`` (``validValues`` and/or ``pattern``), ``duplicateValues`` on a
  property, ``rowCount`` and ``duplicateValues`` on a schema object (v3.0's ``rule:
  nullCheck / duplicateCount / rowCount`` too), ``unit`` ``rows`` or ``percent``; ``type:
  sql`` rules, run on the product through polars' SQL engine;
* relationships (foreign keys between tables), by
  :func:`meshkit._contracts.check_relationships` once both tables are published.

Everything else a valid contract may hold (``custom`` rules of other engines, ``text``
rules, ``format`` and other options, other metrics or levels) is kept and reported as
"not enforced" in the :class:`~meshkit._contracts.QualityReport`: never refused, never
silently passed.

Operators compare the metric (a row count, or a percentage of rows) with the threshold:
``mustBe`` (=), ``mustNotBe`` (≠), ``mustBeGreaterThan`` (>), ``mustBeGreaterOrEqualTo``
(≥), ``mustBeLessThan`` (<), ``mustBeLessOrEqualTo`` (≤), ``mustBeBetween: [a, b]`` and
``mustNotBeBetween: [a, b]``.

Bounds in ``logicalTypeOptions`` follow JSON Schema: ``minimum``/``maximum`` are inclusive,
the ``exclusive*`` variants strict; nulls never break a bound, a length or a pattern (use
``required`` or ``nullValues`` for them). A timestamp bound without a time zone is read in
the column's zone. NaN breaks every numeric bound and ``multipleOf`` (it is no number).
``pattern`` is a search, as in JSON Schema (anchor it with ``^...$``), run by polars' regex
engine; a pattern that does not compile is refused when the contract is read, one polars
cannot run (look-around, back-references) is "not enforced". Duplicates in one column ignore nulls (like SQL ``UNIQUE``); across
several ``properties`` a row is a duplicate when every value, nulls included, repeats.
Every row of a repeated value counts.

**"Between" is exclusive at both ends**, as the standard defines it ("``mustBeBetween`` is
the equivalent to ``mustBeGreaterThan`` and ``mustBeLessThan``"): ``mustBeBetween: [0, 10]``
passes for 1 ... 9 rows and fails for 0 and 10; ``mustNotBeBetween: [a, b]`` is its
complement (passes when the value is ≤ a or ≥ b).

Examples
--------
>>> contract = DataContract.from_dict({
...     "apiVersion": "v3.1.0", "kind": "DataContract", "id": "orders", "version": "1.0.0",
...     "status": "active",
...     "schema": [{"name": "orders", "properties": [
...         {"name": "order_id", "logicalType": "integer", "primaryKey": True},
...         {"name": "email", "logicalType": "string", "classification": "pii"}]}]})
>>> contract.columns, contract.primary_key, contract.pii_columns
(['order_id', 'email'], ['order_id'], ['email'])
>>> contract.to_dict()["schema"][0]["properties"][0]
{'name': 'order_id', 'logicalType': 'integer', 'primaryKey': True}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from meshkit._files import atomic_write_text
from meshkit._errors import ContractError

__all__ = ["DataContract", "SchemaObject", "ContractProperty", "QualityRule", "OPERATORS",
           "METRICS", "kept_fields"]

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


@dataclass(frozen=True)
class DataContract:
    """An ODCS data contract (v3.0.x, v3.1.0 or v3.2.0) with one or several tables.

    Build it with :meth:`from_dict` or :meth:`from_yaml` (which check the document against
    the official JSON Schema of its ``apiVersion``), or with
    :func:`meshkit._contracts.infer_contract` from a frame. A contract of one table (a
    product) is used directly; a contract of several tables gives each product its own
    single-table contract with :meth:`object`.

    Parameters
    ----------
    id, version, status : str
        ODCS ``id``, ``version`` and ``status`` (``None`` when a v3.2.0 contract omits it).
    table : str, optional
        The name of the schema object, for a single-table contract.
    properties : tuple of ContractProperty
        Its columns, in contract order.
    quality : tuple of QualityRule
        Its schema-level rules (``rowCount``, multi-column ``duplicateValues``, ``sql``...).
    contract_name : str or None
        ODCS top-level ``name``; :attr:`name` falls back to ``table``.
    api_version : str
        The ``apiVersion`` declared; written back as declared.
    extra, table_extra : dict
        Other top-level and schema-object ODCS keys, kept verbatim.
    objects : tuple of SchemaObject, optional
        Every schema object, for contracts of zero or several tables; built from
        ``table``, ``properties``, ``quality`` and ``table_extra`` when not given. With
        exactly one object, those four fields mirror it.

    Examples
    --------
    >>> c = DataContract(id="t", version="1", status="draft", table="t",
    ...                  properties=(ContractProperty("x", "number"),))
    >>> c.name, c.property("x").logical_type, c.tables
    ('t', 'number', ['t'])
    """

    id: str
    version: str
    status: str | None
    table: str | None = None
    properties: tuple[ContractProperty, ...] = ()
    quality: tuple[QualityRule, ...] = ()
    contract_name: str | None = None
    api_version: str = "v3.1.0"
    extra: dict = field(default_factory=dict)
    table_extra: dict = field(default_factory=dict)
    objects: tuple[SchemaObject, ...] | None = None

    def __post_init__(self) -> None:
        if self.objects is None:
            objects = () if self.table is None else (
                SchemaObject(self.table, tuple(self.properties), tuple(self.quality),
                             dict(self.table_extra)),)
            object.__setattr__(self, "objects", objects)
        elif len(self.objects) == 1:
            only = self.objects[0]
            for name, value in (("table", only.name), ("properties", only.properties),
                                ("quality", only.quality), ("table_extra", only.extra)):
                object.__setattr__(self, name, value)

    # ---- reading ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> DataContract:
        """Read a contract from a parsed ODCS document.

        Parameters
        ----------
        data : dict
            The ODCS document (as loaded from YAML or JSON).
        where : str, optional
            Where it came from (a file name); prefixed to the field path in errors.

        Raises
        ------
        ContractError
            Not valid ODCS of its version, or self-contradictory (a bound that is not a
            value of its column's type, a range upside down...); the message names the
            field path, e.g. ``orders.yaml: schema[0].properties[2].logicalType``.

        Examples
        --------
        >>> DataContract.from_dict({"kind": "DataContract"}, where="x.yaml")
        Traceback (most recent call last):
        ...
        meshkit._errors.ContractError: x.yaml: apiVersion: a required field is missing (expected one of v3.0.0, v3.0.1, v3.0.2, v3.1.0, v3.2.0)
        """
        from meshkit._contracts.parse import parse_contract

        return parse_contract(data, where)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> DataContract:
        """Read a contract from a YAML file.

        Errors name the file and the field path; malformed YAML also its line and column.
        """
        from meshkit._contracts.parse import load_yaml

        return cls.from_dict(load_yaml(path), where=str(path))

    # ---- writing ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The contract as plain ODCS of its ``apiVersion`` (JSON-ready, schema-valid).

        A contract read from a document gives that document back, field for field.
        """
        out: dict[str, Any] = {"apiVersion": self.api_version, "kind": "DataContract",
                               "id": self.id}
        if self.contract_name is not None:
            out["name"] = self.contract_name
        out["version"] = self.version
        if self.status is not None:
            out["status"] = self.status
        out.update(_plain(self.extra))
        if self.objects and "schema" not in self.extra:
            out["schema"] = [o.to_dict() for o in self.objects]
        return out

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """Write the contract as ODCS YAML; return the text.

        The file is written atomically (a temporary file renamed over ``path``), so a
        failed write never leaves half a contract behind.
        """
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            atomic_write_text(path, text)
        return text

    # ---- several tables ----------------------------------------------------------------
    @property
    def tables(self) -> list[str]:
        """The names of the schema objects, in contract order."""
        return [o.name for o in self.objects]

    def object(self, name: str) -> DataContract:
        """The single-table contract of schema object ``name`` (one per product).

        It keeps the contract's top-level fields (``id``, ``version``, ``servers``...), so
        it is a valid ODCS document of its own.

        Raises
        ------
        ContractError
            When the contract has no schema object of that name.

        Examples
        --------
        >>> two = DataContract(id="shop", version="1", status="draft", objects=(
        ...     SchemaObject("orders", (ContractProperty("id", "integer"),)),
        ...     SchemaObject("items", (ContractProperty("sku", "string"),))))
        >>> two.tables, two.object("items").columns
        (['orders', 'items'], ['sku'])
        """
        for candidate in self.objects:
            if candidate.name == name:
                return DataContract(id=self.id, version=self.version, status=self.status,
                                    contract_name=self.contract_name,
                                    api_version=self.api_version, extra=dict(self.extra),
                                    objects=(candidate,))
        raise ContractError("no such schema object in the contract",
                            where=f"contract {self.id!r}", expected=f"one of {self.tables}",
                            found=repr(name))

    def _single(self, what: str) -> None:
        if len(self.objects) != 1:
            raise ContractError(f"{what} needs a single-table contract",
                                where=f"contract {self.id!r}",
                                expected="one schema object (pick one with .object(name))",
                                found=f"{len(self.objects)} schema objects {self.tables}")

    # ---- looking inside --------------------------------------------------------------
    @property
    def name(self) -> str:
        """ODCS top-level ``name``, else the schema object's name, else the ``id``."""
        return self.contract_name or self.table or self.id

    @property
    def columns(self) -> list[str]:
        """Column names, in contract order (single-table contracts)."""
        self._single("columns")
        return [p.name for p in self.properties]

    @property
    def primary_key(self) -> list[str]:
        """Primary-key columns, ordered by ``primaryKeyPosition`` then contract order."""
        self._single("primary_key")
        keyed = [(p.primary_key_position or 0, i, p.name)
                 for i, p in enumerate(self.properties) if p.primary_key]
        return [name for _, _, name in sorted(keyed)]

    @property
    def pii_columns(self) -> list[str]:
        """Columns classified ``pii``."""
        self._single("pii_columns")
        return [p.name for p in self.properties if p.is_pii]

    @property
    def relationships(self) -> list:
        """Every foreign key the contract declares (see :mod:`meshkit._contracts.relations`)."""
        from meshkit._contracts.relations import contract_relationships

        return contract_relationships(self)

    def __repr__(self) -> str:
        inside = (f"columns={[p.name for p in self.properties]!r}" if len(self.objects) == 1
                  else f"tables={self.tables!r}")
        return (f"DataContract(id={self.id!r}, version={self.version!r}, "
                f"status={self.status!r}, {inside})")

    def property(self, name: str) -> ContractProperty:
        """The property of column ``name``.

        Defined last in the class body, so that it does not shadow the ``property``
        builtin used above.

        Raises
        ------
        ContractError
            When the contract has no such column.
        """
        self._single("property()")
        for prop in self.properties:
            if prop.name == name:
                return prop
        raise ContractError("no such column in the contract", where=f"contract {self.id!r}",
                            expected=f"one of {self.columns}", found=repr(name))


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
