"""The mesh spec file format: read and write ``mesh.yaml`` (see :mod:`meshkit._mesh`).

Private to :mod:`meshkit._mesh`, whose :meth:`~meshkit._mesh.Mesh.load`,
:meth:`~meshkit._mesh.Mesh.save`, :meth:`~meshkit._mesh.Mesh.to_spec` and
:meth:`~meshkit._mesh.Mesh.read_source` delegate here: the spec's names and rules
(:data:`SPEC_FILE`, :func:`check_mesh`...), YAML loading that keeps line numbers (through
:mod:`meshkit._yaml`), the jsonschema check of the spec (its first problem as a
:class:`~meshkit._errors.SpecError` naming the file, the line and the field path), spec ->
plain parts (which :meth:`~meshkit._mesh.Mesh.load` builds the objects from) and mesh -> spec,
writing a mesh folder, and reading CSV or Parquet source files.

This module never imports :mod:`meshkit._mesh`: the model imports the format, not the other
way round, so there is no import cycle.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import yaml

from meshkit._contracts import DataContract
from meshkit._contracts.types import default_dtype
from meshkit._files import atomic_copy, atomic_write_text
from meshkit._errors import DataError, SpecError
from meshkit._roles import Access, Entity, InteractionSource, Interactions, Task
from meshkit._yaml import line_of, load_yaml

__all__ = ["SPEC_FILE", "SPEC_API_VERSION", "SOURCE_FORMATS", "check_mesh", "load_parts",
           "load_spec_yaml", "parts_from_spec", "path_text", "read_source", "resolve_inside",
           "save_mesh", "schema_error", "spec_of"]

#: The spec's file name inside a mesh folder.
SPEC_FILE = "mesh.yaml"
#: The ``apiVersion`` meshkit reads and writes.
SPEC_API_VERSION = "meshkit/v1"
#: Source file suffixes meshkit reads, and their formats.
SOURCE_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet"}

_NAME = r"^[A-Za-z][A-Za-z0-9_-]*$"
_NAME_HELP = "a name of letters, digits, '_' or '-', starting with a letter"

_HEADER = ("# meshkit mesh spec: domains, their owners and data products.\n"
           "# Paths (contract, source) are relative to this file; sources are .csv or .parquet.\n")

_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a mesh spec mapping",
    "required": ["name", "domains"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": SPEC_API_VERSION, "description": repr(SPEC_API_VERSION)},
        "kind": {"const": "Mesh", "description": "'Mesh'"},
        "name": {"type": "string", "pattern": _NAME, "description": _NAME_HELP},
        "description": {"type": "string", "description": "a string"},
        "domains": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/domain"},
                    "description": "a list of at least one domain"},
        "task": {"$ref": "#/$defs/task"},
        "interactions": {"$ref": "#/$defs/interactions"},
        "entities": {"type": "array", "items": {"$ref": "#/$defs/entity"},
                     "description": "a list of entities (name, keys, reference, copies, "
                                    "references)"},
        "principals": {"type": "array", "items": {"$ref": "#/$defs/principal"},
                       "description": "a list of principals (name, kind, domain, roles)"},
        "grants": {"type": "array", "items": {"type": "object", "description": "a grant mapping"},
                   "description": "a list of grants (see meshkit.Policy)"},
        "denies": {"type": "array", "items": {"type": "object", "description": "a deny mapping"},
                   "description": "a list of denies (see meshkit.Policy)"},
        "policy": {"type": "string", "minLength": 1,
                   "description": "the path of a YAML policy file beside the spec "
                                  "(instead of grants and denies)"},
    },
    "$defs": {
        "columns": {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"type": "string", "minLength": 1, "description": "a column name"},
                    "description": "a list of distinct column names"},
        "task": {
            "type": "object",
            "description": "a task mapping (kind, target, features, products)",
            "required": ["target", "features", "products"],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": ["binary"], "description": "'binary'"},
                "target": {"type": "string", "minLength": 1, "description": "the label column"},
                "features": {"$ref": "#/$defs/columns"},
                "products": {"type": "object", "minProperties": 1,
                             "additionalProperties": {"type": "string", "minLength": 1,
                                                      "description": "a product name"},
                             "description": "domain -> the product carrying the task"},
            },
        },
        "interaction_source": {
            "type": "object",
            "description": "an interaction source mapping (product, user, item, weight, time)",
            "required": ["product", "user", "item"],
            "additionalProperties": False,
            "properties": {
                "product": {"type": "string", "minLength": 1, "description": "a product name"},
                "user": {"type": "string", "minLength": 1, "description": "the user column"},
                "item": {"type": "string", "minLength": 1, "description": "the item column"},
                "weight": {"type": "string", "minLength": 1,
                           "description": "the column grading an interaction"},
                "time": {"type": "string", "minLength": 1,
                         "description": "the timestamp column"},
            },
        },
        "interactions": {
            "type": "object",
            "description": "an interactions mapping (sources, users, items)",
            "required": ["sources"],
            "additionalProperties": False,
            "properties": {
                "sources": {"type": "object", "minProperties": 1,
                            "additionalProperties": {"$ref": "#/$defs/interaction_source"},
                            "description": "domain -> its interaction source"},
                "users": {"type": "string", "minLength": 1,
                          "description": "the product listing every user"},
                "items": {"type": "string", "minLength": 1,
                          "description": "the product listing every item"},
            },
        },
        "entity": {
            "type": "object",
            "description": "an entity mapping (name, keys, reference, copies, references)",
            "required": ["name", "keys", "reference"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": _NAME, "description": _NAME_HELP},
                "keys": {"$ref": "#/$defs/columns"},
                "reference": {"type": "string", "minLength": 1,
                              "description": "the product that is the entity's standard"},
                "copies": {"type": "array", "uniqueItems": True,
                           "items": {"type": "string", "minLength": 1,
                                     "description": "a product name"},
                           "description": "a list of products holding a copy"},
                "references": {"type": "array", "uniqueItems": True,
                               "items": {"type": "string", "minLength": 1,
                                         "description": "a product name"},
                               "description": "a list of products naming it by its keys"},
            },
        },
        "principal": {
            "type": "object",
            "description": "a principal mapping (name, kind, domain, roles)",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "description": "a principal name"},
                "kind": {"enum": ["person", "service", "domain"],
                         "description": "'person', 'service' or 'domain'"},
                "domain": {"type": "string", "minLength": 1, "description": "a domain name"},
                "roles": {"type": "array", "items": {"type": "string", "minLength": 1,
                                                     "description": "a role name"},
                          "description": "a list of role names"},
            },
        },
        "domain": {
            "type": "object",
            "description": "a domain mapping (name, owner, products)",
            "required": ["name", "owner"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": _NAME, "description": _NAME_HELP},
                "owner": {"type": "string", "minLength": 1,
                          "description": "the owning team or person, e.g. an e-mail address"},
                "description": {"type": "string", "description": "a string"},
                "products": {"type": "array", "items": {"$ref": "#/$defs/product"},
                             "description": "a list of data products (default: none, for "
                                            "a domain that only consumes)"},
            },
        },
        "product": {
            "type": "object",
            "description": "a data product mapping (name, contract, ...)",
            "required": ["name", "contract"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": _NAME, "description": _NAME_HELP},
                "description": {"type": "string", "description": "a string"},
                "owner": {"type": "string", "minLength": 1,
                          "description": "the owning team (default: the domain's owner)"},
                "contract": {"type": "string", "minLength": 1,
                             "description": "the path of an ODCS contract file, e.g. "
                                            "contracts/<product>.yaml"},
                "table": {"type": "string", "minLength": 1,
                          "description": "the schema object of a contract of several tables"},
                "source": {"type": "string", "minLength": 1,
                           "description": "the path of a .csv or .parquet file"},
                "consumers": {"type": "array", "uniqueItems": True,
                              "items": {"type": "string", "minLength": 1,
                                        "description": "a domain name"},
                              "description": "a list of distinct domain names"},
            },
        },
    },
}


# =========================================================================== load


def load_parts(path: str | os.PathLike, *, allow_outside: bool = False) -> dict:
    """Read a mesh spec (``mesh.yaml``, or a folder holding one) and its contracts.

    Returns what :meth:`~meshkit._mesh.Mesh.load` builds the mesh from (see
    :func:`parts_from_spec`). Contracts and sources resolve inside the spec's folder unless
    ``allow_outside`` (see :func:`resolve_inside`).
    """
    spec_path = Path(path)
    if spec_path.is_dir():
        spec_path = spec_path / SPEC_FILE
    spec = load_spec_yaml(spec_path)
    return parts_from_spec(spec, spec_path, allow_outside=allow_outside)


def resolve_inside(folder: Path, path: str | os.PathLike, *, allow_outside: bool = False,
                   where: str = "path") -> Path:
    """``folder / path``, refused unless it stays inside ``folder``.

    An absolute path, a ``..`` that climbs out, or a symbolic link (of the file or of a
    folder on the way) that leads out of ``folder`` is a :class:`SpecError`, unless the
    user passes ``allow_outside=True``: a mesh spec someone sends must not make meshkit
    read, or :meth:`Mesh.save` copy, a file elsewhere on the machine.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> resolve_inside(folder, "contracts/orders.yaml") == folder / "contracts/orders.yaml"
    True
    >>> try:
    ...     resolve_inside(folder, "../secrets.csv", where="mesh.yaml, domains[0]")
    ... except SpecError as err:
    ...     print(err.message)
    path leaves the mesh spec's folder
    """
    given = Path(path)
    candidate = folder / given
    if allow_outside:
        return candidate
    if given.is_absolute():
        raise SpecError("absolute path in a mesh spec", where=where,
                        expected="a path relative to the spec's folder "
                                 "(or allow_outside=True)", found=str(given))
    base = folder.resolve()
    real = candidate.resolve()  # follows every symbolic link on the way
    if not real.is_relative_to(base):
        how = "a symbolic link" if ".." not in given.parts else "'..'"
        raise SpecError("path leaves the mesh spec's folder", where=where,
                        expected=f"a file inside {folder.name or folder} "
                                 f"(or allow_outside=True)",
                        found=f"{given} (through {how}, to a file outside)")
    return candidate


# =========================================================================== YAML


def load_spec_yaml(spec_path: Path) -> Any:
    """The parsed spec mapping, each node carrying its line (a SpecError otherwise)."""
    if not spec_path.is_file():
        raise SpecError("cannot read the mesh spec", where=str(spec_path),
                        expected=f"an existing {SPEC_FILE} (or a folder holding one)",
                        found="nothing there" if not spec_path.exists() else "not a file")
    spec = load_yaml(spec_path, error=SpecError, what="the mesh spec", lines=True)
    if not isinstance(spec, dict):
        raise SpecError("the mesh spec is not a mapping", where=str(spec_path),
                        expected="a mapping with name and domains",
                        found="an empty file" if spec is None else type(spec).__name__)
    return spec


def schema_error(spec: Any, spec_path: Path) -> SpecError | None:
    """The first problem jsonschema finds (in file order), as a SpecError."""
    validator = jsonschema.Draft202012Validator(_SPEC_SCHEMA)
    errors = list(validator.iter_errors(spec))
    if not errors:
        return None

    def where(path: list) -> str:
        line = line_of(spec, path)
        place = f"{spec_path}, line {line}" if line else str(spec_path)
        return f"{place}, {path_text(path)}" if path else place

    def order(error):
        path = list(error.absolute_path)
        return (line_of(spec, path) or 0, len(path), error.validator)

    error = min(errors, key=order)
    path = list(error.absolute_path)
    schema = error.schema
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance][0]
        wanted = schema["properties"][missing].get("description", "a value")
        return SpecError("a required field is missing", where=where([*path, missing]),
                         expected=wanted, found="nothing")
    if error.validator == "additionalProperties":
        unknown = sorted(str(k) for k in error.instance if k not in schema["properties"])[0]
        return SpecError("unknown field", where=where([*path, unknown]),
                         expected=f"one of {', '.join(schema['properties'])}",
                         found=repr(unknown))
    wanted = schema.get("description", f"{error.validator} {error.validator_value!r}")
    instance = error.instance
    kind = ("mapping" if isinstance(instance, dict) else "list" if isinstance(instance, list)
            else type(instance).__name__)
    shown = repr(dict(instance) if isinstance(instance, dict)
                 else list(instance) if isinstance(instance, list) else instance)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return SpecError("bad value", where=where(path), expected=wanted, found=f"{shown} ({kind})")


def parts_from_spec(spec: dict, spec_path: Path, *, allow_outside: bool = False) -> dict:
    """Check ``spec`` (read from ``spec_path``) and read its contracts.

    Returns ``{"name", "description", "root", "domains": [{"name", "owner", "description",
    "products": [{"name", "contract", "description", "owner", "consumers", "source"}]}],
    "task", "interactions", "entities", "access", "locate"}``, each product holding its
    :class:`~meshkit._contracts.DataContract` (the named ``table:`` of a contract of several
    tables) and source path; ``locate(path)`` gives a field's file, line and path, for the
    checks of the declarations against the built mesh.
    """
    problem = schema_error(spec, spec_path)
    if problem is not None:
        raise problem

    def where(path: list) -> str:
        line = line_of(spec, path)
        return f"{spec_path}, line {line}, {path_text(path)}"

    check_mesh(spec["name"],
                [(d["name"], d["owner"],
                  [(p["name"], p.get("consumers", [])) for p in d.get("products", [])])
                 for d in spec["domains"]], where)
    base = spec_path.parent
    domains = []
    for i, d in enumerate(spec["domains"]):
        products = []
        for k, p in enumerate(d.get("products", [])):
            at = ["domains", i, "products", k]
            contract_path = resolve_inside(base, p["contract"], allow_outside=allow_outside,
                                           where=where([*at, "contract"]))
            if not contract_path.is_file():
                raise SpecError("contract file not found", where=where([*at, "contract"]),
                                expected="an ODCS contract file relative to the spec",
                                found=f"no file at {contract_path}")
            if contract_path.suffix.lower() not in (".yaml", ".yml"):
                raise SpecError("unsupported contract format", where=where([*at, "contract"]),
                                expected="a .yaml or .yml ODCS file",
                                found=repr(contract_path.suffix or contract_path.name))
            contract = DataContract.from_yaml(contract_path)
            if "table" in p:
                if p["table"] not in contract.tables:
                    raise SpecError("the contract has no such table", where=where([*at, "table"]),
                                    expected=f"one of {', '.join(contract.tables)}",
                                    found=repr(p["table"]))
                contract = contract.object(p["table"])
            elif len(contract.tables) != 1:
                raise SpecError("the contract describes several tables: name the product's",
                                where=where([*at, "contract"]),
                                expected=f"table: one of {', '.join(contract.tables)}",
                                found=f"{len(contract.tables)} tables in {p['contract']}")
            source = None
            if "source" in p:
                source = resolve_inside(base, p["source"], allow_outside=allow_outside,
                                        where=where([*at, "source"]))
                if source.suffix.lower() not in SOURCE_FORMATS:
                    raise DataError("unsupported source file format",
                                    where=where([*at, "source"]),
                                    expected=f"one of {', '.join(SOURCE_FORMATS)}",
                                    found=repr(source.suffix or source.name))
                if not source.is_file():
                    raise DataError("source file not found", where=where([*at, "source"]),
                                    expected="an existing file relative to the spec",
                                    found=f"no file at {source}")
            products.append({"name": p["name"], "contract": contract,
                             "description": p.get("description", ""), "owner": p.get("owner"),
                             "consumers": list(p.get("consumers", [])), "source": source})
        domains.append({"name": d["name"], "owner": d["owner"],
                        "description": d.get("description", ""), "products": products})
    policy_file = None
    if "policy" in spec:
        for other in ("grants", "denies"):
            if other in spec:
                raise SpecError("a policy file and policy items in the same spec",
                                where=where([other]),
                                expected="either policy: <file> or grants/denies",
                                found=f"policy: {spec['policy']} and {other}")
        policy_file = resolve_inside(base, spec["policy"], allow_outside=allow_outside,
                                     where=where(["policy"]))
        if not policy_file.is_file():
            raise SpecError("policy file not found", where=where(["policy"]),
                            expected="a YAML policy file relative to the spec",
                            found=f"no file at {policy_file.resolve()}")
    return {"name": spec["name"], "description": spec.get("description", ""), "root": base,
            "domains": domains, "task": task_of(spec.get("task")),
            "interactions": interactions_of(spec.get("interactions")),
            "entities": [Entity(e["name"], list(e["keys"]), e["reference"],
                                copies=list(e.get("copies", [])),
                                references=list(e.get("references", [])))
                         for e in spec.get("entities", [])],
            "access": Access(principals=[_plain(p) for p in spec.get("principals", [])],
                             grants=[_plain(g) for g in spec.get("grants", [])],
                             denies=[_plain(d) for d in spec.get("denies", [])],
                             policy_file=policy_file),
            "locate": where}


def _plain(value: Any) -> Any:
    """YAML nodes (which carry their lines) as plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def task_of(spec: dict | None) -> Task | None:
    """A :class:`Task` from the spec's ``task:`` mapping (already schema-checked)."""
    if spec is None:
        return None
    return Task(features=list(spec["features"]), target=spec["target"],
                kind=spec.get("kind", "binary"), products=dict(spec["products"]))


def interactions_of(spec: dict | None) -> Interactions | None:
    """:class:`Interactions` from the spec's ``interactions:`` mapping (schema-checked)."""
    if spec is None:
        return None
    sources = {domain: InteractionSource(s["product"], user=s["user"], item=s["item"],
                                         weight=s.get("weight"), time=s.get("time"))
               for domain, s in spec["sources"].items()}
    return Interactions(sources, users=spec.get("users"), items=spec.get("items"))


# =========================================================================== write


def spec_of(mesh) -> dict:
    """The mesh spec as a plain dict, with the paths :func:`save_mesh` writes."""
    domains = []
    for domain in mesh.domains.values():
        products = []
        for p in domain.products.values():
            entry: dict[str, Any] = {"name": p.name}
            if p.description:
                entry["description"] = p.description
            if p._owner is not None:
                entry["owner"] = p._owner
            entry["contract"] = f"contracts/{p.name}.yaml"
            if p.source is not None:
                entry["source"] = _saved_source(mesh, p).as_posix()
            entry["consumers"] = list(p.consumers)
            products.append(entry)
        entry_domain: dict[str, Any] = {"name": domain.name, "owner": domain.owner}
        if domain.description:
            entry_domain["description"] = domain.description
        entry_domain["products"] = products
        domains.append(entry_domain)
    spec: dict[str, Any] = {"apiVersion": SPEC_API_VERSION, "kind": "Mesh", "name": mesh.name}
    if mesh.description:
        spec["description"] = mesh.description
    spec["domains"] = domains
    if mesh.task is not None:
        spec["task"] = mesh.task.to_dict()
    if mesh.interactions is not None:
        spec["interactions"] = mesh.interactions.to_dict()
    if mesh.entities:
        spec["entities"] = [e.to_dict() for e in mesh.entities]
    access = mesh.access
    if access is not None and access.principals:
        spec["principals"] = [dict(p) for p in access.principals]
    if access is not None and access.policy_file is not None:
        spec["policy"] = _saved_policy(mesh).as_posix()
    elif access is not None:
        if access.grants:
            spec["grants"] = [dict(g) for g in access.grants]
        if access.denies:
            spec["denies"] = [dict(d) for d in access.denies]
    return spec


def _saved_policy(mesh) -> Path:
    """Where ``save`` puts the policy file, relative to the mesh folder."""
    relative = mesh._relative_to_root(mesh.access.policy_file)
    return relative if relative is not None else Path(mesh.access.policy_file.name)


def save_mesh(mesh, directory: str | os.PathLike, *, allow_outside: bool = False) -> Path:
    """Write ``mesh`` as ``directory/mesh.yaml`` plus ``contracts/<product>.yaml``.

    Refuses (DataError) before writing anything when a source file is missing; the spec is
    written last, so it only ever names files that exist. A mesh read from a folder never
    copies a source from outside that folder (:func:`resolve_inside`; SpecError, nothing
    written) unless ``allow_outside``; a mesh built in code has no folder, and copies the
    files its code named.
    """
    for product in mesh.products():  # refuse before writing anything
        if product.source is not None and mesh.root is not None and not allow_outside:
            try:
                relative = os.path.relpath(product.source, mesh.root)
            except ValueError:  # another drive
                relative = str(Path(product.source).resolve())
            resolve_inside(Path(mesh.root), relative, where=f"product {product.name!r}.source")
        if product.source is not None and not product.source.is_file():
            raise DataError("the product's source file does not exist",
                            where=f"product {product.name!r}",
                            expected="an existing .csv or .parquet file",
                            found=str(product.source))
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for product in mesh.products():
        product.contract.to_yaml(folder / "contracts" / f"{product.name}.yaml")
        if product.source is not None:
            target = folder / _saved_source(mesh, product)
            if not (target.exists() and os.path.samefile(target, product.source)):
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_copy(product.source, target)
    policy_file = mesh.access.policy_file if mesh.access is not None else None
    if policy_file is not None:
        target = folder / _saved_policy(mesh)
        if not (target.exists() and os.path.samefile(target, policy_file)):
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_copy(policy_file, target)
    text = _HEADER + yaml.safe_dump(spec_of(mesh), sort_keys=False, allow_unicode=True,
                                    width=100)
    target = folder / SPEC_FILE
    atomic_write_text(target, text)
    return target


def _saved_source(mesh, product) -> Path:
    """Where ``save`` puts a product's source, relative to the mesh folder."""
    relative = mesh._relative_to_root(product.source)
    if relative is not None:
        return relative
    return Path("sources") / f"{product.name}{product.source.suffix.lower()}"


# =========================================================================== files


def read_source(source: Path, contract: Any) -> pl.DataFrame:
    """Read a CSV or Parquet ``source``; CSV columns get the dtypes of ``contract``."""
    fmt = SOURCE_FORMATS.get(source.suffix.lower())
    if fmt is None:
        raise DataError("unsupported source file format", where=str(source),
                        expected=f"one of {', '.join(SOURCE_FORMATS)}",
                        found=repr(source.suffix or source.name))
    if not source.is_file():
        raise DataError("source file not found", where=str(source),
                        expected="an existing file", found="nothing there")
    try:
        if fmt == "parquet":
            return pl.read_parquet(source)
        header = pl.read_csv(source, n_rows=0).columns
        types = {prop.name: default_dtype(prop.logical_type) for prop in contract.properties
                 if prop.name in header and prop.logical_type not in ("object", "array")}
        return pl.read_csv(source, schema_overrides=types)
    except (pl.exceptions.PolarsError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read the {fmt.upper()} source", where=str(source),
                        expected=f"a {fmt.upper()} file whose columns fit the contract",
                        found=message) from exc


# =========================================================================== checks


def path_text(path: Iterable[str | int]) -> str:
    """``["domains", 0, "name"]`` -> ``domains[0].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(spec)"


def check_mesh(name: str, domains: list[tuple[str, str, list[tuple[str, list]]]],
                locate) -> None:
    """Names, uniqueness and consumers of ``[(domain, owner, [(product, consumers)])]``.

    ``locate(path)`` turns a field path such as ``["domains", 0, "name"]`` into ``where``.
    """
    if not isinstance(name, str) or not re.match(_NAME, name):
        raise SpecError("bad mesh name", where=locate(["name"]), expected=_NAME_HELP,
                        found=repr(name))
    domain_names: dict[str, int] = {}
    product_home: dict[str, str] = {}
    for i, (domain, owner, products) in enumerate(domains):
        if not isinstance(domain, str) or not re.match(_NAME, domain):
            raise SpecError("bad domain name", where=locate(["domains", i, "name"]),
                            expected=_NAME_HELP, found=repr(domain))
        if domain in domain_names:
            raise SpecError("duplicate domain name", where=locate(["domains", i, "name"]),
                            expected="domain names unique in the mesh",
                            found=f"{domain!r}, already domains[{domain_names[domain]}]")
        domain_names[domain] = i
        if not isinstance(owner, str) or not owner.strip():
            raise SpecError("a domain needs an owner", where=locate(["domains", i, "owner"]),
                            expected="the owning team or person", found=repr(owner))
        for k, (product, _) in enumerate(products):
            at = ["domains", i, "products", k, "name"]
            if not isinstance(product, str) or not re.match(_NAME, product):
                raise SpecError("bad product name", where=locate(at), expected=_NAME_HELP,
                                found=repr(product))
            if product in product_home:
                raise SpecError("duplicate product name", where=locate(at),
                                expected="product names unique across the mesh",
                                found=f"{product!r}, already in domain {product_home[product]!r}")
            product_home[product] = domain
    for i, (_, _, products) in enumerate(domains):
        for k, (_, consumers) in enumerate(products):
            for c, consumer in enumerate(consumers):
                if consumer not in domain_names:
                    raise SpecError("consumer names no domain of the mesh",
                                    where=locate(["domains", i, "products", k, "consumers", c]),
                                    expected=f"one of {', '.join(domain_names)}",
                                    found=repr(consumer))
