"""Your own mesh through the real notebooks 01 -> 05, with the real ``meshkit run --mesh``.

The mesh is written here, by hand, from nothing any scenario generator made: two bakeries
(``north``, ``south``) and the ``office`` that keeps the customers; CSV and Parquet files; ODCS
contracts as YAML text (an ``sql`` quality rule, a foreign key from the tastings to the
customers); a supervised task (does a batch sell out?), interactions (who tasted which
pastry), an entity held by two products (the office's customers and the copy the north
bakery keeps), a principal, a grant and a deny. The command runs in a subprocess from the
mesh's folder (and, for the second mesh, from its parent) with relative paths, as a user
types them; a small ``-p`` keeps it short.

A second mesh declares no task and no interactions: 02 and 03 are skipped with their
reasons, 01, 04 and 05 run, and the command exits 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from meshkit import ProductStore
from meshkit.scenarios import SCENARIOS
from meshkit.tutorial.chain import CHAIN, default_notebooks, notebook_parameters

pytestmark = pytest.mark.slow

PASTRIES = ["croissant", "brioche", "eclair", "strudel", "scone", "pretzel"]
TOWNS = ["Aarau", "Baden", "Chur", "Davos"]
N_CUSTOMERS = 24

SALES = """\
- name: batch_id
  logicalType: string
  required: true
  unique: true
  primaryKey: true
- name: batch_size
  logicalType: integer
  required: true
  quality:
  - type: sql
    name: no_negative_batches
    query: SELECT COUNT(*) FROM ${object} WHERE ${property} < 0
    mustBe: 0
- name: temperature
  logicalType: number
  required: true
- name: sold_out
  logicalType: integer
  required: true
  logicalTypeOptions: {minimum: 0, maximum: 1}
"""
TASTINGS = """\
- name: tasting_id
  logicalType: string
  required: true
  unique: true
  primaryKey: true
- name: customer_id
  logicalType: integer
  required: true
  relationships:
  - type: foreignKey
    to: customers.customer_id
- name: pastry_id
  logicalType: integer
  required: true
- name: stars
  logicalType: integer
  required: true
  logicalTypeOptions: {minimum: 1, maximum: 5}
"""
CUSTOMERS = """\
- name: customer_id
  logicalType: integer
  required: true
  unique: true
  primaryKey: true
- name: email
  logicalType: string
  required: true
  classification: pii
- name: town
  logicalType: string
  required: true
- name: visits
  logicalType: integer
  required: true
- name: joined
  logicalType: date
  required: true
"""
TASK = """\
task:
  kind: binary
  target: sold_out
  features: [batch_size, temperature]
  products: {north: sales_north, south: sales_south}
interactions:
  sources:
    north: {product: tastings_north, user: customer_id, item: pastry_id, weight: stars}
    south: {product: tastings_south, user: customer_id, item: pastry_id}
  users: customers
"""
ACCESS = """\
entities:
- name: customer
  keys: [customer_id]
  reference: customers
  copies: [customers_at_north]
  references: [tastings_north, tastings_south]
principals:
- {name: maya, kind: person, domain: south, roles: [analyst]}
grants:
- {id: south-reads-towns, principal: maya, product: customers, action: read,
   columns: [customer_id, town], purpose: analytics}
denies:
- {id: no-north-sales-for-maya, principal: maya, product: sales_north, action: read,
   reason: the north bakery keeps its sales to itself}
"""
DOMAINS = {"north": ["sales_north", "tastings_north", "customers_at_north"],
           "south": ["sales_south", "tastings_south"], "office": ["customers"]}
PARQUET = {"tastings_south", "customers"}


def _sales(bakery: str, n: int, warm: int) -> pl.DataFrame:
    """A bakery's batches: a batch sells out when it is small for the day's temperature."""
    size = [20 + (7 * i) % 41 for i in range(n)]
    temperature = [float(5 + (11 * i + warm) % 23) for i in range(n)]
    return pl.DataFrame({"batch_id": [f"{bakery}-{i:03d}" for i in range(n)],
                         "batch_size": size, "temperature": temperature,
                         "sold_out": [int(s < 30 + t or i % 9 == 0)
                                      for i, (s, t) in enumerate(zip(size, temperature))]})


def _tastings(bakery: str, n: int, step: int) -> pl.DataFrame:
    return pl.DataFrame({"tasting_id": [f"t-{bakery}-{i:03d}" for i in range(n)],
                         "customer_id": [(step * i) % N_CUSTOMERS for i in range(n)],
                         "pastry_id": [(i + i // N_CUSTOMERS) % len(PASTRIES) for i in range(n)],
                         "stars": [1 + (i * step) % 5 for i in range(n)]})


def _contract(product: str, domain: str, columns: str, version: str) -> str:
    head = textwrap.dedent(f"""\
        apiVersion: {version}
        kind: DataContract
        id: bakery-{product}
        name: {product}
        version: 1.0.0
        status: active
        domain: {domain}
        schema:
        - name: {product}
          physicalType: table
          properties:
        """)
    return head + textwrap.indent(columns, "    ")


def write_bakery(folder: Path, *, name: str, task: bool = True) -> dict[str, pl.DataFrame]:
    """Write the bakery mesh into ``folder``; return each product's rows as written."""
    (folder / "contracts").mkdir(parents=True)
    (folder / "files").mkdir()
    from datetime import date, timedelta

    customers = pl.DataFrame({
        "customer_id": list(range(N_CUSTOMERS)),
        "email": [f"guest{i}@bakery.example.org" for i in range(N_CUSTOMERS)],
        "town": [TOWNS[(3 * i) % len(TOWNS)] for i in range(N_CUSTOMERS)],
        "visits": [1 + (5 * i) % 13 for i in range(N_CUSTOMERS)],
        "joined": [date(2025, 1, 1) + timedelta(days=9 * i) for i in range(N_CUSTOMERS)]})
    frames = {"sales_north": _sales("n", 90, 0), "sales_south": _sales("s", 70, 6),
              "tastings_north": _tastings("n", 60, 5), "tastings_south": _tastings("s", 48, 7),
              "customers": customers,
              "customers_at_north": customers.with_columns(  # the copy, a little behind
                  pl.when(pl.col("customer_id") < 3).then(pl.lit("Zug"))
                  .otherwise(pl.col("town")).alias("town"))}
    columns = {"sales": SALES, "tastings": TASTINGS, "customers": CUSTOMERS}
    versions = ["v3.0.2", "v3.1.0", "v3.2.0"]
    lines = [f"apiVersion: meshkit/v1\nkind: Mesh\nname: {name}\ndomains:"]
    for k, (domain, products) in enumerate(DOMAINS.items()):
        lines.append(f"- name: {domain}\n  owner: {domain}@bakery.example.org\n  products:")
        for product in products:
            kind = product.split("_")[0]
            (folder / "contracts" / f"{product}.yaml").write_text(
                _contract(product, domain, columns[kind], versions[k]))
            suffix = "parquet" if product in PARQUET else "csv"
            path = folder / "files" / f"{product}.{suffix}"
            (frames[product].write_parquet if suffix == "parquet"
             else frames[product].write_csv)(path)
            consumers = "[south, north]" if product == "customers" else "[office]"
            lines.append(f"  - name: {product}\n    contract: contracts/{product}.yaml\n"
                         f"    source: files/{product}.{suffix}\n    consumers: {consumers}")
    (folder / "mesh.yaml").write_text("\n".join(lines) + "\n" + (TASK if task else "") + ACCESS)
    return frames


def _quick_parameters() -> list[str]:
    """Small ``-p`` values for a short run (``interactive`` only where a notebook has it)."""
    quick = {"epochs": "3", "rounds": "3", "recommender_rounds": "2", "dp_noise": "[1.0]",
             "dpsgd_noise": "[0.0, 1.0]", "compare": '{"fedavg": {}, "fedprox": {"mu": 1.0}}',
             "interactive": "false"}
    declared = {p for name in CHAIN
                for p in notebook_parameters(default_notebooks() / f"{name}.ipynb")}
    return [arg for name, value in quick.items() if name in declared
            for arg in ("-p", f"{name}={value}")]


def _meshkit_run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "meshkit", "run", *args, "--no-progress",
                           *_quick_parameters()],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=1200)


def _results(run: Path) -> dict[str, dict]:
    return {name: json.loads((run / name / "results.json").read_text()) for name in CHAIN}


def _no_scenario_named(run: Path) -> None:
    texts = [(run / name / "results.json").read_text() for name in CHAIN]
    texts.append((run / "published.json").read_text())
    for text in texts:
        for scenario in SCENARIOS:
            assert scenario not in text.lower(), scenario


@pytest.fixture(scope="module")
def bakery_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("user")
    frames = write_bakery(home / "bakery", name="bakery")
    done = _meshkit_run(home / "bakery", "--mesh", "mesh.yaml", "--out", "../runs/first")
    return home, frames, done


def test_your_mesh_runs_the_real_notebooks_01_to_05(bakery_run):
    home, frames, done = bakery_run
    assert done.returncode == 0, done.stderr[-3000:]
    run = home / "runs" / "first"
    results = _results(run)
    spec = (home / "bakery" / "mesh.yaml").resolve()
    assert json.loads((run / "published.json").read_text())["bakery"]["mesh_spec"] == str(spec)
    _no_scenario_named(run)

    setup = results["01_domain_setup"]
    assert setup["scenario"] == "bakery" and setup["domains"] == ["north", "office", "south"]
    assert {name: p["rows"] for name, p in setup["products"].items()} == {
        name: frame.height for name, frame in frames.items()}
    assert all(p["passed"] for p in setup["products"].values())
    assert setup["broken_batch"]["product"] == "sales_north"  # the mesh's first product
    assert setup["broken_batch"]["failed_checks"]  # refused, with the checks that failed

    local = results["02_local_training"]
    assert local["scenario"] == "bakery" and local["domains"] == ["north", "south"]
    assert local["task"] == {"kind": "binary", "target": "sold_out",
                             "features": ["batch_size", "temperature"],
                             "products": {"north": "sales_north", "south": "sales_south"}}
    store = ProductStore(run / "store")  # 01 published a grown batch of sales_north (v1)
    assert setup["products"]["sales_north"]["version"] == 1
    assert local["rows"] == {"north": store.read("sales_north").height,
                             "south": frames["sales_south"].height}
    assert local["rows"]["north"] > frames["sales_north"].height
    assert local["epochs"] == 3 and "skipped" not in local
    assert 0.0 <= local["mean_home"] <= 1.0

    aggregation = results["03_aggregation"]
    assert aggregation["scenario"] == "bakery" and aggregation["rounds"] == 3
    assert len(aggregation["curve"]) == 3
    assert [s["strategy"] for s in aggregation["strategies"]] == ["FedAvg", "FedProx(mu=1.0)"]
    assert {r["domain"] for r in aggregation["recommender"]} >= {"north", "south"}
    assert "skipped" not in aggregation

    consistency = results["04_consistency"]
    assert consistency["reference"] == "customers" and consistency["keys"] == ["customer_id"]
    assert consistency["stale_product"] == "customers_at_south"  # the copy compared
    assert consistency["score_before"] < consistency["score_after"]
    assert set(consistency["matrix_products"]) >= {"customers", "customers_at_north"}

    security = results["05_security"]
    assert security["walkthrough"]["product"] == "customers"
    assert security["walkthrough"]["consumer_domain"] == "south"
    assert "maya" in security["walkthrough"]["principals"]
    assert "south-reads-towns" in security["policy"]["grants"]
    assert security["policy"]["denies"] == ["no-north-sales-for-maya"]
    assert security["attacks_refused"] == security["attacks"] > 0 and security["audit_intact"]

    # the end summary names the mesh's own results
    assert "bakery: 6 products published in 3 domains" in done.stdout


def test_a_mesh_without_a_task_skips_02_and_03_with_their_reasons(tmp_path):
    frames = write_bakery(tmp_path / "plain", name="plain", task=False)
    done = _meshkit_run(tmp_path, "--mesh", "plain", "--out", "runs/plain")
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "plain"
    results = _results(run)
    _no_scenario_named(run)
    no_task = "mesh 'plain' declares no supervised task: nothing to train"
    assert results["02_local_training"] == {"mesh": "plain",
                                            "skipped": {"02_local_training": no_task}}
    assert results["03_aggregation"] == {"mesh": "plain", "skipped": {"03_aggregation": no_task}}
    assert f"02_local_training: skipped: {no_task}" in done.stdout
    assert f"03_aggregation: skipped: {no_task}" in done.stdout
    # the skipped notebooks ran to their end without an error and trained nothing
    for name in ("02_local_training", "03_aggregation"):
        executed = json.loads((run / f"{name}.ipynb").read_text())
        outputs = [o for c in executed["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"]
        assert sum(no_task in json.dumps(o) for o in outputs) == 1
    assert not (run / "03_aggregation" / "global_model.json").exists()
    # the others ran on the mesh's own products
    setup = results["01_domain_setup"]
    assert {n: p["rows"] for n, p in setup["products"].items()} == {
        n: f.height for n, f in frames.items()}
    assert results["04_consistency"]["reference"] == "customers"
    assert "skipped" not in results["04_consistency"]
    assert results["05_security"]["walkthrough"]["principals"][-1] == "maya"
