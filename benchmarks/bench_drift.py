"""Drift between domains: meshkit against Evidently and pandas + scipy; profiles; incremental sync.

Three measurements, in one run, each implementation in its own fresh process (peak memory is
that process's max RSS, files read included; times exclude reading the files):

1. **Drift report** of two products (``--rows``; 10M with ``--full``): meshkit's
   distributions layer (the drift report; ``similarity`` with all four layers is timed too)
   against Evidently's data-drift report
   (``Report([DataDriftPreset()])``) and against the same default rules written with pandas +
   scipy. Prints times, ratios, peak memory and how many column verdicts agree with Evidently.
   Evidently needs pandas < 3, so it runs under the interpreter given by ``--evidently-python``
   (an environment with the ``reference`` extra); without one, that row is left out and said so.
2. **Profiles**: build a profile from a Parquet file streamed in batches (``--profile-rows``;
   100M with ``--full``): MB/s of Parquet per CPU-second, the profile's size, and the time to
   compare two profiles.
3. **Incremental sync**: a 1 % change (a MERGE of updates and inserts) to a product of
   ``--sync-rows`` rows (10M with ``--full``), synced from the change feed against a full sync.

    .venv/bin/python benchmarks/bench_drift.py [--full] [--evidently-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = {"n_shift": "numeric", "n_scale": "numeric", "n_same": "numeric", "n_few": "numeric",
         "n_binary": "numeric", "c_small": "categorical", "c_new": "categorical"}


def generate(rows: int, seed: int, folder: Path) -> tuple[Path, Path]:
    """Two products with drift in some columns, as Parquet."""
    import polars as pl

    rng = np.random.default_rng(seed)
    paths = []
    for side in (0, 1):
        cols = {"id": np.arange(side * rows // 20, side * rows // 20 + rows, dtype=np.int64),
                "n_shift": rng.normal(0.15 * side, 1.0, rows),
                "n_scale": rng.normal(0.0, 1.0 + 0.05 * side, rows),
                "n_same": rng.gamma(2.0, 1.0, rows),
                "n_few": rng.choice(4, rows, p=[0.4, 0.3, 0.2, 0.1] if not side
                                    else [0.3, 0.3, 0.2, 0.2]).astype(np.float64),
                "n_binary": (rng.random(rows) < 0.3).astype(np.float64)}
        small = np.array(["a", "b", "c"])[rng.choice(3, rows, p=[0.5, 0.3, 0.2])]
        new = np.array(["x", "y", "z", "new"])[rng.choice(4, rows, p=[0.5, 0.3, 0.2, 0.0] if not side
                                                             else [0.45, 0.3, 0.2, 0.05])]
        frame = pl.DataFrame(cols).with_columns(pl.Series("c_small", small), pl.Series("c_new", new))
        path = folder / f"product_{side}.parquet"
        frame.write_parquet(path, row_group_size=1_000_000)
        paths.append(path)
    return paths[0], paths[1]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_meshkit(a: Path, b: Path) -> dict:
    import polars as pl

    import meshkit as mk

    from meshkit._consistency import layers

    left, right = pl.read_parquet(a), pl.read_parquet(b)
    start = time.perf_counter()
    pairs, _, _ = layers.match_columns(dict(left.schema), dict(right.schema))
    layer = layers.distribution_layer(left, right, ["id"], pairs)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    mk.similarity(left, right, keys="id")  # all four layers: schema, keys, values, drift
    all_layers = time.perf_counter() - start
    ev = layer.evidence
    return {"seconds": seconds, "all_layers_seconds": all_layers,
            "verdicts": dict(zip(ev["column"].to_list(), ev["drift"].to_list())),
            "tests": dict(zip(ev["column"].to_list(), ev["test"].to_list()))}


def worker_evidently(a: Path, b: Path) -> dict:
    import warnings

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(a), pd.read_parquet(b)
    definition = DataDefinition(
        numerical_columns=[c for c, k in KINDS.items() if k == "numeric"],
        categorical_columns=[c for c, k in KINDS.items() if k == "categorical"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset(columns=list(KINDS))]).run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition))
    seconds = time.perf_counter() - start
    verdicts, tests = {}, {}
    for m in snapshot.dict()["metrics"]:
        config = m["config"]
        if not m["metric_name"].startswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], m["value"]
        p_value = "p_value" in method
        strict = method != "K-S p_value"  # Evidently's KS drifts at p <= t, the others at p < t
        verdicts[config["column"]] = bool(value < threshold if p_value and strict else
                                          value <= threshold if p_value else value >= threshold)
        tests[config["column"]] = method
    return {"seconds": seconds, "verdicts": verdicts, "tests": tests}


def worker_scipy(a: Path, b: Path) -> dict:
    """Evidently's default rules by hand with pandas + scipy (the 'as today' peer)."""
    import pandas as pd
    from scipy import stats
    from scipy.spatial import distance

    ref, cur = pd.read_parquet(a), pd.read_parquet(b)
    start = time.perf_counter()
    verdicts, tests = {}, {}
    for column, kind in KINDS.items():
        r, c = ref[column].dropna(), cur[column].dropna()
        distinct = pd.concat([r, c]).nunique()
        counted = kind == "categorical" or distinct <= 5
        if counted:
            rc = r.value_counts()
            cc = c.value_counts()
            values = rc.index.union(cc.index)
            rc, cc = rc.reindex(values, fill_value=0), cc.reindex(values, fill_value=0)
        if len(r) <= 1000 and counted and distinct <= 2:
            p1, p2 = (r != values[0]).mean(), (c != values[0]).mean()
            pooled = (p1 * len(r) + p2 * len(c)) / (len(r) + len(c))
            z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(r) + 1 / len(c)))
            tests[column], verdicts[column] = "z", bool(2 * stats.norm.sf(abs(z)) < 0.05)
        elif len(r) <= 1000 and counted:
            p = stats.chisquare(cc, rc * len(c) / len(r)).pvalue
            tests[column], verdicts[column] = "chisquare", bool(p < 0.05)
        elif len(r) <= 1000:
            tests[column], verdicts[column] = "ks", bool(stats.ks_2samp(r, c).pvalue <= 0.05)
        elif counted:
            js = distance.jensenshannon(rc / len(r), cc / len(c))
            tests[column], verdicts[column] = "jensenshannon", bool(js >= 0.1)
        else:
            w = stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
            tests[column], verdicts[column] = "wasserstein", bool(w >= 0.1)
    return {"seconds": time.perf_counter() - start, "verdicts": verdicts, "tests": tests}


def worker_profile(path: Path, other: Path) -> dict:
    import meshkit as mk
    from meshkit._consistency.sketches import profile_parquet

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    p = profile_parquet(path, "id")
    seconds = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    q = profile_parquet(other, "id")
    start = time.perf_counter()
    report = mk.similarity(p, q)
    compare = time.perf_counter() - start
    mb = path.stat().st_size / 1e6
    ev = report.layers["distributions"].evidence
    return {"seconds": seconds, "cpu_seconds": cpu, "parquet_mb": mb, "mb_per_s": mb / seconds,
            "mb_per_cpu_s": mb / cpu, "profile_bytes": p.size_bytes(), "compare_seconds": compare,
            "verdicts": dict(zip(ev["column"].to_list(), ev["verdict"].to_list()))}


def worker_sync(rows: int, folder: Path) -> dict:
    import polars as pl
    from deltalake import DeltaTable

    from meshkit import ProductStore, sync

    rng = np.random.default_rng(1)
    store = ProductStore(folder / "store")
    frame = pl.DataFrame({"id": np.arange(rows, dtype=np.int64), "v": rng.normal(size=rows),
                          "n": rng.integers(0, 100, rows)})
    store.publish("src", frame)
    store.publish("inc", frame)
    store.publish("full", frame)
    # bring both targets to "synced from src" (one changed row, so each sync commits)
    change = frame.head(1).with_columns(pl.col("v") + 1)
    DeltaTable(store.table_uri("src")).merge(change.to_arrow(), "t.id = s.id", source_alias="s",
                                             target_alias="t").when_matched_update_all().execute()
    sync(store, "src", "inc", keys="id")
    sync(store, "src", "full", keys="id", incremental=False)
    # a 1 % change: half updates of existing rows, half new rows
    k = rows // 100
    upd = frame.sample(k // 2, seed=2).with_columns(pl.col("v") * 2)
    new = pl.DataFrame({"id": np.arange(rows, rows + k - k // 2, dtype=np.int64),
                        "v": rng.normal(size=k - k // 2), "n": rng.integers(0, 100, k - k // 2)})
    DeltaTable(store.table_uri("src")).merge(pl.concat([upd, new]).to_arrow(), "t.id = s.id",
                                             source_alias="s", target_alias="t") \
        .when_matched_update_all().when_not_matched_insert_all().execute()
    start = time.perf_counter()
    inc = sync(store, "src", "inc", keys="id")
    t_inc = time.perf_counter() - start
    start = time.perf_counter()
    full = sync(store, "src", "full", keys="id", incremental=False)
    t_full = time.perf_counter() - start
    same = store.read("inc").sort("id").equals(store.read("full").sort("id"))
    return {"incremental_seconds": t_inc, "full_seconds": t_full, "mode": inc.mode,
            "incremental_rows_read": inc.source_rows_read, "full_rows_read": full.source_rows_read,
            "same_target": same, "changed_rows": k}


def run_worker(python: str, name: str, *args) -> dict | None:
    out = subprocess.run([python, __file__, "--worker", name, *map(str, args)],
                         capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    if out.returncode != 0:
        print(f"  {name} failed: {out.stderr.strip().splitlines()[-1] if out.stderr else '?'}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the issue's sizes: 10M / 100M / 10M rows")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--profile-rows", type=int, default=None)
    ap.add_argument("--sync-rows", type=int, default=None)
    ap.add_argument("--evidently-python", default=None,
                    help="an interpreter with Evidently 0.7.23 (the reference extra)")
    ap.add_argument("--only", choices=["drift", "profile", "sync"], action="append",
                    help="run only these parts (repeatable); all three by default")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        name, *rest = args.worker
        fn = {"meshkit": worker_meshkit, "evidently": worker_evidently, "scipy": worker_scipy,
              "profile": worker_profile}.get(name)
        result = worker_sync(int(rest[0]), Path(rest[1])) if name == "sync" \
            else fn(*map(Path, rest))
        print(json.dumps(result | {"peak_mb": _peak_mb()}))
        return
    rows = args.rows or (10_000_000 if args.full else 300_000)
    prows = args.profile_rows or (100_000_000 if args.full else 3_000_000)
    srows = args.sync_rows or (10_000_000 if args.full else 1_000_000)
    parts = set(args.only or ["drift", "profile", "sync"])
    results = {"rows": rows, "profile_rows": prows, "sync_rows": srows, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "drift" in parts:
            results["drift"] = drift_part(args, rows, folder)
        if "profile" in parts:
            results["profile"] = profile_part(prows, folder)
        if "sync" in parts:
            results["sync"] = sync_part(srows, folder)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_drift.json").write_text(json.dumps(results, indent=2))


def drift_part(args, rows: int, folder: Path) -> dict:
    a, b = generate(rows, 0, folder)
    print(f"drift report, two products of {rows:,} rows, {len(KINDS)} columns", flush=True)
    runs = {"meshkit": run_worker(sys.executable, "meshkit", a, b),
            "pandas+scipy": run_worker(sys.executable, "scipy", a, b)}
    if args.evidently_python:
        runs["evidently"] = run_worker(args.evidently_python, "evidently", a, b)
    else:
        print("  evidently: not run (give --evidently-python, an environment with the "
              "reference extra)")
    base = runs["meshkit"]
    reference = runs.get("evidently") or runs["pandas+scipy"]
    if base:
        print(f"  meshkit similarity, all four layers: {base['all_layers_seconds']:.2f} s")
    for name, r in runs.items():
        if r is None:
            continue
        agree = sum(r["verdicts"][c] == reference["verdicts"][c] for c in KINDS)
        print(f"  {name:13s} {r['seconds']:8.2f} s  x{r['seconds'] / base['seconds']:6.2f} "
              f"of meshkit  peak {r['peak_mb']:7.0f} MB  verdicts agreeing with "
              f"{'Evidently' if 'evidently' in runs else 'pandas+scipy'}: {agree}/{len(KINDS)}",
              flush=True)
    for f in folder.glob("*.parquet"):
        f.unlink()
    return runs


def profile_part(prows: int, folder: Path) -> dict | None:
    pa_, pb_ = generate(prows, 1, folder) if prows <= 20_000_000 else _big(prows, folder)
    r = run_worker(sys.executable, "profile", pa_, pb_)
    if r:
        print(f"profile of {prows:,} rows streamed from Parquet ({r['parquet_mb']:.0f} MB): "
              f"{r['seconds']:.1f} s, {r['mb_per_s']:.1f} MB/s, {r['mb_per_cpu_s']:.1f} MB per "
              f"CPU-second; profile {r['profile_bytes'] / 1024:.1f} KiB; compare two profiles "
              f"{r['compare_seconds'] * 1000:.0f} ms; peak {r['peak_mb']:.0f} MB", flush=True)
    for f in folder.glob("*.parquet"):
        f.unlink()
    return r


def sync_part(srows: int, folder: Path) -> dict | None:
    r = run_worker(sys.executable, "sync", srows, folder)
    if r:
        print(f"sync of a 1 % change ({r['changed_rows']:,} rows) to {srows:,} rows: "
              f"incremental {r['incremental_seconds']:.2f} s ({r['incremental_rows_read']:,} "
              f"source rows read), full {r['full_seconds']:.2f} s ({r['full_rows_read']:,}); "
              f"full / incremental x{r['full_seconds'] / r['incremental_seconds']:.1f}; "
              f"same target: {r['same_target']}", flush=True)
    return r


def _big(rows: int, folder: Path) -> tuple[Path, Path]:
    """Products too large for memory at once: written in 10M-row parts of one file each."""
    import pyarrow.parquet as pq
    import polars as pl

    paths = []
    for side in (0, 1):
        path = folder / f"product_{side}.parquet"
        writer = None
        for start in range(0, rows, 10_000_000):
            rng = np.random.default_rng(side * 1000 + start)
            n = min(10_000_000, rows - start)
            frame = pl.DataFrame({"id": np.arange(start, start + n, dtype=np.int64),
                                  "n_shift": rng.normal(0.15 * side, 1.0, n),
                                  "n_few": rng.choice(4, n).astype(np.float64),
                                  "c_small": np.array(["a", "b", "c"])[rng.choice(3, n)]}).to_arrow()
            writer = writer or pq.ParquetWriter(path, frame.schema)
            writer.write_table(frame, row_group_size=1_000_000)
        writer.close()
        paths.append(path)
    return paths[0], paths[1]


if __name__ == "__main__":
    main()
