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
      - name: returns
        contract: contracts/orders.yaml      # a contract of several tables...
        table: returns                       # ...names the product's (contract.tables)
    # what the later steps need, each optional (see meshkit._roles):
    task:                                    # supervised training (02, 03)
      kind: binary
      target: purchased
      features: [page_events, dwell_seconds]
      products: {orders: basket_outcomes, clickstream: view_outcomes}   # domain -> product
    interactions:                            # the recommender (03)
      sources:
        orders: {product: purchases, user: user_id, item: item_id, weight: quantity}
      users: customer_profiles               # optional listing products
      items: items
    entities:                                # consistency (04)
    - name: customer
      keys: [user_id]
      reference: customer_profiles           # the standard
      copies: [customers_at_orders]          # copies other domains hold
      references: [purchases]                # products naming it by its keys
    principals:                              # security (05), besides product owners
    - {name: ana, kind: person, domain: orders, roles: [analyst]}
    grants:                                  # or policy: policy.yaml (a file beside the spec)
    - {id: catalog-open, role: analyst, domain: catalog, action: read}

Product names are unique across the mesh. A column's PII status is its contract's
``classification: pii``. Every declaration is checked against the domains, products and
contract columns, with the same line-numbered errors. Every problem in a spec is a
:class:`~meshkit._errors.SpecError` naming the file, the line and the field path (a missing
or unsupported source file is a :class:`~meshkit._errors.DataError`).

The file format itself (YAML with line numbers, the schema check, spec <-> mesh conversion,
reading source files) lives in the private module :mod:`meshkit._mesh_spec`;
:meth:`Mesh.load`, :meth:`Mesh.save`, :meth:`Mesh.to_spec` and :meth:`Mesh.read_source`
delegate to it.

Examples
--------
>>> from meshkit._contracts import DataContract
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
  domain  product    owner                    description  consumers  columns  PII  contract
  orders  purchases  orders@shop.example.org               catalog    1             purchases v1.0.0
domains without products: catalog
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from meshkit._display import Code, Displayable, Heading, Paragraph, Table
from meshkit._errors import DataError, SpecError
from meshkit._roles import (TASK_KINDS, Access, Entity, InteractionSource, Interactions, Task,
                            check_declarations)
from meshkit._mesh_spec import (SOURCE_FORMATS, SPEC_API_VERSION, SPEC_FILE, check_mesh, load_parts,
                                path_text, read_source, save_mesh, spec_of)

__all__ = ["Mesh", "Domain", "DataProduct", "SPEC_FILE", "SPEC_API_VERSION", "SOURCE_FORMATS",
           "Task", "InteractionSource", "Interactions", "Entity", "Access", "TASK_KINDS"]

# =========================================================================== model


class DataProduct:
    """A data product: a table a domain owns and publishes under a contract.

    Parameters
    ----------
    name : str
        Unique across the mesh.
    contract : meshkit._contracts.DataContract
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
    >>> from meshkit._contracts import DataContract
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


class Mesh(Displayable):
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
    task : Task, optional
        The supervised task and the product of each domain carrying it.
    interactions : Interactions, optional
        The user-item interactions a recommender learns from, per domain.
    entities : iterable of Entity
        Entities several domains hold: keys, reference product, copies and references.
    access : Access, optional
        Principals besides the product owners, and the grants (or a policy file).

    Raises
    ------
    SpecError
        Bad names, duplicate domain or product names, a consumer naming no domain, or a
        declaration (task, interactions, entities, principals, grants) naming a domain,
        product or column the mesh lacks.

    See Also
    --------
    Mesh.load, Mesh.save : read and write the mesh spec.
    """

    def __init__(self, name: str, domains: Iterable[Domain], *, description: str = "",
                 root: str | os.PathLike | None = None, task: Task | None = None,
                 interactions: Interactions | None = None, entities: Iterable[Entity] = (),
                 access: Access | None = None, _locate=None) -> None:
        self.name = name
        self.description = description
        self.root = Path(root) if root is not None else None
        self.task = task
        self.interactions = interactions
        self.entities: list[Entity] = list(entities)
        self.access = access
        domain_list = list(domains)
        for i, domain in enumerate(domain_list):
            if not isinstance(domain, Domain):
                raise SpecError("a mesh holds Domain objects",
                                where=f"mesh {name!r}: domains[{i}]", expected="Domain",
                                found=type(domain).__name__)
        check_mesh(name, [(d.name, d.owner, [(p.name, p.consumers) for p in d.products.values()])
                           for d in domain_list],
                    lambda path: f"mesh {name!r}: {path_text(path)}")
        self.domains: dict[str, Domain] = {d.name: d for d in domain_list}
        check_declarations(self, _locate or (lambda path: f"mesh {name!r}: {path_text(path)}"))

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
        return read_source(product.source, product.contract)

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
                    root=self.root if root is None else root, **self._declarations())

    def _declarations(self) -> dict:
        return {"task": self.task, "interactions": self.interactions,
                "entities": list(self.entities), "access": self.access}

    def entity(self, name: str) -> Entity:
        """The declared entity called ``name`` (a SpecError lists the declared ones)."""
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise SpecError("no such entity declared in the mesh", where=f"mesh {self.name!r}",
                        expected=f"one of {', '.join(e.name for e in self.entities) or 'none'}",
                        found=repr(name))

    # ------------------------------------------------------------------ spec I/O
    @classmethod
    def load(cls, path: str | os.PathLike, *, allow_outside: bool = False) -> Mesh:
        """Read a mesh spec (``mesh.yaml``, or a folder holding one) and its contracts.

        Contracts and sources the spec names resolve inside its folder: an absolute path,
        ``..`` or a symbolic link leading out is a :class:`SpecError` unless
        ``allow_outside=True``.

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
        parts = load_parts(path, allow_outside=allow_outside)
        domains = [Domain(d["name"], d["owner"],
                          [DataProduct(p.pop("name"), p.pop("contract"), **p)
                           for p in d["products"]],
                          description=d["description"])
                   for d in parts["domains"]]
        return cls(parts["name"], domains, description=parts["description"],
                   root=parts["root"], task=parts["task"], interactions=parts["interactions"],
                   entities=parts["entities"], access=parts["access"], _locate=parts["locate"])

    def to_spec(self) -> dict:
        """The mesh spec as a plain dict, with the paths :meth:`save` writes."""
        return spec_of(self)

    def save(self, directory: str | os.PathLike, *, allow_outside: bool = False) -> Path:
        """Write the mesh as ``directory/mesh.yaml`` plus ``contracts/<product>.yaml``.

        Source files keep their place relative to the mesh folder when they lie inside
        :attr:`root`. A mesh read from a folder never copies a file from outside it (a
        :class:`SpecError`, nothing written) unless ``allow_outside=True``; a mesh built in
        code (no :attr:`root`) copies the files its code named to
        ``sources/<product><suffix>``. The spec is written last, so it only ever names files
        that exist.

        Returns
        -------
        Path
            The written ``mesh.yaml``.
        """
        return save_mesh(self, directory, allow_outside=allow_outside)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        n_products = sum(len(d.products) for d in self.domains.values())
        return f"Mesh({self.name!r}, domains={list(self.domains)!r}, products={n_products})"

    def _render(self) -> list:
        n_products = sum(len(d.products) for d in self.domains.values())
        caption = [f"Mesh ", Code(self.name), f": {_plural(len(self.domains), 'domain')}, "
                   f"{_plural(n_products, 'product')}"]
        rows = [(p.domain, p.name, p.owner, p.description, list(p.consumers), len(p.columns),
                 list(p.pii_columns), f"{p.contract.id} v{p.contract.version}")
                for p in self.products()]
        return [Heading(*caption)] + ([Paragraph(self.description)] if self.description else []) + [
                Table(["domain", "product", "owner", "description", "consumers", "columns",
                       "PII", "contract"], rows, max_rows=max(len(rows), 1))] + (
            [Paragraph(f"domains without products: {', '.join(empty)}", muted=True)]
            if (empty := [d.name for d in self.domains.values() if not d.products]) else [])

    # ------------------------------------------------------------------ helpers
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
