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

from meshkit._contracts.parse import load_yaml, parse_contract
from meshkit._contracts.parts import (METRICS, OPERATORS, ContractProperty, QualityRule,
                                      SchemaObject, _plain, kept_fields)
from meshkit._files import atomic_write_text
from meshkit._errors import ContractError

__all__ = ["DataContract", "SchemaObject", "ContractProperty", "QualityRule", "OPERATORS",
           "METRICS", "kept_fields"]


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
        return parse_contract(data, where, cls)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> DataContract:
        """Read a contract from a YAML file.

        Errors name the file and the field path; malformed YAML also its line and column.
        """
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
