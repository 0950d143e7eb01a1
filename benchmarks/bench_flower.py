"""Benchmark: a federated job on Flower's Deployment Engine against the local engine, and
meshkit's overhead over a bare Flower app with the same nodes and model.

For each number of domains: one loopback federation (a SuperLink and a SuperNode per domain),
then the same FedAvg job (logistic regression, every domain every round)

* on the **local engine** (every domain in this process): the training itself;
* on **Flower** through ``run_federated(engine="flower")``;
* as a **bare Flower app** (``bare_flower_app.py``: Flower's own FedAvg strategy, a ClientApp
  training the same model on the same data) on the same nodes;
* on **governed nodes**: a second federation whose nodes read each domain's product through
  its governed path (``SecureStore.read`` with the training service's token, as notebook 03
  does), against the local engine reading the same products. The read happens once per job,
  at discovery (``read+query``); ``governed/round`` is the job's time per round as for the
  other engines (so the ratio to ``flower/round`` is like for like), ``rounds only`` the
  rounds' own time.

Wall time (processes talk to each other; on a shared machine the neighbours count too). Where
the time goes: **start-up** (SuperLink and SuperNodes until listening), **per round** on each
engine, **per exchange** (one message to every domain and its replies: a round has two,
train and evaluate; the job's one discovery exchange, a ``query`` to every node, is spread
over the rounds) = (Flower per round - local per round) / 2, and the ratio of meshkit's
per-round time to the bare app's. Flower 1.42's nodes poll for messages every 3 s when idle
and start a ClientApp process per message: most of an exchange is that wait and that start.
Flower's ``Grid.send_and_receive`` (the bare app's) also pulls replies every 3 s; meshkit's
ServerApp pulls every 0.2 s.

    python benchmarks/bench_flower.py             # < 2 min: 2 domains, 2 rounds
    python benchmarks/bench_flower.py --governed  # and on governed nodes (about 1 min more)
    python benchmarks/bench_flower.py --full      # the issue's sizes: 2, 4, 8 domains, 3 rounds, governed too
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tempfile
from pathlib import Path
from types import SimpleNamespace

import polars as pl

from meshkit import FedAvg, LocalFederation, LogisticRegression, ProductInfo, Task, from_arrays, run_federated
from meshkit._federation.flower import domain_data
from meshkit.tutorial.engines import governed_sources

BARE = {"serverapp": "benchmarks.bare_flower_app:server_app", "clientapp": "benchmarks.bare_flower_app:client_app"}


def mesh(domains: int, rows: int, features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(domains):
        X = rng.normal(0.2 * k, 1.0, size=(rows, features))
        parts.append((X, (X[:, 0] - X[:, 1] > 0).astype(int)))
    return from_arrays(parts, names=[f"d{k}" for k in range(domains)], seed=seed)


def governed(domains: int, rows: int, features: int, folder: Path, seed: int = 0) -> dict:
    """The same draw as :func:`mesh`, each domain's rows published as a governed product."""
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(features)]
    frames, products = {}, {}
    for k in range(domains):
        X = rng.normal(0.2 * k, 1.0, size=(rows, features))
        frames[f"d{k}_rows"] = pl.DataFrame({**{c: X[:, i] for i, c in enumerate(names)},
                                             "y": (X[:, 0] - X[:, 1] > 0).astype(np.int64)})
        products[f"d{k}"] = f"d{k}_rows"
    infos = [ProductInfo(p, d, columns=(*names, "y")) for d, p in products.items()]
    source = SimpleNamespace(task=Task(names, "y", products=products), mesh=SimpleNamespace(products=lambda: infos))
    return governed_sources(source, frames, folder, standardize=False)


def one_governed(domains: int, rounds: int, rows: int, features: int) -> dict:
    model = LogisticRegression(lr=0.5, n_classes=2)
    with tempfile.TemporaryDirectory() as tmp:
        sources = governed(domains, rows, features, Path(tmp) / "gov")
        t = time.perf_counter()
        local = run_federated(model, sources, FedAvg(), rounds=rounds, progress=False)
        local_job = time.perf_counter() - t
        fed = LocalFederation({name: src.node_config(name) for name, src in sources.items()})
        try:
            fed.start()
            flower = run_federated(model, sources, FedAvg(), rounds=rounds, progress=False, engine="flower",
                                   flower={"federation": fed})
        finally:
            fed.stop()
    gap = max(abs(a - b).max() for a, b in zip(local.parameters, flower.parameters))
    return {"local_job": local_job, "read": flower.timing["discovery"],
            "governed_round": flower.timing["job"] / rounds, "round_only": float(np.mean(flower.timing["rounds"])),
            "training": float(np.mean(flower.timing["training"])), "gap": gap}


def one_size(domains: int, rounds: int, rows: int, features: int) -> dict:
    data = mesh(domains, rows, features)
    model = LogisticRegression(lr=0.5, n_classes=2)
    t = time.perf_counter()
    local = run_federated(model, data, FedAvg(), rounds=rounds, progress=False)
    local_round = (time.perf_counter() - t) / rounds
    fed = LocalFederation({})
    try:
        for name, d in data.items():
            fed.node_configs[name] = {"domain": name, "data": str(domain_data.save(d, fed.home / f"{name}.npz"))}
        t = time.perf_counter()
        fed.start()
        startup = time.perf_counter() - t
        t = time.perf_counter()
        flower = run_federated(model, data, FedAvg(), rounds=rounds, progress=False, engine="flower",
                               flower={"federation": fed})
        flower_job = time.perf_counter() - t
        t = time.perf_counter()
        run_id = fed.submit({"domains": str(domains), "features": str(features), "rounds": str(rounds)}, BARE)
        row = fed.wait(run_id, 600)
        bare_job = time.perf_counter() - t
        if row["status"] != "finished:completed":
            raise RuntimeError(f"the bare Flower app failed: {row['status']}\n{fed.log(run_id)}")
    finally:
        fed.stop()
    gap = max(abs(a - b).max() for a, b in zip(local.parameters, flower.parameters))
    return {"domains": domains, "startup": startup, "local_round": local_round,
            "flower_round": flower_job / rounds, "bare_round": bare_job / rounds,
            "exchange": (flower_job / rounds - local_round) / 2, "gap": gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="2, 4 and 8 domains, 3 rounds")
    parser.add_argument("--rows", type=int, default=400, help="rows per domain")
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--governed", action="store_true",
                        help="also on governed nodes (on by default with --full; adds a federation per size)")
    args = parser.parse_args()
    sizes, rounds = ((2, 4, 8), 3) if args.full else ((2,), 2)
    print(f"FedAvg, logistic regression, {args.rows} rows x {args.features} features per domain, {rounds} rounds; "
          "wall seconds")
    print(f"{'domains':>7} {'start-up':>9} {'local/round':>12} {'flower/round':>13} {'bare/round':>11} "
          f"{'per exchange':>13} {'flower/local':>13} {'meshkit/bare':>13} {'max |diff|':>11}")
    governed_rows = []
    for n in sizes:
        r = one_size(n, rounds, args.rows, args.features)
        print(f"{r['domains']:>7} {r['startup']:>9.2f} {r['local_round']:>12.4f} {r['flower_round']:>13.2f} "
              f"{r['bare_round']:>11.2f} {r['exchange']:>13.2f} {r['flower_round'] / r['local_round']:>12.0f}x "
              f"{r['flower_round'] / r['bare_round']:>12.2f}x {r['gap']:>11.1e}", flush=True)
        if args.governed or args.full:
            governed_rows.append((n, one_governed(n, rounds, args.rows, args.features), r))
    if not governed_rows:
        return
    print("\ngoverned nodes (each reads its product with SecureStore.read and its training token)")
    print(f"{'domains':>7} {'local job':>10} {'read+query':>11} {'governed/round':>15} {'training':>9} "
          f"{'rounds only':>12} {'governed/flower round':>22} {'max |diff|':>11}")
    for n, g, r in governed_rows:
        print(f"{n:>7} {g['local_job']:>10.3f} {g['read']:>11.2f} {g['governed_round']:>15.2f} {g['training']:>9.4f} "
              f"{g['round_only']:>12.2f} {g['governed_round'] / r['flower_round']:>21.2f}x {g['gap']:>11.1e}")


if __name__ == "__main__":
    main()
