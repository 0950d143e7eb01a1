"""The mesh model and its spec: build, load, save, catalog, read sources, bad input, display."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from meshkit import DataContract, validate
from meshkit import ContractError, DataError, SpecError
from meshkit import DataProduct, Domain, Mesh
from meshkit.scenarios import load_scenario
from meshkit.viz.mesh import domain_positions, plot_mesh

ROOT = Path(__file__).resolve().parents[2]

ORDERS_CONTRACT = {
    "apiVersion": "v3.1.0", "kind": "DataContract", "id": "orders", "version": "2.1.0",
    "status": "active",
    "schema": [{"name": "orders", "properties": [
        {"name": "order_id", "logicalType": "integer", "primaryKey": True, "required": True},
        {"name": "email", "logicalType": "string", "classification": "pii"},
        {"name": "amount", "logicalType": "number",
         "logicalTypeOptions": {"minimum": 0}},
        {"name": "ordered_at", "logicalType": "timestamp", "required": True},
    ]}],
}
ITEMS_CONTRACT = {
    "apiVersion": "v3.1.0", "kind": "DataContract", "id": "items", "version": "1.0.0",
    "status": "draft",
    "schema": [{"name": "items", "properties": [
        {"name": "item_id", "logicalType": "integer", "unique": True},
    ]}],
}

SPEC = """\
apiVersion: meshkit/v1
kind: Mesh
name: shop
description: A tiny shop.
domains:
- name: sales
  owner: sales@shop.example.org
  description: Sells things.
  products:
  - name: orders
    description: One row per order.
    contract: contracts/orders.yaml
    source: files/orders.csv
    consumers: [catalog]
- name: catalog
  owner: catalog@shop.example.org
  products:
  - name: items
    owner: merch@shop.example.org
    contract: contracts/items.yaml
    consumers: [sales]
"""

ORDERS_CSV = """\
order_id,email,amount,ordered_at
1,a@x.example.org,10.5,2024-01-02T10:00:00.000000
2,b@x.example.org,3.0,2024-01-03T11:30:00.000000
"""


def write_mesh(folder: Path, spec: str = SPEC, orders_csv: str | None = ORDERS_CSV) -> Path:
    """A hand-written mesh folder: spec, two contracts, one CSV source."""
    (folder / "contracts").mkdir(parents=True, exist_ok=True)
    DataContract.from_dict(ORDERS_CONTRACT).to_yaml(folder / "contracts" / "orders.yaml")
    DataContract.from_dict(ITEMS_CONTRACT).to_yaml(folder / "contracts" / "items.yaml")
    if orders_csv is not None:
        (folder / "files").mkdir(exist_ok=True)
        (folder / "files" / "orders.csv").write_text(orders_csv)
    path = folder / "mesh.yaml"
    path.write_text(spec)
    return path


def contract(d: dict = ITEMS_CONTRACT) -> DataContract:
    return DataContract.from_dict(d)


# ----------------------------------------------------------------------------- building


def test_build_in_python_and_look_up():
    mesh = Mesh("shop", [
        Domain("sales", "sales@shop.example.org",
               [DataProduct("orders", contract(ORDERS_CONTRACT), consumers=["catalog"])]),
        Domain("catalog", "catalog@shop.example.org",
               [DataProduct("items", contract(), owner="merch@shop.example.org")]),
    ])
    assert list(mesh.domains) == ["sales", "catalog"]
    assert list(mesh.domains["sales"].products) == ["orders"]
    assert [p.name for p in mesh.products()] == ["orders", "items"]
    orders = mesh.product("orders")
    assert (orders.domain, orders.owner) == ("sales", "sales@shop.example.org")
    assert mesh.product("items").owner == "merch@shop.example.org"
    assert orders.pii_columns == ["email"] and orders.primary_key == ["order_id"]
    assert orders.source is None


def test_unknown_product_lists_the_products():
    mesh = load_scenario("retail", scale=0.05).mesh
    with pytest.raises(SpecError) as info:
        mesh.product("orderz")
    assert "'orderz'" in str(info.value) and "purchases" in str(info.value)


def test_duplicate_product_names_across_domains_are_refused():
    with pytest.raises(SpecError, match="duplicate product name") as info:
        Mesh("m", [Domain("a", "o", [DataProduct("p", contract())]),
                   Domain("b", "o", [DataProduct("p", contract())])])
    assert "domains[1].products[0].name" in str(info.value)
    assert "already in domain 'a'" in str(info.value)


def test_duplicate_domains_and_unknown_consumers_are_refused():
    with pytest.raises(SpecError, match="duplicate domain name"):
        Mesh("m", [Domain("a", "o"), Domain("a", "o")])
    with pytest.raises(SpecError, match="consumer names no domain") as info:
        Mesh("m", [Domain("a", "o", [DataProduct("p", contract(), consumers=["zzz"])])])
    assert "'zzz'" in str(info.value) and "consumers[0]" in str(info.value)


def test_a_product_cannot_join_two_domains():
    product = DataProduct("p", contract())
    Domain("a", "o", [product])
    with pytest.raises(SpecError, match="another domain"):
        Domain("b", "o", [product])


def test_bad_names_are_refused():
    with pytest.raises(SpecError, match="bad domain name"):
        Mesh("m", [Domain("has space", "o")])
    with pytest.raises(SpecError, match="bad mesh name"):
        Mesh("", [])


# ----------------------------------------------------------------------------- load / save


def test_load_a_hand_written_spec(tmp_path):
    mesh = Mesh.load(write_mesh(tmp_path))
    assert mesh.name == "shop" and mesh.description == "A tiny shop."
    assert mesh.product("orders").consumers == ["catalog"]
    assert mesh.product("items").owner == "merch@shop.example.org"
    assert mesh.product("orders").contract.version == "2.1.0"
    assert Mesh.load(tmp_path).to_spec() == mesh.to_spec()  # a folder works too


def test_catalog_has_one_row_per_product(tmp_path):
    catalog = Mesh.load(write_mesh(tmp_path)).catalog()
    assert catalog.columns == ["domain", "product", "owner", "description", "consumers",
                               "columns", "pii_columns", "primary_key", "contract_id",
                               "contract_version", "source"]
    assert catalog["product"].to_list() == ["orders", "items"]
    first = catalog.row(0, named=True)
    assert first["pii_columns"] == ["email"]
    assert first["columns"] == ["order_id", "email", "amount", "ordered_at"]
    assert (first["contract_id"], first["contract_version"]) == ("orders", "2.1.0")
    assert first["source"] == "files/orders.csv"  # relative: no machine paths
    assert catalog["source"][1] is None


def test_read_source_uses_the_contract_types(tmp_path):
    mesh = Mesh.load(write_mesh(tmp_path))
    frame = mesh.read_source("orders")
    assert frame.schema["ordered_at"] == pl.Datetime("us")
    assert frame.schema["amount"] == pl.Float64 and frame.schema["order_id"] == pl.Int64
    assert validate(frame, mesh.product("orders").contract).passed
    with pytest.raises(DataError, match="no source file"):
        mesh.read_source("items")


def test_read_parquet_source(tmp_path):
    spec = SPEC.replace("files/orders.csv", "files/orders.parquet")
    write_mesh(tmp_path, spec, orders_csv=None)
    (tmp_path / "files").mkdir()
    original = pl.read_csv(io.StringIO(ORDERS_CSV), try_parse_dates=True)
    original.write_parquet(tmp_path / "files" / "orders.parquet")
    assert Mesh.load(tmp_path).read_source("orders").equals(original)


def test_unreadable_csv_names_the_file(tmp_path):
    write_mesh(tmp_path, orders_csv="order_id,email,amount,ordered_at\nnot-a-number,a,1,x\n")
    with pytest.raises(DataError) as info:
        Mesh.load(tmp_path).read_source("orders")
    assert "orders.csv" in str(info.value) and "cannot read the CSV source" in str(info.value)


def test_save_then_load_round_trips(tmp_path):
    mesh = Mesh.load(write_mesh(tmp_path / "a"))
    written = mesh.save(tmp_path / "b")
    again = Mesh.load(written)
    assert again.to_spec() == mesh.to_spec()
    assert again.catalog().equals(mesh.catalog())
    for product in mesh.products():
        assert again.product(product.name).contract.to_dict() == product.contract.to_dict()
    assert again.read_source("orders").equals(mesh.read_source("orders"))
    # what meshkit writes is the same layout a person writes by hand
    assert (tmp_path / "b" / "files" / "orders.csv").is_file()
    assert yaml.safe_load(written.read_text()) == yaml.safe_load(SPEC)


def test_saving_twice_gives_the_same_file(tmp_path):
    mesh = load_scenario("healthcare", scale=0.1).mesh
    first = mesh.save(tmp_path / "one").read_text()
    assert Mesh.load(tmp_path / "one").save(tmp_path / "two").read_text() == first


def test_save_copies_sources_from_outside_the_folder(tmp_path):
    source = tmp_path / "elsewhere.csv"
    source.write_text(ORDERS_CSV)
    mesh = Mesh("m", [Domain("d", "o", [
        DataProduct("orders", contract(ORDERS_CONTRACT), source=source)])])
    written = mesh.save(tmp_path / "out")
    assert (tmp_path / "out" / "sources" / "orders.csv").read_text() == ORDERS_CSV
    assert Mesh.load(written).read_source("orders").height == 2


def test_save_refuses_a_missing_source_and_writes_nothing(tmp_path):
    mesh = Mesh("m", [Domain("d", "o", [
        DataProduct("first", contract(ORDERS_CONTRACT)),
        DataProduct("orders", contract(ORDERS_CONTRACT), source=tmp_path / "gone.csv")])])
    with pytest.raises(DataError, match="does not exist"):
        mesh.save(tmp_path / "out")
    assert not (tmp_path / "out").exists()   # not even the contract of 'first'


def test_committed_retail_spec_is_what_save_writes(tmp_path):
    committed = ROOT / "data" / "retail" / "mesh.yaml"
    written = Mesh.load(committed).save(tmp_path)
    assert written.read_text() == committed.read_text()


# ----------------------------------------------------------------------------- bad specs


def spec_error(tmp_path: Path, spec: str, error=SpecError) -> str:
    write_mesh(tmp_path, spec)
    with pytest.raises(error) as info:
        Mesh.load(tmp_path / "mesh.yaml")
    return str(info.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("  products:\n  - name: orders",
                                                "  products:\n  - name: [orders", 1))
    assert "mesh.yaml, line" in message and "malformed YAML" in message


def test_missing_required_field_names_the_path_and_line(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("  owner: sales@shop.example.org\n", ""))
    assert "domains[0].owner" in message and "a required field is missing" in message
    assert "line 6" in message  # the domain's first line


def test_unknown_field_is_refused(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("    owner: merch@", "    ownr: merch@"))
    assert "unknown field" in message and "'ownr'" in message
    assert "domains[1].products[0].ownr" in message and "line 19" in message


def test_wrong_type_is_refused(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("consumers: [catalog]", "consumers: catalog"))
    assert "domains[0].products[0].consumers" in message and "'catalog' (str)" in message


def test_consumer_naming_no_domain(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("consumers: [sales]", "consumers: [marketing]"))
    assert "consumer names no domain" in message and "'marketing'" in message
    assert "domains[1].products[0].consumers[0]" in message and "line 21" in message
    assert "one of sales, catalog" in message


def test_duplicate_product_names_in_a_spec(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("  - name: items", "  - name: orders"))
    assert "duplicate product name" in message and "line 18" in message
    assert "already in domain 'sales'" in message


def test_duplicate_yaml_keys_are_refused(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("kind: Mesh\n", "kind: Mesh\nname: other\n"))
    assert "duplicate key" in message and "'name'" in message


def test_missing_source_file_is_a_data_error(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("files/orders.csv", "files/nothing.csv"),
                         error=DataError)
    assert "source file not found" in message and "nothing.csv" in message
    assert "domains[0].products[0].source" in message


def test_unsupported_source_format(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("files/orders.csv", "files/orders.xlsx"),
                         error=DataError)
    assert "unsupported source file format" in message and "'.xlsx'" in message
    assert ".csv, .parquet" in message


def test_missing_contract_file(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("contracts/items.yaml", "contracts/nope.yaml"))
    assert "contract file not found" in message and "line 20" in message


def test_bad_contract_is_a_contract_error_naming_its_file(tmp_path):
    write_mesh(tmp_path)
    (tmp_path / "contracts" / "items.yaml").write_text("apiVersion: v3.1.0\nkind: Oops\n")
    with pytest.raises(ContractError) as info:
        Mesh.load(tmp_path)
    assert "items.yaml" in str(info.value)


def test_empty_or_missing_spec(tmp_path):
    assert "an empty file" in spec_error(tmp_path, "")
    with pytest.raises(SpecError, match="cannot read the mesh spec"):
        Mesh.load(tmp_path / "missing" / "mesh.yaml")


def test_wrong_api_version(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("meshkit/v1", "meshkit/v9"))
    assert "apiVersion" in message and "'meshkit/v9'" in message


# ----------------------------------------------------------------------------- display


def test_text_and_html_display(tmp_path):
    mesh = Mesh.load(write_mesh(tmp_path))
    assert repr(mesh) == "Mesh('shop', domains=['sales', 'catalog'], products=2)"
    text = str(mesh)
    assert text.splitlines()[0] == "Mesh shop: 2 domains, 2 products"
    orders_row = next(line for line in text.splitlines() if line.split()[1:2] == ["orders"])
    assert orders_row.split()[:2] == ["sales", "orders"]
    assert " 4 " in orders_row and "email" in orders_row and "catalog" in orders_row
    html = mesh._repr_html_()
    assert html.count("<tr") == 3 and "sales@shop.example.org" in html
    assert str(tmp_path) not in html + text  # no machine paths
    assert Mesh.load(tmp_path)._repr_html_() == html  # deterministic


def test_html_is_escaped():
    mesh = Mesh("m", [Domain("d", "<script>", [DataProduct("p", contract())])])
    assert "<script>" not in mesh._repr_html_() and "&lt;script&gt;" in mesh._repr_html_()


# ----------------------------------------------------------------------------- figure


def test_plot_mesh_draws_domains_products_and_consumers():
    mesh = load_scenario("retail", scale=0.05).mesh
    fig = plot_mesh(mesh)
    assert isinstance(fig, Figure)
    texts = {t.get_gid(): t for t in fig.axes[0].texts}
    for domain in mesh.domains.values():
        label = texts[f"domain:{domain.name}"].get_text()
        assert all(product in label for product in domain.products)
    arrows = {gid for gid in texts if gid.startswith("consumes:")}
    expected = {f"consumes:{p.domain}->{c}" for p in mesh.products() for c in p.consumers}
    assert arrows == expected
    assert "(PII)" in texts["domain:customers"].get_text()


def test_plot_mesh_is_deterministic():
    mesh = load_scenario("finance", scale=0.05).mesh

    def png() -> bytes:
        buffer = io.BytesIO()
        plot_mesh(mesh).savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()

    assert png() == png()


def test_domain_positions_are_distinct_and_start_at_the_top():
    positions = domain_positions(5)
    assert positions.shape == (5, 2)
    assert np.allclose(positions[0], [0.0, 1.0])
    assert len({tuple(p) for p in positions.round(6)}) == 5
    assert domain_positions(1).tolist() == [[0.0, 0.0]]


def test_empty_domain_list_is_refused(tmp_path):
    message = spec_error(tmp_path, "name: x\ndomains: []\n")
    assert "line 2, domains" in message and "at least one domain" in message
    assert "found [] (list)" in message


_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@st.composite
def meshes(draw):
    """Random valid meshes: unique names, consumers drawn from the domain names."""
    domain_names = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    product_names = draw(st.lists(_names, min_size=0, max_size=6, unique=True))
    homes = draw(st.lists(st.sampled_from(domain_names), min_size=len(product_names),
                          max_size=len(product_names)))
    owners = draw(st.lists(st.sampled_from(["a@x.example.org", "b team", "ünïcode"]),
                           min_size=len(domain_names), max_size=len(domain_names)))
    domains = []
    for domain, owner in zip(domain_names, owners):
        products = [DataProduct(name, contract(), description=f"about {name}",
                                consumers=draw(st.lists(st.sampled_from(domain_names),
                                                        unique=True, max_size=3)))
                    for name, home in zip(product_names, homes) if home == domain]
        domains.append(Domain(domain, owner, products, description=draw(st.text(max_size=20))))
    return Mesh("random", domains)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mesh=meshes())
def test_any_valid_mesh_round_trips_through_its_spec(tmp_path, mesh):
    folder = tmp_path / "mesh"
    if folder.exists():
        shutil.rmtree(folder)
    again = Mesh.load(mesh.save(folder))
    assert again.to_spec() == mesh.to_spec()
    assert again.catalog().equals(mesh.catalog())
    assert str(again) == str(mesh)


def test_a_consumer_only_domain_needs_no_products(tmp_path):
    spec = SPEC + "- name: analytics\n  owner: bi@shop.example.org\n"
    spec = spec.replace("consumers: [sales]", "consumers: [sales, analytics]")
    mesh = Mesh.load(write_mesh(tmp_path, spec))
    assert mesh.domains["analytics"].products == {}
    assert mesh.product("items").consumers == ["sales", "analytics"]
    assert Mesh.load(mesh.save(tmp_path / "again")).to_spec() == mesh.to_spec()
