"""Relationships (foreign keys) between tables, and the referential gaps in data.

ODCS v3.1+ declares a foreign key on a property (``to: customers.id``; the property is the
``from`` side) or on a schema object (``from: orders.customer_id``, ``to: customers.id``;
lists of the same length for a composite key). meshkit reads the shorthand
``table.column`` form; a reference to another file (``other.yaml#/schema/...``) or a
relationship of another ``type`` is kept and reported as not enforced.

:func:`check_relationships` takes the frames of the tables involved (each product of the
mesh a contract maps to, once both are published) and reports, for each foreign key, the
rows of the referencing table whose key the referenced table lacks (nulls never break a
foreign key, as in SQL).

Examples
--------
>>> import polars as pl
>>> from meshkit._contracts import DataContract
>>> shop = DataContract.from_dict({"apiVersion": "v3.2.0", "kind": "DataContract",
...     "id": "shop", "version": "1", "status": "active", "schema": [
...     {"name": "items", "properties": [{"name": "sku", "logicalType": "string"}]},
...     {"name": "purchases", "properties": [
...         {"name": "sku", "logicalType": "string",
...          "relationships": [{"to": "items.sku", "type": "foreignKey"}]}]}]})
>>> report = check_relationships(shop, {
...     "items": pl.DataFrame({"sku": ["a", "b"]}),
...     "purchases": pl.DataFrame({"sku": ["a", "c", None, "c"]})})
>>> check = report.check("purchases.sku->items.sku")
>>> check.passed, check.failing, check.samples["sku"].to_list()
(False, 2, ['c', 'c'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from meshkit._contracts.report import CheckResult, QualityReport
from meshkit._errors import DataError

__all__ = ["Relationship", "contract_relationships", "check_relationships"]


@dataclass(frozen=True)
class Relationship:
    """One foreign key: ``from_columns`` of ``from_table`` reference ``to_columns`` of
    ``to_table``.

    ``reason`` is set (and the tables may be ``None``) when meshkit cannot enforce it.
    """

    from_table: str | None
    from_columns: tuple[str, ...]
    to_table: str | None
    to_columns: tuple[str, ...]
    path: str
    reason: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        """``orders.customer_id->customers.id`` (columns joined by ``+`` when composite)."""
        return (f"{self.from_table}.{'+'.join(self.from_columns)}->"
                f"{self.to_table}.{'+'.join(self.to_columns)}")


def _split(reference, path: str) -> tuple[str | None, tuple[str, ...], str | None]:
    """``table.column`` (or a list of them, one table) -> (table, columns, why not)."""
    refs = reference if isinstance(reference, list) else [reference]
    tables, columns = set(), []
    for ref in refs:
        if not isinstance(ref, str) or "#" in ref or "/" in ref or ref.count(".") != 1:
            return None, (), f"reference {ref!r} is not of the form table.column"
        table, column = ref.split(".")
        tables.add(table)
        columns.append(column)
    if len(tables) != 1:
        return None, (), f"a key spans several tables {sorted(tables)}"
    return tables.pop(), tuple(columns), None


def contract_relationships(contract) -> list[Relationship]:
    """Every relationship declared in ``contract``, on its properties and schema objects."""
    found = []
    for i, table in enumerate(contract.objects):
        base = f"schema[{i}]"
        for j, prop in enumerate(table.properties):
            for k, rel in enumerate(prop.extra.get("relationships") or []):
                found.append(_read(rel, f"{base}.properties[{j}].relationships[{k}]",
                                   table.name, (prop.name,)))
        for k, rel in enumerate(table.extra.get("relationships") or []):
            found.append(_read(rel, f"{base}.relationships[{k}]", None, ()))
    return found


def _read(rel: dict, path: str, from_table: str | None,
          from_columns: tuple[str, ...]) -> Relationship:
    kind = rel.get("type", "foreignKey")
    if "from" in rel:
        from_table, from_columns, why = _split(rel["from"], path)
    else:
        why = None
    to_table, to_columns, why_to = _split(rel.get("to"), path)
    why = why or why_to
    if kind != "foreignKey":
        why = f"relationship type {kind!r}"
    elif not why and len(from_columns) != len(to_columns):
        why = f"{len(from_columns)} column(s) reference {len(to_columns)}"
    return Relationship(from_table, from_columns, to_table, to_columns, path, why, rel)


def _pii_columns(contract, table: str, shown: list[str]) -> list[str]:
    for candidate in contract.objects:
        if candidate.name == table:
            return [p.name for p in candidate.properties if p.is_pii and p.name in shown]
    return []


def check_relationships(contract, frames: Mapping[str, pl.DataFrame | pl.LazyFrame], *,
                        sample_size: int = 5) -> QualityReport:
    """Referential gaps of every foreign key of ``contract`` between the given tables.

    Parameters
    ----------
    contract : DataContract
        The contract declaring the relationships (usually one of several tables).
    frames : mapping of str to polars frame
        The data of each schema object, by its name (the published products it maps to).
    sample_size : int, default 5
        Referencing rows kept per broken foreign key; ``pii`` values read ``***``.

    Returns
    -------
    QualityReport
        One check per relationship: ``failing`` counts the rows whose non-null key the
        referenced table lacks. A relationship whose tables are not both in ``frames``
        (not published yet), or that meshkit cannot read, is "not enforced" with the
        reason.

    Raises
    ------
    DataError
        When a key column is missing from its frame.
    """
    checks = []
    rows = 0
    for rel in contract.relationships:
        expected = "every non-null key found in the referenced table"
        if rel.reason is None:
            missing = [t for t in (rel.from_table, rel.to_table) if t not in frames]
            reason = (f"not published: {', '.join(missing)}" if missing else None)
        else:
            reason = rel.reason
        if reason is not None:
            checks.append(CheckResult(rel.name if rel.to_table else rel.path, None,
                                      "foreignKey", None, None, 0, expected=expected,
                                      message=f"not enforced: {reason}"))
            continue
        child = frames[rel.from_table].lazy()
        parent = frames[rel.to_table].lazy()
        for table, frame, cols in ((rel.from_table, child, rel.from_columns),
                                   (rel.to_table, parent, rel.to_columns)):
            names = frame.collect_schema().names()
            absent = [c for c in cols if c not in names]
            if absent:
                raise DataError("a foreign-key column is missing", where=f"{rel.path} ({table})",
                                expected=f"columns {list(cols)}", found=f"columns {names}")
        keys = parent.select([pl.col(t).alias(f) for f, t in
                              zip(rel.from_columns, rel.to_columns)]).unique()
        present = child.drop_nulls(list(rel.from_columns))
        gaps = present.join(keys, on=list(rel.from_columns), how="anti", nulls_equal=False)
        total, count, samples = pl.collect_all([
            child.select(pl.len()), gaps.select(pl.len()), gaps.head(sample_size)])
        rows = max(rows, total.item())
        pii = _pii_columns(contract, rel.from_table, samples.columns)
        samples = samples.with_columns(
            pl.when(pl.col(c).is_null()).then(pl.lit(None, pl.String))
            .otherwise(pl.lit("***")).alias(c) for c in pii)
        checks.append(CheckResult(rel.name, ", ".join(rel.from_columns), "foreignKey",
                                  count.item() == 0, count.item(), total.item(),
                                  observed=count.item(), expected=expected,
                                  samples=samples if count.item() else None))
    return QualityReport(contract.id, contract.version, rows, checks)
