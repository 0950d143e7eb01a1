"""Benchmark: your own mesh through the chain's library steps, wall time per step.

A three-domain mesh (shop, web, crm; CSV and Parquet files, contracts, a task, interactions,
an entity with a copy, a grant) is written to a temporary folder, then each step a notebook
runs is timed once: ``ensure_published`` (read, validate every product against its contract,
publish to Delta Lake), 02's set-up and local training, 03's federated rounds and the
recommender, 04's consistency report and sync of the declared copy, 05's protection of the
mesh and one governed read. The peer of the publishing step is the same files read with
polars and written with ``deltalake.write_deltalake`` (no contract check, no versions
bookkeeping): the ratio says what meshkit's checks and records cost.

    .venv/bin/python benchmarks/bench_ownmesh.py            # 100k rows per product (< 2 min)
    .venv/bin/python benchmarks/bench_ownmesh.py --full     # 1M rows per product

Writes ``benchmarks/results/bench_ownmesh.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)

_VISITS = [("visit_id", "string", "primaryKey: true\n  unique: true"), ("pages", "number", ""),
           ("seconds", "number", ""), ("bought", "integer", "")]
_EVENTS = [("event_id", "string", "primaryKey: true\n  unique: true"),
           ("user_id", "integer", ""), ("item_id", "integer", ""), ("quantity", "integer", "")]
_MEMBERS = [("user_id", "integer", "primaryKey: true\n  unique: true"),
            ("email", "string", "classification: pii"), ("phone", "string", "classification: pii"),
            ("country", "string", ""), ("age", "number", "")]
_DOMAINS = {"shop": ["shop_visits", "orders", "members_at_shop"],
            "web": ["web_visits", "clicks"], "crm": ["members"]}
_PARQUET = {"clicks", "members", "members_at_shop"}


def _contract(name: str, domain: str, columns) -> str:
    props = "".join(f"- name: {c}\n  logicalType: {t}\n  required: true\n"
                    + (f"  {extra}\n" if extra else "") for c, t, extra in columns)
    return (f"apiVersion: v3.1.0\nkind: DataContract\nid: bench-{name}\nname: {name}\n"
            f"version: 1.0.0\nstatus: active\ndomain: {domain}\nschema:\n- name: {name}\n"
            f"  physicalType: table\n  properties:\n" + textwrap.indent(props, "  "))


def write_mesh(folder: Path, rows: int, seed: int = 0) -> Path:
    """A three-domain mesh of ``rows`` rows per product (and per domain's largest product)."""
    rng = np.random.default_rng(seed)
    users, items = min(rows, 50_000), 2_000

    def visits(shift):
        pages = rng.poisson(4 + shift, rows).astype(float)
        seconds = np.round(rng.lognormal(3, 0.5, rows), 1)
        logit = 0.6 * (pages - 4) + 0.02 * (seconds - 25)
        ids = pl.Series(np.arange(rows)).cast(pl.String).str.zfill(8)
        return pl.DataFrame({"visit_id": f"V{shift}-" + ids, "pages": pages, "seconds": seconds,
                             "bought": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)})

    def events(prefix):
        ids = pl.Series(np.arange(rows)).cast(pl.String).str.zfill(8)
        return pl.DataFrame({"event_id": prefix + ids, "user_id": rng.integers(0, users, rows),
                             "item_id": rng.integers(0, items, rows),
                             "quantity": rng.integers(1, 4, rows)})

    ids = pl.Series(np.arange(rows))
    members = pl.DataFrame({"user_id": ids,
                            "email": "m" + ids.cast(pl.String) + "@bench.example.org",
                            "phone": "+41 79 " + ids.cast(pl.String).str.zfill(7),
                            "country": rng.choice(["CH", "DE", "FR"], rows),
                            "age": np.round(rng.uniform(18, 80, rows), 1)})
    stale = members.with_columns(pl.when(pl.col("user_id") % 10 == 0).then(pl.lit("XX"))
                                 .otherwise(pl.col("country")).alias("country"))
    frames = {"shop_visits": visits(0), "web_visits": visits(2), "orders": events("O"),
              "clicks": events("C"), "members": members, "members_at_shop": stale}
    columns = {"shop_visits": _VISITS, "web_visits": _VISITS, "orders": _EVENTS,
               "clicks": _EVENTS, "members": _MEMBERS, "members_at_shop": _MEMBERS}
    (folder / "contracts").mkdir(parents=True)
    (folder / "files").mkdir()
    spec = ["apiVersion: meshkit/v1\nkind: Mesh\nname: bench\ndomains:"]
    for domain, products in _DOMAINS.items():
        spec.append(f"- name: {domain}\n  owner: {domain}@bench.example.org\n  products:")
        for product in products:
            suffix = "parquet" if product in _PARQUET else "csv"
            (folder / "contracts" / f"{product}.yaml").write_text(
                _contract(product, domain, columns[product]))
            path = folder / "files" / f"{product}.{suffix}"
            (frames[product].write_parquet if suffix == "parquet"
             else frames[product].write_csv)(path)
            consumers = "[shop, web]" if product == "members" else "[crm]"
            spec.append(f"  - name: {product}\n    contract: contracts/{product}.yaml\n"
                        f"    source: files/{product}.{suffix}\n    consumers: {consumers}")
    spec.append(textwrap.dedent("""\
        task: {target: bought, features: [pages, seconds],
               products: {shop: shop_visits, web: web_visits}}
        interactions:
          sources:
            shop: {product: orders, user: user_id, item: item_id, weight: quantity}
            web: {product: clicks, user: user_id, item: item_id}
        entities:
        - {name: member, keys: [user_id], reference: members, copies: [members_at_shop],
           references: [orders, clicks]}
        principals:
        - {name: ana, kind: person, domain: shop, roles: [analyst]}
        grants:
        - {id: shop-reads-members, role: analyst, product: members, action: read,
           columns: [user_id, country]}
        """))
    (folder / "mesh.yaml").write_text("\n".join(spec))
    return folder / "mesh.yaml"


def timed(label: str, fn, times: dict):
    t0 = time.perf_counter()
    out = fn()
    times[label] = round(time.perf_counter() - t0, 3)
    print(f"  {label:<44} {times[label]:>8.2f} s", flush=True)
    return out


def peer_publish(spec: Path, target: Path) -> None:
    """The peer: read each file with polars, write it with deltalake (no checks)."""
    from deltalake import write_deltalake

    for path in sorted((spec.parent / "files").iterdir()):
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
        write_deltalake(str(target / path.stem), frame.to_arrow())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1M rows per product")
    parser.add_argument("--rows", type=int, help="rows per product (default 100k; --full 1M)")
    args = parser.parse_args(argv)
    rows = args.rows or (1_000_000 if args.full else 100_000)

    import meshkit as mk
    from meshkit.tutorial import runs
    from meshkit.tutorial.experiment import prepare, recommender_comparison
    from meshkit.tutorial.walkthrough import plan_walkthrough

    # imports are not what is measured: jsonschema (the spec's and the contracts' schema
    # check) alone can take seconds to import, compiling rfc3987-syntax's grammars
    t0 = time.perf_counter()
    from meshkit import Mesh, validate  # noqa: F401
    from meshkit._mesh_spec import load_parts  # noqa: F401
    from meshkit._store import ProductStore  # noqa: F401
    print(f"imports: {time.perf_counter() - t0:.1f} s (not counted)")
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        spec = write_mesh(tmp / "mesh", rows)
        print(f"mesh of {rows:,} rows per product written in {time.perf_counter() - t0:.1f} s")
        timed("peer: polars read + deltalake write", lambda: peer_publish(spec, tmp / "peer"),
              times)
        run = runs.RunDir(tmp / "run")
        source, store = timed("01 ensure_published (read, validate, publish)",
                              lambda: runs.ensure_published(run, mesh_spec=spec), times)
        timed("01 ensure_published again (already there)",
              lambda: runs.ensure_published(run, mesh_spec=spec), times)
        setup = timed("02 prepare (read from the store, standardize)", lambda: prepare(
            source, seed=0, frames={n: store.read(n) for n in source.training_products}), times)
        timed("02 train_local (5 epochs)",
              lambda: mk.train_local(setup.model, setup.datasets, epochs=5, seed=0), times)
        timed("03 run_federated (FedAvg, 5 rounds)", lambda: mk.run_federated(
            setup.model, setup.datasets, mk.FedAvg(), rounds=5, seed=0, progress=False), times)
        timed("03 recommender (2 rounds)",
              lambda: recommender_comparison(source, store=store, rounds=2, seed=0), times)
        entity = source.mesh.entity("member")
        copy = entity.copies[0]
        timed("04 consistency (reference vs declared copy)", lambda: mk.consistency(
            store.read(entity.reference), store.read(copy), keys=entity.keys, threshold=0.9),
            times)
        timed("04 sync (source_wins)", lambda: mk.sync(
            store, source=entity.reference, target=copy, keys=entity.keys), times)

        def security():
            walk = plan_walkthrough(source.mesh, source.frames)
            model, people = mk.SecurityModel.for_mesh(
                source.mesh, principals=walk.principals,
                policy=mk.Policy.from_dict({"grants": walk.grants}),
                source=mk.SeededKeySource(0), clock=lambda: NOW.timestamp(),
                keys_created=NOW - timedelta(days=1),
                audit_path=run.folder("05_security") / "audit.jsonl")
            secure = mk.SecureStore(run.folder("05_security") / "secure", model, reset=True)
            secure.protect(store, people)
            return secure, people, model

        secure, people, model = timed("05 protect the mesh (encrypt every product)", security,
                                      times)
        members = source.mesh.product("members")
        token = people["ana"].issue_token(audience=model.audience, now=NOW)
        timed("05 governed read (authn, authz, decrypt, mask)",
              lambda: secure.read(members, token), times)
    ratio = times["01 ensure_published (read, validate, publish)"] / \
        times["peer: polars read + deltalake write"]
    print(f"ensure_published / peer: {ratio:.2f}x (contract checks, versions, records)")
    result = {"rows_per_product": rows, "seconds": times, "publish_over_peer": round(ratio, 2),
              "python": platform.python_version(), "machine": platform.machine()}
    out = Path(__file__).parent / "results" / "bench_ownmesh.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
