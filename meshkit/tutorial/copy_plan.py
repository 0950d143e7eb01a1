"""What to compare on a given mesh: the reference product, its key, the copy and its changes.

The ``04_consistency`` notebook runs on every embedded scenario, so none of its choices may
name one scenario's columns. :func:`default_reference` picks the product that stands as the
standard (the one holding the most PII columns, first in mesh order on ties: retail's
``customer_profiles``, healthcare's ``north_admissions``); :func:`plan_copy` fills every
choice left empty from the mesh and the product's own columns and checks the ones given.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("healthcare", scale=0.1)
>>> plan = plan_copy(sc.mesh, sc.frames)
>>> plan.reference, plan.keys, plan.stale_product
('north_admissions', ['admission_id'], 'north_admissions_at_south_hospital')
>>> plan.stale_column, plan.type_column, plan.shift_column, plan.narrowed_column
('medical_record_number', 'admitted_at', 'age', 'sex')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from meshkit.tutorial.inject import default_columns, default_type_to
from meshkit._consistency._frames import as_keys
from meshkit._consistency.standards import valid_values
from meshkit._display import Displayable, Heading, Table
from meshkit._errors import ConsistencyError

__all__ = ["CopyPlan", "default_reference", "plan_copy"]

_FIELDS = ("reference", "keys", "stale_product", "stale_column", "type_column", "shift_column",
           "narrowed_column")


@dataclass(frozen=True)
class CopyPlan(Displayable):
    """The choices of a consistency walk-through, each given or filled from the mesh.

    Attributes
    ----------
    reference : str
        The product that is the standard (source of truth).
    keys : list of str
        Its entity key: the contract's primary key unless given.
    stale_product, extract_product : str
        Names of the stale copy another domain holds and of a second, partial copy.
    stale_column, type_column, shift_column : str or None
        What :func:`~meshkit._consistency.stale_copy` changes (``None``: the product has no
        such column and the change is skipped); ``type_to`` is the type the copy stores
        ``type_column`` as.
    narrowed_column : str or None
        A column whose allowed values the copy's contract narrows (``None``: the contract lists
        allowed values for no column).
    defaulted : tuple of str
        The choices that were left empty and filled in.
    """

    reference: str
    keys: list[str]
    stale_product: str
    extract_product: str
    stale_column: str | None
    type_column: str | None
    type_to: pl.DataType | None
    shift_column: str | None
    narrowed_column: str | None
    defaulted: tuple[str, ...] = field(default=())

    def stale_copy_args(self) -> dict:
        """The column arguments of :func:`~meshkit._consistency.stale_copy`."""
        return {"stale_column": self.stale_column, "type_column": self.type_column,
                "type_to": self.type_to, "shift_column": self.shift_column}

    def narrowed_values(self, contract) -> dict:
        """``{narrowed_column: allowed values but the last}`` for
        :func:`~meshkit._consistency.copy_contract` (empty when nothing is narrowed)."""
        allowed = valid_values(contract, self.narrowed_column) if self.narrowed_column else None
        return {self.narrowed_column: list(allowed)[:-1]} if allowed else {}

    def to_frame(self) -> pl.DataFrame:
        """One row per choice: its value and whether it was ``given`` or the ``default``."""
        rows = []
        for name in _FIELDS:
            value = getattr(self, name)
            value = ", ".join(value) if isinstance(value, list) else value
            if name == "type_column" and value is not None:
                value = f"{value} (stored as {self.type_to})"
            rows.append({"choice": name, "value": "-" if value is None else str(value),
                         "from": "default" if name in self.defaulted else "given"})
        return pl.DataFrame(rows, schema={"choice": pl.String, "value": pl.String,
                                          "from": pl.String})

    def to_dict(self) -> dict:
        """JSON-ready: each choice (``type_to`` as its name) and which were defaulted."""
        out = {name: getattr(self, name) for name in _FIELDS}
        out["keys"] = list(self.keys)
        out["extract_product"] = self.extract_product
        out["type_to"] = None if self.type_to is None else str(self.type_to)
        out["defaulted"] = list(self.defaulted)
        return out

    def _render(self) -> list:
        return [Heading(f"Consistency walk-through on {self.reference}"),
                Table.from_frame(self.to_frame())]


def default_reference(mesh) -> str:
    """The product that stands as the standard: the reference of the first entity the mesh
    declares; without entities, among products whose contract declares a primary key, the
    one with the most PII columns (first in mesh order on ties).

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> default_reference(load_scenario("retail", scale=0.05).mesh)
    'customer_profiles'
    """
    entities = getattr(mesh, "entities", None)
    if entities:
        return entities[0].reference
    keyed = [p for p in mesh.products()
             if p.contract is not None and p.contract.primary_key]
    if not keyed:
        raise ConsistencyError("no product declares an entity key", where="mesh",
                               expected="a contract with a primaryKey column",
                               found=f"{[p.name for p in mesh.products()]}")
    return max(keyed, key=lambda p: len(p.contract.pii_columns)).name


def _read(data, name: str) -> pl.DataFrame:
    if hasattr(data, "read"):
        return data.read(name)
    if name in data:
        frame = data[name]
        return frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    raise ConsistencyError("no data for the product", where=name,
                           expected=f"one of {sorted(data)}", found=repr(name))


def _column(value: str, frame: pl.DataFrame, what: str) -> str:
    if value not in frame.columns:
        raise ConsistencyError("no such column in the product", where=what,
                               expected=f"one of {frame.columns}", found=repr(value))
    return value


def plan_copy(mesh, data, *, reference: str = "", keys: str | Sequence[str] = "",
              stale_product: str = "", stale_column: str = "", type_column: str = "",
              shift_column: str = "", narrowed_column: str = "") -> CopyPlan:
    """Fill the choices left empty (``""``) from ``mesh`` and the reference's data.

    Parameters
    ----------
    mesh : meshkit._mesh.Mesh
    data : ProductStore or dict
        Where the reference's rows are read (anything with ``.read(name)``, or a mapping of
        product name to frame, such as ``Scenario.frames``).
    reference : str
        Default :func:`default_reference`; a product the mesh lacks is a
        :class:`~meshkit._errors.SpecError`.
    keys : str or list of str
        The entity key column(s); default (empty) the keys of the entity the mesh declares
        with ``reference`` as its reference, else the contract's primary key.
    stale_product : str
        Default ``<reference>_at_<first consumer domain>`` (``<reference>_copy`` when it has
        no consumer; ``_stale`` appended while the mesh has a product of that name, such as a
        declared copy); a given name must not be a product of the mesh.
    stale_column, type_column, shift_column : str
        Default :func:`~meshkit.tutorial.inject.default_columns` of the reference.
    narrowed_column : str
        Default: the non-key column for which the contract lists the most allowed values (at
        least two), first on ties.
    """
    given = {"reference": reference, "keys": keys, "stale_product": stale_product,
             "stale_column": stale_column, "type_column": type_column,
             "shift_column": shift_column, "narrowed_column": narrowed_column}
    defaulted = tuple(name for name in _FIELDS if not given[name])
    reference = reference or default_reference(mesh)
    product = mesh.product(reference)
    contract = product.contract
    frame = _read(data, reference)
    if keys:
        key_list = [_column(k, frame, "keys") for k in as_keys(keys)]
    elif declared := [e for e in getattr(mesh, "entities", ()) if e.reference == reference]:
        key_list = list(declared[0].keys)
    else:
        key_list = list(contract.primary_key) if contract is not None else []
        if not key_list:
            raise ConsistencyError("the product declares no entity key", where=reference,
                                   expected="keys=<column> or a primaryKey in its contract",
                                   found="no primaryKey")
    names = {p.name for p in mesh.products()}
    if not stale_product:
        consumers = [c for c in product.consumers if c != product.domain]
        stale_product = f"{reference}_at_{consumers[0]}" if consumers else f"{reference}_copy"
        while stale_product in names:  # the mesh already holds a copy of that name
            stale_product += "_stale"
    if stale_product in names:
        raise ConsistencyError("the stale copy would replace a product of the mesh",
                               where="stale_product", expected="a new product name",
                               found=repr(stale_product))
    picked = default_columns(frame, key_list)
    type_to = picked["type_to"]
    if type_column:
        type_to = default_type_to(frame.schema[_column(type_column, frame, "type_column")])
        if picked["shift_column"] == type_column and not (type_to.is_numeric()
                                                          or type_to.is_temporal()):
            picked["shift_column"] = default_columns(frame.drop(type_column),
                                                     key_list)["shift_column"]
    if narrowed_column:
        _column(narrowed_column, frame, "narrowed_column")
    elif contract is not None:
        listed = [(len(valid_values(contract, c) or ()), c) for c in contract.columns
                  if c not in key_list and c in frame.columns]
        listed = [(n, c) for n, c in listed if n >= 2]
        narrowed_column = max(listed, key=lambda t: t[0])[1] if listed else None
    return CopyPlan(
        reference=reference, keys=key_list, stale_product=stale_product,
        extract_product=f"{reference}_extract",
        stale_column=(_column(stale_column, frame, "stale_column") if stale_column
                      else picked["stale_column"]),
        type_column=type_column or picked["type_column"], type_to=type_to,
        shift_column=(_column(shift_column, frame, "shift_column") if shift_column
                      else picked["shift_column"]),
        narrowed_column=narrowed_column or None, defaulted=defaulted)
