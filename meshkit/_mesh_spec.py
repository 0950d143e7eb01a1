"""The mesh spec file format: read and write ``mesh.yaml`` (see :mod:`meshkit._mesh`).

Private to :mod:`meshkit._mesh`, whose :meth:`~meshkit._mesh.Mesh.load`,
:meth:`~meshkit._mesh.Mesh.save`, :meth:`~meshkit._mesh.Mesh.to_spec` and
:meth:`~meshkit._mesh.Mesh.read_source` delegate here: YAML loading that keeps line numbers,
the jsonschema check of the spec (its first problem as a :class:`~meshkit._errors.SpecError`
naming the file, the line and the field path), spec <-> :class:`~meshkit._mesh.Mesh`
conversion, writing a mesh folder, and reading CSV or Parquet source files.

:mod:`meshkit._mesh` imports this module only inside its methods, and this module imports the
model at its top, so there is no import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import yaml

from meshkit._files import atomic_copy, atomic_write_text
from meshkit._errors import DataError, SpecError
from meshkit._mesh import (
    _NAME,
    _NAME_HELP,
    SOURCE_FORMATS,
    SPEC_API_VERSION,
    SPEC_FILE,
    DataProduct,
    Domain,
    Mesh,
    _check_mesh,
    _path_text,
)

__all__ = ["load_mesh", "load_spec_yaml", "mesh_from_spec", "read_source", "resolve_inside",
           "save_mesh", "schema_error", "spec_of"]

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
    },
    "$defs": {
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


def load_mesh(path: str | os.PathLike, *, allow_outside: bool = False) -> Mesh:
    """Read a mesh spec (``mesh.yaml``, or a folder holding one) and its contracts.

    Contracts and sources resolve inside the spec's folder unless ``allow_outside``
    (see :func:`resolve_inside`).
    """
    spec_path = Path(path)
    if spec_path.is_dir():
        spec_path = spec_path / SPEC_FILE
    spec = load_spec_yaml(spec_path)
    return mesh_from_spec(spec, spec_path, allow_outside=allow_outside)


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


# =========================================================================== YAML with lines


class _LinedDict(dict):
    """A mapping that remembers its line and each key's line in the YAML file."""

    line: int = 0
    key_lines: dict


class _LinedList(list):
    """A sequence that remembers its line and each item's line in the YAML file."""

    line: int = 0
    item_lines: list


class _SpecLoader(yaml.SafeLoader):
    """A safe loader that records line numbers and refuses duplicate keys."""


def _construct_mapping(loader: _SpecLoader, node: yaml.MappingNode) -> _LinedDict:
    loader.flatten_mapping(node)
    result = _LinedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError("a mapping key must be a plain value",
                            where=f"{key_node.start_mark.name}, line {line}",
                            expected="a field name", found=type(key).__name__)
        if key in result:
            raise SpecError("duplicate key", where=f"{key_node.start_mark.name}, line {line}",
                            expected="each key once per mapping",
                            found=f"{key!r} again (first on line {result.key_lines[key]})")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _SpecLoader, node: yaml.SequenceNode) -> _LinedList:
    result = _LinedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line_of(spec: Any, path: list) -> int | None:
    """The line of the deepest node of ``path`` that the spec knows a line for."""
    line = getattr(spec, "line", None)
    node = spec
    for part in path:
        if isinstance(node, _LinedDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, _LinedList) and isinstance(part, int) and part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def load_spec_yaml(spec_path: Path) -> Any:
    """The parsed spec mapping, each node carrying its line (a SpecError otherwise)."""
    try:
        handle = open(spec_path, encoding="utf-8")
    except OSError as exc:
        raise SpecError("cannot read the mesh spec", where=str(spec_path),
                        expected=f"an existing {SPEC_FILE} (or a folder holding one)",
                        found=type(exc).__name__) from exc
    with handle:
        try:
            spec = yaml.load(handle, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = (f"{spec_path}, line {mark.line + 1}, column {mark.column + 1}" if mark
                     else str(spec_path))
            raise SpecError("malformed YAML", where=where, expected="valid YAML",
                            found=getattr(exc, "problem", None) or str(exc)) from exc
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
        line = _line_of(spec, path)
        place = f"{spec_path}, line {line}" if line else str(spec_path)
        return f"{place}, {_path_text(path)}" if path else place

    def order(error):
        path = list(error.absolute_path)
        return (_line_of(spec, path) or 0, len(path), error.validator)

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


def mesh_from_spec(spec: dict, spec_path: Path, *, allow_outside: bool = False) -> Mesh:
    """Check ``spec`` (read from ``spec_path``) and build the Mesh with its contracts."""
    from meshkit._contracts import DataContract

    problem = schema_error(spec, spec_path)
    if problem is not None:
        raise problem

    def where(path: list) -> str:
        line = _line_of(spec, path)
        return f"{spec_path}, line {line}, {_path_text(path)}"

    _check_mesh(spec["name"],
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
            products.append(DataProduct(p["name"], contract,
                                        description=p.get("description", ""),
                                        owner=p.get("owner"), consumers=p.get("consumers", []),
                                        source=source))
        domains.append((d, products))

    built = [Domain(d["name"], d["owner"], products, description=d.get("description", ""))
             for d, products in domains]
    return Mesh(spec["name"], built, description=spec.get("description", ""), root=base)


# =========================================================================== write


def spec_of(mesh: Mesh) -> dict:
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
    return spec


def save_mesh(mesh: Mesh, directory: str | os.PathLike, *,
              allow_outside: bool = False) -> Path:
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
    text = _HEADER + yaml.safe_dump(spec_of(mesh), sort_keys=False, allow_unicode=True,
                                    width=100)
    target = folder / SPEC_FILE
    atomic_write_text(target, text)
    return target


def _saved_source(mesh: Mesh, product: DataProduct) -> Path:
    """Where ``save`` puts a product's source, relative to the mesh folder."""
    relative = mesh._relative_to_root(product.source)
    if relative is not None:
        return relative
    return Path("sources") / f"{product.name}{product.source.suffix.lower()}"


# =========================================================================== files


def read_source(source: Path, contract: Any) -> pl.DataFrame:
    """Read a CSV or Parquet ``source``; CSV columns get the dtypes of ``contract``."""
    from meshkit._contracts.types import default_dtype

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
