"""Your own mesh through the chain's library path, on data no scenario generator made.

The mesh is written here: three domains (shop, web, crm), CSV and Parquet files drawn with
numpy, contracts written as YAML text, a supervised task, interactions, an entity whose
reference (crm's members) has a copy in the shop domain, a principal and a grant. It goes
through what each notebook calls: ensure_published -> experiment.prepare -> local and
federated training -> consistency compare and sync -> the security walk-through.
"""

from __future__ import annotations

import json
import os
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import meshkit as mk
from meshkit import (Mesh, Policy, QualityError, RunError, SecureStore, SecurityModel,
                     SeededKeySource, SpecError, run_federated, train_local)
from meshkit.tutorial import runs
from meshkit.tutorial.chain import run_chain
from meshkit.tutorial.copy_plan import plan_copy
from meshkit.tutorial.experiment import prepare, recommender_comparison
from meshkit.tutorial.user_mesh import (load_user_mesh, resolve_spec_path, skip_reason,
                                        spec_digest)
from meshkit.tutorial.walkthrough import plan_walkthrough

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
N_USERS, N_ITEMS = 40, 30


def _contract(name: str, domain: str, columns: str) -> str:
    head = f"""\
    apiVersion: v3.1.0
    kind: DataContract
    id: own-{name}
    name: {name}
    version: 1.0.0
    status: active
    domain: {domain}
    schema:
    - name: {name}
      physicalType: table
      properties:
    """
    return textwrap.dedent(head) + textwrap.indent(textwrap.dedent(columns), "  ")


VISITS = """\
- name: visit_id
  logicalType: string
  required: true
  unique: true
  primaryKey: true
- name: pages
  logicalType: number
  required: true
- name: seconds
  logicalType: number
  required: true
- name: bought
  logicalType: integer
  required: true
  logicalTypeOptions: {minimum: 0, maximum: 1}
"""
EVENTS = """\
- name: event_id
  logicalType: string
  required: true
  unique: true
  primaryKey: true
- name: user_id
  logicalType: integer
  required: true
- name: item_id
  logicalType: integer
  required: true
- name: quantity
  logicalType: integer
  required: true
"""
MEMBERS = """\
- name: user_id
  logicalType: integer
  required: true
  unique: true
  primaryKey: true
- name: email
  logicalType: string
  required: true
  classification: pii
- name: phone
  logicalType: string
  required: true
  classification: pii
- name: country
  logicalType: string
  required: true
- name: age
  logicalType: number
  required: true
"""

DECLARATIONS = """\
task:
  kind: binary
  target: bought
  features: [pages, seconds]
  products: {shop: shop_visits, web: web_visits}
interactions:
  sources:
    shop: {product: orders, user: user_id, item: item_id, weight: quantity}
    web: {product: clicks, user: user_id, item: item_id}
  users: members
"""
ENTITIES = """\
entities:
- name: member
  keys: [user_id]
  reference: members
  copies: [members_at_shop]
  references: [orders, clicks]
principals:
- {name: ana, kind: person, domain: shop, roles: [analyst]}
grants:
- {id: shop-reads-members, role: analyst, product: members, action: read,
   columns: [user_id, country], purpose: analytics}
"""


def _visits(rng, n: int, shift: float) -> pl.DataFrame:
    pages = rng.poisson(4 + shift, n).astype(float)
    seconds = np.round(rng.lognormal(3 + 0.2 * shift, 0.5, n), 1)
    logit = 0.6 * (pages - 4) + 0.02 * (seconds - 25)
    return pl.DataFrame({"visit_id": [f"V{shift:.0f}-{i:05d}" for i in range(n)],
                         "pages": pages, "seconds": seconds,
                         "bought": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)})


def _events(rng, n: int, prefix: str) -> pl.DataFrame:
    return pl.DataFrame({"event_id": [f"{prefix}{i:05d}" for i in range(n)],
                         "user_id": rng.integers(0, N_USERS, n),
                         "item_id": rng.integers(0, N_ITEMS, n),
                         "quantity": rng.integers(1, 4, n)})


def write_mesh(folder, *, task: bool = True, rows: int = 300, seed: int = 5,
               name: str = "own") -> os.PathLike:
    """Write a three-domain mesh (spec, contracts, CSV and Parquet files) into ``folder``."""
    rng = np.random.default_rng(seed)
    (folder / "contracts").mkdir(parents=True, exist_ok=True)
    (folder / "files").mkdir(exist_ok=True)
    members = pl.DataFrame({"user_id": np.arange(N_USERS),
                            "email": [f"m{i}@own.example.org" for i in range(N_USERS)],
                            "phone": [f"+41 79 000 {i:04d}" for i in range(N_USERS)],
                            "country": rng.choice(["CH", "DE", "FR"], N_USERS),
                            "age": np.round(rng.uniform(18, 80, N_USERS), 1)})
    stale = members.with_columns(
        pl.when(pl.col("user_id") < 5).then(pl.lit("XX")).otherwise(pl.col("country"))
        .alias("country"))
    frames = {"shop_visits": _visits(rng, rows, 0), "web_visits": _visits(rng, rows, 2),
              "orders": _events(rng, rows, "O"), "clicks": _events(rng, rows, "C"),
              "members": members, "members_at_shop": stale}
    contracts = {"shop_visits": VISITS, "web_visits": VISITS, "orders": EVENTS,
                 "clicks": EVENTS, "members": MEMBERS, "members_at_shop": MEMBERS}
    domains = {"shop": ["shop_visits", "orders", "members_at_shop"],
               "web": ["web_visits", "clicks"], "crm": ["members"]}
    for product, columns in contracts.items():
        domain = next(d for d, ps in domains.items() if product in ps)
        (folder / "contracts" / f"{product}.yaml").write_text(
            _contract(product, domain, columns))
        suffix = "parquet" if product in ("clicks", "members") else "csv"
        path = folder / "files" / f"{product}.{suffix}"
        (frames[product].write_parquet if suffix == "parquet" else frames[product].write_csv)(path)
    lines = [f"apiVersion: meshkit/v1\nkind: Mesh\nname: {name}\ndomains:"]
    for domain, products in domains.items():
        lines.append(f"- name: {domain}\n  owner: {domain}-team@own.example.org\n  products:")
        for product in products:
            suffix = "parquet" if product in ("clicks", "members") else "csv"
            consumers = "[shop, web]" if product == "members" else "[crm]"
            lines.append(f"  - name: {product}\n    contract: contracts/{product}.yaml\n"
                         f"    source: files/{product}.{suffix}\n    consumers: {consumers}")
    spec = "\n".join(lines) + "\n" + (DECLARATIONS if task else "") + ENTITIES
    (folder / "mesh.yaml").write_text(spec)
    return folder / "mesh.yaml"


@pytest.fixture()
def own(tmp_path):
    return write_mesh(tmp_path / "own_mesh")


# ------------------------------------------------------------------ the spec


def test_the_spec_declares_what_each_step_needs_and_saves_it_back(own, tmp_path):
    mesh = Mesh.load(own)
    assert mesh.task.products == {"shop": "shop_visits", "web": "web_visits"}
    assert mesh.task.features == ["pages", "seconds"] and mesh.task.target == "bought"
    assert mesh.interactions.products == ["orders", "clicks"]
    assert mesh.interactions.sources["shop"].weight == "quantity"
    assert mesh.interactions.users == "members"
    assert mesh.entity("member").copies == ["members_at_shop"]
    assert mesh.access.principals[0]["name"] == "ana"
    assert mesh.product("members").pii_columns == ["email", "phone"]  # from classification
    again = Mesh.load(mesh.save(tmp_path / "saved"))
    assert again.to_spec() == mesh.to_spec()
    assert (again.task, again.interactions, again.entities) == (
        mesh.task, mesh.interactions, mesh.entities)
    assert again.access.grants == mesh.access.grants


@pytest.mark.parametrize("old, new, message, field", [
    ("products: {shop: shop_visits, web: web_visits}",
     "products: {shop: shop_visits, web: shop_visits}", "not the domain's", "task.products.web"),
    ("features: [pages, seconds]", "features: [pages, minutes]",
     "no column of the product's contract", "task.features[1]"),
    ("item: item_id, weight: quantity", "item: item_id, weight: amount",
     "no column", "interactions.sources.shop.weight"),
    ("copies: [members_at_shop]", "copies: [members_elsewhere]", "no product of the mesh",
     "entities[0].copies[0]"),
    ("domain: shop, roles", "domain: warehouse, roles", "no domain", "principals[0].domain"),
    ("columns: [user_id, country]", "columns: [user_id, shoe_size]", "shoe_size", "grants"),
    ("kind: binary", "kind: ranking", "bad value", "task.kind"),
])
def test_a_declaration_naming_what_the_mesh_lacks_is_a_spec_error_with_its_line(
        own, old, new, message, field):
    text = own.read_text()
    assert old in text
    own.write_text(text.replace(old, new))
    line = next(i for i, row in enumerate(own.read_text().splitlines(), 1) if new in row)
    with pytest.raises(SpecError) as caught:
        Mesh.load(own)
    assert message in str(caught.value)
    assert f"line {line}" in caught.value.where or field == "grants"
    assert field in caught.value.where


def test_a_contract_of_several_tables_needs_table_and_maps_one_to_the_product(own):
    both = (own.parent / "contracts" / "shop_visits.yaml").read_text()
    second = textwrap.indent(textwrap.dedent("""\
        - name: refunds
          physicalType: table
          properties:
          - name: refund_id
            logicalType: string
        """), "")
    (own.parent / "contracts" / "visits_and_refunds.yaml").write_text(both + second)
    text = own.read_text().replace("contract: contracts/shop_visits.yaml",
                                   "contract: contracts/visits_and_refunds.yaml")
    own.write_text(text)
    with pytest.raises(SpecError, match="several tables") as caught:
        Mesh.load(own)
    assert "shop_visits, refunds" in caught.value.expected
    own.write_text(text.replace("contract: contracts/visits_and_refunds.yaml",
                                "contract: contracts/visits_and_refunds.yaml\n    table: nope"))
    with pytest.raises(SpecError, match="no such table"):
        Mesh.load(own)
    own.write_text(text.replace("contract: contracts/visits_and_refunds.yaml",
                                "contract: contracts/visits_and_refunds.yaml\n"
                                "    table: shop_visits"))
    assert Mesh.load(own).product("shop_visits").contract.tables == ["shop_visits"]


def test_a_policy_file_beside_the_spec_replaces_grants(own, tmp_path):
    text = own.read_text()
    grants = text[text.index("grants:"):]
    (own.parent / "policy.yaml").write_text(grants)
    own.write_text(text.replace(grants, "policy: policy.yaml\n"))
    mesh = Mesh.load(own)
    assert mesh.access.policy_dict()["grants"][0]["id"] == "shop-reads-members"
    saved = Mesh.load(mesh.save(tmp_path / "saved"))
    assert saved.access.policy_file.name == "policy.yaml"
    assert saved.access.policy_dict() == mesh.access.policy_dict()
    own.write_text(own.read_text() + grants)
    with pytest.raises(SpecError, match="a policy file and policy items"):
        Mesh.load(own)


def test_embedded_scenarios_are_ordinary_specs_whose_task_comes_from_the_mesh(tmp_path):
    from meshkit.scenarios import SCENARIOS, load_scenario

    for name in SCENARIOS:
        sc = load_scenario(name, scale=0.05)
        assert sc.task is sc.mesh.task and sc.interactions is sc.mesh.interactions
        assert sc.mesh.access.principals  # every scenario declares who reads
        loaded = Mesh.load(sc.mesh.save(tmp_path / name))
        assert loaded.task == sc.task and loaded.interactions == sc.interactions
        assert loaded.entities == sc.mesh.entities
    assert [e.reference for e in load_scenario("retail", scale=0.05).mesh.entities] == [
        "customer_profiles", "items"]


# ------------------------------------------------------------------ the chain's library path


def test_own_mesh_goes_through_every_notebooks_library_path(own, tmp_path):
    run = runs.RunDir(tmp_path / "run")
    source, store = runs.ensure_published(run, "retail", mesh_spec=own)
    # 01: published, validated, recorded by spec path and content hash; nothing embedded
    names = [p.name for p in source.mesh.products()]
    assert sorted(store.products()) == sorted(names)
    assert all(source.reports[n].passed for n in names)
    assert source.quality()["checks"].min() > 0
    assert run.published() == {"own": {"mesh_spec": str(own.resolve()),
                                       "sha256": spec_digest(source.mesh)}}
    for name in names:
        assert store.read(name).equals(source.frames[name].select(store.read(name).columns))
    assert all(skip_reason(source, step) is None for step in
               ("02_local_training", "03_aggregation", "recommender", "04_consistency",
                "05_security"))

    # 02 / 03: the mesh's task, read from the store
    frames = {name: store.read(name) for name in source.training_products}
    setup = prepare(source, lr=0.05, seed=0, frames=frames)
    assert list(setup.datasets) == ["shop", "web"]
    assert sum(d.n_train + d.n_test for d in setup.datasets.values()) == 600
    local = train_local(setup.model, setup.datasets, epochs=5, seed=0)
    assert set(local.matrix("accuracy")[0]) == {"shop", "web"}
    history = run_federated(setup.model, setup.datasets, mk.FedAvg(), rounds=5, seed=0,
                            progress=False)
    assert 0.5 < history.final["accuracy"] <= 1.0  # bought depends on the features
    rec = recommender_comparison(source, store=store, rounds=2, seed=0)
    assert rec["skipped"] is None
    assert {r["domain"] for r in rec["rows"]} == {"shop", "web"}

    # 04: the declared entity; its copy compared with the reference and synced
    plan = plan_copy(source.mesh, store)
    assert plan.reference == "members" and plan.keys == ["user_id"]
    assert plan.stale_product == "members_at_shop_stale"  # the declared copy is kept apart
    entity = source.mesh.entity("member")
    copy = entity.copies[0]
    before = mk.consistency(store.read("members"), store.read(copy), keys=entity.keys,
                            threshold=0.99)
    assert before.score < 1.0 and not before.consistent
    repair = mk.sync(store, source="members", target=copy, keys=entity.keys,
                     policy="source_wins")
    assert repair.version == 1
    assert store.read(copy).sort("user_id").equals(store.read("members").sort("user_id"))

    # 05: the walk-through on the mesh, with its declared principal and grant
    walk = plan_walkthrough(source.mesh, source.frames)
    assert walk.product == "members" and walk.consumer_domain == "shop"
    assert "shop-reads-members" in [g["id"] for g in walk.grants]
    policy = Policy.from_dict({"grants": walk.grants})
    model, people = SecurityModel.for_mesh(
        source.mesh, principals=walk.principals, policy=policy, source=SeededKeySource(3),
        clock=lambda: NOW.timestamp(), keys_created=NOW - timedelta(days=1),
        audit_path=run.folder("05_security") / "audit.jsonl")
    secure = SecureStore(run.folder("05_security") / "secure", model, reset=True)
    secure.protect(store, people)
    members = source.mesh.product("members")
    token = people["ana"].issue_token(audience=model.audience, now=NOW, purpose="analytics")
    seen = secure.read(members, token)
    assert seen.columns == ["user_id", "country"] and seen.height == N_USERS
    with pytest.raises(mk.AuthorizationError):
        secure.read(members, token, columns=["user_id", "email"])
    owner = secure.read(members, people[members.owner])
    assert owner.sort("user_id").equals(store.read("members").sort("user_id"))


def test_a_mesh_without_a_task_gives_the_skip_reasons(tmp_path):
    spec = write_mesh(tmp_path / "no_task", task=False)
    run = runs.RunDir(tmp_path / "run")
    source, _ = runs.ensure_published(run, mesh_spec=spec)
    assert source.task is None and source.training_products == []
    for step in ("02_local_training", "03_aggregation"):
        assert skip_reason(source, step) == ("mesh 'own' declares no supervised task: "
                                             "nothing to train")
    assert "no interactions" in skip_reason(source, "recommender")
    assert skip_reason(source, "04_consistency") is None
    for notebook in ("02_local_training", "03_aggregation"):
        assert run.write_skipped(notebook, source) == skip_reason(source, notebook)
        assert run.read_results(notebook) == {
            "mesh": "own", "skipped": {notebook: skip_reason(source, notebook)}}
    run.write_skipped("03_aggregation", source, "recommender")
    assert set(run.read_results("03_aggregation")["skipped"]) == {"03_aggregation",
                                                                  "recommender"}
    assert run.write_skipped("04_consistency", source) is None
    assert run.read_results("04_consistency") == {}
    with pytest.raises(mk.FederationError, match="no supervised task"):
        prepare(source)  # never replaced by an embedded task
    with pytest.raises(SpecError, match="unknown step"):
        skip_reason(source, "06_deploy")


# ------------------------------------------------------------------ paths that mixed data


def test_a_relative_spec_resolves_from_where_it_was_typed(own, tmp_path, monkeypatch):
    monkeypatch.chdir(own.parent.parent)
    assert resolve_spec_path("own_mesh/mesh.yaml") == own.resolve()
    assert resolve_spec_path("own_mesh") == own.resolve()
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(SpecError) as caught:
        resolve_spec_path("own_mesh/mesh.yaml")
    assert str(tmp_path.parent / "own_mesh" / "mesh.yaml") in str(caught.value)


def test_another_mesh_into_the_same_run_dir_is_refused_with_the_way_out(own, tmp_path):
    run = runs.RunDir(tmp_path / "run")
    _, store = runs.ensure_published(run, mesh_spec=own)
    before = {n: store.latest_version(n) for n in store.products()}
    other = write_mesh(tmp_path / "other_mesh", name="other")
    with pytest.raises(RunError, match="another mesh") as caught:
        runs.ensure_published(run, mesh_spec=other)
    assert "--out" in str(caught.value) and "--fresh" in str(caught.value)
    with pytest.raises(RunError, match="another mesh"):
        runs.ensure_published(run, "retail", scale=0.05)  # an embedded one neither
    assert {n: store.latest_version(n) for n in store.products()} == before
    with pytest.raises(RunError, match="another mesh"):  # the chain refuses before running
        run_chain({}, mesh_spec=other, out=run.path, progress=False)
    # a scenario's run refuses the user's mesh too
    scenario_run = runs.RunDir(tmp_path / "scenario_run")
    runs.ensure_published(scenario_run, "retail", scale=0.05, seed=1)
    with pytest.raises(RunError, match="scenario 'retail'"):
        runs.ensure_published(scenario_run, mesh_spec=own)


def test_changed_files_of_the_same_spec_replace_the_previous_draw(own, tmp_path):
    run = runs.RunDir(tmp_path / "run")
    runs.ensure_published(run, mesh_spec=own)
    run.write_results("02_local_training", {"mean_home": 0.5})
    write_mesh(own.parent, seed=6)  # new files, same spec path
    source, store = runs.ensure_published(run, mesh_spec=own)
    assert run.read_results("02_local_training") == {}  # the old draw's results are gone
    assert store.latest_version("shop_visits") == 0
    assert store.read("shop_visits").equals(source.frames["shop_visits"])
    assert run.published()["own"]["sha256"] == spec_digest(source.mesh)


def test_a_second_call_on_the_same_mesh_neither_validates_nor_publishes_again(
        own, tmp_path, monkeypatch):
    import meshkit._contracts as contracts

    validated = []
    real_validate = contracts.validate

    def counting_validate(frame, contract, *args, **kwargs):
        validated.append(contract.id)
        return real_validate(frame, contract, *args, **kwargs)

    monkeypatch.setattr(contracts, "validate", counting_validate)
    run = runs.RunDir(tmp_path / "run")
    first, store = runs.ensure_published(run, mesh_spec=own)
    names = sorted(store.products())
    assert len(validated) == len(names) and all(first.reports[n].passed for n in names)
    logs = {n: sorted((run.path / "store").rglob(f"{n}/_delta_log/*.json")) for n in names}
    assert all(logs.values())

    validated.clear()
    second, store = runs.ensure_published(run, mesh_spec=own)
    assert validated == [] and second.reports == {}  # the exact mesh held: no re-validation
    assert {n: store.latest_version(n) for n in names} == dict.fromkeys(names, 0)
    assert {n: sorted((run.path / "store").rglob(f"{n}/_delta_log/*.json"))
            for n in names} == logs
    assert second.digest == first.digest
    assert all(second.frames[n].equals(first.frames[n]) for n in names)

    # one changed file: validated and published again, from the new file
    visits = pl.read_csv(own.parent / "files" / "shop_visits.csv")
    visits.head(visits.height - 7).write_csv(own.parent / "files" / "shop_visits.csv")
    third, store = runs.ensure_published(run, mesh_spec=own)
    assert len(validated) == len(names) and all(third.reports[n].passed for n in names)
    assert store.read("shop_visits").height == visits.height - 7
    assert store.latest_version("shop_visits") == 0
    assert run.published()["own"]["sha256"] == third.digest != first.digest


def test_a_product_failing_its_contract_publishes_nothing(own, tmp_path):
    bad = pl.read_csv(own.parent / "files" / "shop_visits.csv").with_columns(
        pl.lit(7).alias("bought"))
    bad.write_csv(own.parent / "files" / "shop_visits.csv")
    run = runs.RunDir(tmp_path / "run")
    with pytest.raises(QualityError, match="nothing was published") as caught:
        runs.ensure_published(run, mesh_spec=own)
    assert not caught.value.report.passed
    assert list(run.store.products()) == [] and run.published() == {}


def test_changing_seed_or_scale_replaces_the_draw_instead_of_mixing(tmp_path):
    run = runs.RunDir(tmp_path / "run")
    first, store = runs.ensure_published(run, "retail", scale=0.05, seed=1)
    run.write_results("03_aggregation", {"federated": 1})
    second, store = runs.ensure_published(run, "retail", scale=0.05, seed=2)
    assert run.published() == {"retail": {"scale": 0.05, "seed": 2}}
    assert run.read_results("03_aggregation") == {}
    assert store.latest_version("purchases") == 0
    assert store.read("purchases").equals(second.frames["purchases"])
    assert not store.read("purchases").equals(first.frames["purchases"])
    third, store = runs.ensure_published(run, "retail", scale=0.1, seed=2)
    assert store.read("items").height == third.frames["items"].height


def test_notebook_01_records_a_relative_spec_by_its_absolute_path(own, tmp_path, monkeypatch):
    monkeypatch.chdir(own.parent)
    run = runs.RunDir(tmp_path / "run")
    run.record_published("own", mesh_spec="mesh.yaml")
    recorded = json.loads((run.path / "published.json").read_text())["own"]
    assert recorded["mesh_spec"] == str(own.resolve())
    assert recorded["sha256"] == spec_digest(Mesh.load(own))
    runs.ensure_published(run, mesh_spec="mesh.yaml")  # the same mesh: accepted


# ------------------------------------------------------------------ meshkit run --mesh

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chain"


def _run(out, *extra):
    from meshkit.cli import main

    return main(["run", "--notebooks", str(FIXTURES), "--out", str(out), "--no-progress",
                 "--only", "01", "03", *extra])


@pytest.mark.slow
def test_meshkit_run_mesh_passes_the_absolute_spec_to_every_notebook(own, tmp_path,
                                                                      monkeypatch, capsys):
    monkeypatch.chdir(own.parent.parent)
    out = tmp_path / "run"
    assert _run(out, "--mesh", "own_mesh/mesh.yaml") == 0
    for notebook in ("01_domain_setup", "03_aggregation"):
        received = json.loads((out / notebook / "results.json").read_text())
        assert received["parameters"]["mesh_spec"] == str(own.resolve())
    # a second mesh into the same run directory: refused before anything runs, with the way out
    runs.ensure_published(runs.RunDir(out), mesh_spec=own)
    other = write_mesh(tmp_path / "other_mesh", name="other")
    (out / "03_aggregation" / "results.json").unlink()
    capsys.readouterr()
    assert _run(out, "--mesh", str(other)) == 1
    err = capsys.readouterr().err
    assert "another mesh" in err and "--out" in err and "--fresh" in err
    assert not (out / "03_aggregation" / "results.json").exists()
    assert _run(out, "--mesh", str(other), "--fresh") == 0
    assert runs.RunDir(out).published() == {}  # emptied; the fixtures publish nothing


def test_meshkit_run_mesh_names_the_absolute_path_it_tried(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert _run(out, "--mesh", "missing/mesh.yaml") == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "missing" / "mesh.yaml") in err
    assert not out.exists()


def test_meshkit_params_lists_mesh_spec(capsys):
    from meshkit.cli import main

    assert main(["params", "--notebooks", str(FIXTURES)]) == 0
    assert "mesh_spec" in capsys.readouterr().out
