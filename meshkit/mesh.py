"""The mesh model: domains own data products; products have owners, contracts and consumers.

A mesh is described by a **mesh spec**, a YAML file that a person writes by hand and that
meshkit writes back in the same layout::

    my_mesh/
      mesh.yaml                 domains, owners, products, consumers
      contracts/<product>.yaml  one ODCS v3.1 data contract per product
      samples/<file>.csv        optional source files (CSV or Parquet) the products point at

``mesh.yaml`` looks like this (paths are relative to the spec file)::

    apiVersion: meshkit/v1
    kind: Mesh
    name: retail
    description: A web shop.
    domains:
    - name: orders
      owner: orders-team@shop.example.org
      description: Order management.
      products:
      - name: purchases
        description: One row per order line.
        contract: contracts/purchases.yaml
        source: samples/purchases.csv        # optional; .csv or .parquet
        consumers: [clickstream, catalog]    # names of domains of this mesh

Product names are unique across the mesh. Every problem in a spec is a
:class:`~meshkit.errors.SpecError` naming the file, the line and the field path (a missing
or unsupported source file is a :class:`~meshkit.errors.DataError`).

Examples
--------
>>> from meshkit.contracts import DataContract
>>> contract = DataContract.from_dict({"apiVersion": "v3.1.0", "kind": "DataContract",
...     "id": "purchases", "version": "1.0.0", "status": "active",
...     "schema": [{"name": "purchases", "properties": [
...         {"name": "order_id", "logicalType": "string", "primaryKey": True}]}]})
>>> mesh = Mesh("shop", [
...     Domain("orders", "orders@shop.example.org",
...            [DataProduct("purchases", contract, consumers=["catalog"])]),
...     Domain("catalog", "catalog@shop.example.org")])
>>> mesh.product("purchases").domain, mesh.product("purchases").owner
('orders', 'orders@shop.example.org')
>>> print(mesh)
Mesh shop: 2 domains, 1 product
├── orders  (owner orders@shop.example.org)
│   └── purchases  [1 column]  -> catalog
└── catalog  (owner catalog@shop.example.org)
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import yaml

from meshkit._files import atomic_copy, atomic_write_text
from meshkit.errors import DataError, SpecError

__all__ = ["Mesh", "Domain", "DataProduct", "SPEC_FILE", "SPEC_API_VERSION", "SOURCE_FORMATS"]

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


# =========================================================================== model


class DataProduct:
    """A data product: a table a domain owns and publishes under a contract.

    Parameters
    ----------
    name : str
        Unique across the mesh.
    contract : meshkit.contracts.DataContract
        The product's ODCS contract.
    description : str
        What the product holds.
    owner : str, optional
        The owning team; defaults to the domain's owner.
    consumers : iterable of str
        Names of the domains that consume the product.
    source : str or Path, optional
        A CSV or Parquet file holding the product's data (see :meth:`Mesh.read_source`).

    Examples
    --------
    >>> from meshkit.contracts import DataContract
    >>> c = DataContract.from_dict({"apiVersion": "v3.1.0", "kind": "DataContract",
    ...     "id": "items", "version": "1.0.0", "status": "active", "schema": [{"name": "items",
    ...     "properties": [{"name": "item_id", "logicalType": "integer"}]}]})
    >>> DataProduct("items", c, consumers=["orders"])
    DataProduct('items', domain=None, columns=['item_id'], consumers=['orders'])
    """

    def __init__(self, name: str, contract: Any, *, description: str = "",
                 owner: str | None = None, consumers: Iterable[str] = (),
                 source: str | os.PathLike | None = None) -> None:
        self.name = name
        self.contract = contract
        self.description = description
        self.consumers = list(consumers)
        self.source = Path(source) if source is not None else None
        self._owner = owner
        self._domain: Domain | None = None

    @property
    def domain(self) -> str | None:
        """The name of the owning domain (``None`` until the product joins one)."""
        return self._domain.name if self._domain is not None else None

    @property
    def owner(self) -> str | None:
        """The product's owner: its own, else its domain's."""
        if self._owner is not None:
            return self._owner
        return self._domain.owner if self._domain is not None else None

    @property
    def columns(self) -> list[str]:
        """The contract's column names."""
        return list(self.contract.columns)

    @property
    def pii_columns(self) -> list[str]:
        """The contract's columns classified ``pii``."""
        return list(self.contract.pii_columns)

    @property
    def primary_key(self) -> list[str]:
        """The contract's primary-key columns."""
        return list(self.contract.primary_key)

    def __repr__(self) -> str:
        return (f"DataProduct({self.name!r}, domain={self.domain!r}, columns={self.columns!r}, "
                f"consumers={self.consumers!r})")


class Domain:
    """A domain: a team that owns data products.

    Parameters
    ----------
    name : str
        Unique within the mesh.
    owner : str
        The owning team or person (e.g. an e-mail address).
    products : iterable of DataProduct
        The domain's products; each product joins this domain.
    description : str
        What the domain does.

    Examples
    --------
    >>> Domain("catalog", "catalog@shop.example.org", description="The assortment.")
    Domain('catalog', owner='catalog@shop.example.org', products=[])
    """

    def __init__(self, name: str, owner: str, products: Iterable[DataProduct] = (), *,
                 description: str = "") -> None:
        self.name = name
        self.owner = owner
        self.description = description
        self.products: dict[str, DataProduct] = {}
        for product in products:
            if not isinstance(product, DataProduct):
                raise SpecError("a domain holds DataProduct objects",
                                where=f"domain {name!r}.products", expected="DataProduct",
                                found=type(product).__name__)
            if product._domain is not None and product._domain is not self:
                raise SpecError("the product already belongs to another domain",
                                where=f"domain {name!r}.products", expected="a new product",
                                found=f"{product.name!r} of domain {product.domain!r}")
            if product.name in self.products:
                raise SpecError("duplicate product name", where=f"domain {name!r}.products",
                                expected="unique product names", found=repr(product.name))
            product._domain = self
            self.products[product.name] = product

    def __repr__(self) -> str:
        return f"Domain({self.name!r}, owner={self.owner!r}, products={list(self.products)!r})"


class Mesh:
    """A data mesh: domains, their data products, and who consumes what.

    Parameters
    ----------
    name : str
        The mesh's name.
    domains : iterable of Domain
        In display order.
    description : str
        What the mesh is about.
    root : str or Path, optional
        The folder relative paths are shown against (set by :meth:`load`).

    Raises
    ------
    SpecError
        Bad names, duplicate domain or product names, or a consumer naming no domain.

    See Also
    --------
    Mesh.load, Mesh.save : read and write the mesh spec.
    """

    def __init__(self, name: str, domains: Iterable[Domain], *, description: str = "",
                 root: str | os.PathLike | None = None) -> None:
        self.name = name
        self.description = description
        self.root = Path(root) if root is not None else None
        domain_list = list(domains)
        for i, domain in enumerate(domain_list):
            if not isinstance(domain, Domain):
                raise SpecError("a mesh holds Domain objects",
                                where=f"mesh {name!r}: domains[{i}]", expected="Domain",
                                found=type(domain).__name__)
        _check_mesh(name, [(d.name, d.owner, [(p.name, p.consumers) for p in d.products.values()])
                           for d in domain_list],
                    lambda path: f"mesh {name!r}: {_path_text(path)}")
        self.domains: dict[str, Domain] = {d.name: d for d in domain_list}

    # ------------------------------------------------------------------ lookup
    def product(self, name: str) -> DataProduct:
        """The product called ``name`` (names are unique across the mesh).

        Raises
        ------
        SpecError
            When no domain has such a product; the message lists the products.
        """
        for domain in self.domains.values():
            if name in domain.products:
                return domain.products[name]
        raise SpecError("no such data product in the mesh", where=f"mesh {self.name!r}",
                        expected=f"one of {', '.join(p.name for p in self.products())}",
                        found=repr(name))

    def products(self) -> Iterator[DataProduct]:
        """Every product, domain by domain, in spec order."""
        for domain in self.domains.values():
            yield from domain.products.values()

    def catalog(self) -> pl.DataFrame:
        """One row per product: domain, product, owner, description, consumers, columns,
        PII columns, primary key, contract id and version, and source file.

        Examples
        --------
        >>> from meshkit.scenarios import load_scenario
        >>> load_scenario("retail", scale=0.1).mesh.catalog().select("domain", "product").row(0)
        ('orders', 'purchases')
        """
        rows = [{
            "domain": p.domain,
            "product": p.name,
            "owner": p.owner,
            "description": p.description,
            "consumers": list(p.consumers),
            "columns": p.columns,
            "pii_columns": p.pii_columns,
            "primary_key": p.primary_key,
            "contract_id": p.contract.id,
            "contract_version": p.contract.version,
            "source": self._shown_source(p),
        } for p in self.products()]
        schema = {
            "domain": pl.String, "product": pl.String, "owner": pl.String,
            "description": pl.String, "consumers": pl.List(pl.String),
            "columns": pl.List(pl.String), "pii_columns": pl.List(pl.String),
            "primary_key": pl.List(pl.String), "contract_id": pl.String,
            "contract_version": pl.String, "source": pl.String,
        }
        return pl.DataFrame(rows, schema=schema)

    def read_source(self, name: str) -> pl.DataFrame:
        """Read a product's source file (CSV or Parquet) into a polars frame.

        CSV columns named in the contract are read with the polars dtype of their logical
        type (so timestamps and dates come back as such); Parquet keeps its own types.

        Raises
        ------
        DataError
            The product has no source file, the file is missing, its format is not
            supported, or it cannot be parsed (the message names the file).
        """
        product = self.product(name)
        if product.source is None:
            raise DataError("the product has no source file", where=f"product {name!r}",
                            expected="a 'source' (.csv or .parquet) in the mesh spec",
                            found="none; publish a frame instead")
        return _read_source(product.source, product.contract)

    def with_sources(self, sources: Mapping[str, str | os.PathLike], *,
                     root: str | os.PathLike | None = None) -> Mesh:
        """A copy of the mesh whose products named in ``sources`` point at new files.

        ``root`` (default: this mesh's) is the folder the sources are kept relative to by
        :meth:`save`.

        Examples
        --------
        >>> from meshkit.scenarios import load_scenario
        >>> mesh = load_scenario("retail", scale=0.1).mesh
        >>> mesh.with_sources({"items": "samples/items.csv"}).product("items").source.name
        'items.csv'
        """
        for name in sources:
            self.product(name)  # raises for an unknown product
        domains = [
            Domain(d.name, d.owner, [
                DataProduct(p.name, p.contract, description=p.description, owner=p._owner,
                            consumers=p.consumers, source=sources.get(p.name, p.source))
                for p in d.products.values()], description=d.description)
            for d in self.domains.values()
        ]
        return Mesh(self.name, domains, description=self.description,
                    root=self.root if root is None else root)

    # ------------------------------------------------------------------ spec I/O
    @classmethod
    def load(cls, path: str | os.PathLike) -> Mesh:
        """Read a mesh spec (``mesh.yaml``, or a folder holding one) and its contracts.

        Raises
        ------
        SpecError
            Malformed YAML, missing, unknown or mistyped fields, duplicate names, a
            consumer naming no domain, a missing contract file; the message names the
            file, the line and the field path.
        ContractError
            A contract file outside meshkit's ODCS subset (named with its field path).
        DataError
            A source file that does not exist or is neither CSV nor Parquet.

        Examples
        --------
        >>> import tempfile
        >>> from meshkit.scenarios import load_scenario
        >>> folder = tempfile.mkdtemp()
        >>> _ = load_scenario("retail", scale=0.1).mesh.save(folder)
        >>> sorted(Mesh.load(folder).domains)
        ['catalog', 'clickstream', 'customers', 'orders']
        """
        spec_path = Path(path)
        if spec_path.is_dir():
            spec_path = spec_path / SPEC_FILE
        spec = _load_spec_yaml(spec_path)
        return _mesh_from_spec(spec, spec_path)

    def to_spec(self) -> dict:
        """The mesh spec as a plain dict, with the paths :meth:`save` writes."""
        domains = []
        for domain in self.domains.values():
            products = []
            for p in domain.products.values():
                entry: dict[str, Any] = {"name": p.name}
                if p.description:
                    entry["description"] = p.description
                if p._owner is not None:
                    entry["owner"] = p._owner
                entry["contract"] = f"contracts/{p.name}.yaml"
                if p.source is not None:
                    entry["source"] = self._saved_source(p).as_posix()
                entry["consumers"] = list(p.consumers)
                products.append(entry)
            entry_domain: dict[str, Any] = {"name": domain.name, "owner": domain.owner}
            if domain.description:
                entry_domain["description"] = domain.description
            entry_domain["products"] = products
            domains.append(entry_domain)
        spec: dict[str, Any] = {"apiVersion": SPEC_API_VERSION, "kind": "Mesh", "name": self.name}
        if self.description:
            spec["description"] = self.description
        spec["domains"] = domains
        return spec

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the mesh as ``directory/mesh.yaml`` plus ``contracts/<product>.yaml``.

        Source files keep their place relative to the mesh folder when they lie inside
        :attr:`root`, and are copied to ``sources/<product><suffix>`` otherwise. The spec is
        written last, so it only ever names files that exist.

        Returns
        -------
        Path
            The written ``mesh.yaml``.
        """
        for product in self.products():  # refuse before writing anything
            if product.source is not None and not product.source.is_file():
                raise DataError("the product's source file does not exist",
                                where=f"product {product.name!r}",
                                expected="an existing .csv or .parquet file",
                                found=str(product.source))
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        for product in self.products():
            product.contract.to_yaml(folder / "contracts" / f"{product.name}.yaml")
            if product.source is not None:
                target = folder / self._saved_source(product)
                if not (target.exists() and os.path.samefile(target, product.source)):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    atomic_copy(product.source, target)
        text = _HEADER + yaml.safe_dump(self.to_spec(), sort_keys=False, allow_unicode=True,
                                        width=100)
        target = folder / SPEC_FILE
        atomic_write_text(target, text)
        return target

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        n_products = sum(len(d.products) for d in self.domains.values())
        return f"Mesh({self.name!r}, domains={list(self.domains)!r}, products={n_products})"

    def __str__(self) -> str:
        n_products = sum(len(d.products) for d in self.domains.values())
        lines = [f"Mesh {self.name}: {_plural(len(self.domains), 'domain')}, "
                 f"{_plural(n_products, 'product')}"]
        domains = list(self.domains.values())
        for i, domain in enumerate(domains):
            last_domain = i == len(domains) - 1
            lines.append(f"{'└──' if last_domain else '├──'} {domain.name}  (owner {domain.owner})")
            products = list(domain.products.values())
            for j, p in enumerate(products):
                stem = "    " if last_domain else "│   "
                branch = "└──" if j == len(products) - 1 else "├──"
                pii = f", PII: {', '.join(p.pii_columns)}" if p.pii_columns else ""
                consumers = f"  -> {', '.join(p.consumers)}" if p.consumers else ""
                lines.append(f"{stem}{branch} {p.name}  [{_plural(len(p.columns), 'column')}"
                             f"{pii}]{consumers}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            "<tr>"
            f"<td>{esc(p.domain or '')}</td><td><b>{esc(p.name)}</b></td>"
            f"<td>{esc(p.owner or '')}</td><td>{esc(p.description)}</td>"
            f"<td>{esc(', '.join(p.consumers))}</td><td>{len(p.columns)}</td>"
            f"<td>{esc(', '.join(p.pii_columns))}</td>"
            f"<td>{esc(p.contract.id)} v{esc(p.contract.version)}</td>"
            "</tr>"
            for p in self.products())
        n_products = sum(len(d.products) for d in self.domains.values())
        caption = (f"Mesh <code>{esc(self.name)}</code>: {_plural(len(self.domains), 'domain')}, "
                   f"{_plural(n_products, 'product')}")
        if self.description:
            caption += f" — {esc(self.description)}"
        return (f"<div class='meshkit-mesh'><p>{caption}</p><table>"
                "<thead><tr><th>domain</th><th>product</th><th>owner</th><th>description</th>"
                "<th>consumers</th><th>columns</th><th>PII</th><th>contract</th></tr></thead>"
                f"<tbody>{rows}</tbody></table></div>")

    # ------------------------------------------------------------------ helpers
    def _saved_source(self, product: DataProduct) -> Path:
        """Where ``save`` puts a product's source, relative to the mesh folder."""
        relative = self._relative_to_root(product.source)
        if relative is not None:
            return relative
        return Path("sources") / f"{product.name}{product.source.suffix.lower()}"

    def _relative_to_root(self, source: Path | None) -> Path | None:
        if source is None or self.root is None:
            return None
        try:
            relative = Path(os.path.relpath(source, self.root))
        except ValueError:  # another drive
            return None
        return None if relative.parts[:1] == ("..",) else relative

    def _shown_source(self, product: DataProduct) -> str | None:
        """A product's source for display: relative to the root, else the file name."""
        if product.source is None:
            return None
        relative = self._relative_to_root(product.source)
        return (relative if relative is not None else Path(product.source.name)).as_posix()


# =========================================================================== checks


def _path_text(path: Iterable[str | int]) -> str:
    """``["domains", 0, "name"]`` -> ``domains[0].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(spec)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _check_mesh(name: str, domains: list[tuple[str, str, list[tuple[str, list]]]],
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


def _load_spec_yaml(spec_path: Path) -> Any:
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


def _schema_error(spec: Any, spec_path: Path) -> SpecError | None:
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


def _mesh_from_spec(spec: dict, spec_path: Path) -> Mesh:
    from meshkit.contracts import DataContract

    problem = _schema_error(spec, spec_path)
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
            contract_path = base / p["contract"]
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
                source = base / p["source"]
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


# =========================================================================== files


def _read_source(source: Path, contract: Any) -> pl.DataFrame:
    from meshkit.contracts.types import default_dtype

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
