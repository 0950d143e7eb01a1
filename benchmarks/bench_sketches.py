"""Federated profiles at scale: time and size per domain, and the estimate error.

Two domains each hold ``n`` rows (a key, 2 numeric columns, 1 categorical; 80% of the keys
shared, the second domain's numbers shifted). Each domain profiles its product
(:func:`meshkit._consistency.profile`, or :func:`~meshkit._consistency.profile_parquet`
streaming the file in batches for the largest size); similarity is then computed from the two
profiles alone and compared with the exact figures:

- key Jaccard: exact value known by construction, against the theta estimate and bounds;
- KS statistic per numeric column: exact (sorted columns, equal to scipy's) against the KLL
  estimate and its bound ``eps_1 + eps_2``.

The peer is the exact computation on the pooled rows (what federated profiles avoid): its time
is reported next to the profile time. Sizes up to 10M are generated in memory; the 100M case is
written to a temporary Parquet file per domain, streamed, and deleted afterwards. Each size runs
in its own process so peak memory (max RSS, measured right after profiling) is per size.

    .venv/bin/python benchmarks/bench_sketches.py [--sizes 1000000 10000000 100000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
NUMERIC = ["x", "y"]
STREAM_FROM = 50_000_000      # at or above this many rows, the product is streamed from disk
CHUNK = 5_000_000


def chunk_frame(start: int, rows: int, side: int, seed: int):
    import polars as pl

    rng = np.random.default_rng([seed, side, start])
    return pl.DataFrame({
        "id": np.arange(start, start + rows, dtype=np.int64),
        "x": rng.normal(0.1 * side, 1.0, rows),
        "y": rng.lognormal(1.0 + 0.05 * side, 0.5, rows),
        "segment": np.array([f"s{j:02d}" for j in range(20)])[rng.integers(0, 20, rows)],
    })


def domain_chunks(n: int, side: int, seed: int):
    """The domain's rows in chunks; domain 1's keys start at n/5 (80% shared with domain 0)."""
    offset = 0 if side == 0 else n // 5
    for start in range(0, n, CHUNK):
        yield chunk_frame(offset + start, min(CHUNK, n - start), side, seed)


def worker(n: int, seed: int, stream_from: int = STREAM_FROM) -> dict:
    import polars as pl

    from meshkit import profile, profile_parquet, similarity_from_profiles
    from meshkit import metrics

    streamed = n >= stream_from
    tmp = tempfile.TemporaryDirectory(prefix="bench_sketches_")
    profiles, seconds, paths, frames = [], [], [], []
    for side in (0, 1):
        if streamed:
            path = Path(tmp.name) / f"domain_{side}.parquet"
            import pyarrow.parquet as pq
            writer = None
            for chunk in domain_chunks(n, side, seed):
                table = chunk.to_arrow()
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
            writer.close()
            paths.append(path)
            t0 = time.perf_counter()
            profiles.append(profile_parquet(path, "id", name=f"domain{side}", batch_rows=CHUNK))
        else:
            frame = pl.concat(list(domain_chunks(n, side, seed)))
            frames.append(frame)
            t0 = time.perf_counter()
            profiles.append(profile(frame, "id", name=f"domain{side}"))
        seconds.append(time.perf_counter() - t0)
    peak_after_profiling = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    report = similarity_from_profiles(*profiles)
    compare_seconds = time.perf_counter() - t0

    # exact figures, on the pooled rows (what the profiles avoid)
    t0 = time.perf_counter()
    exact_jaccard = (n - n // 5) / (n + n // 5)
    exact_ks = {}
    for column in NUMERIC:
        if streamed:
            cols = [pl.scan_parquet(p).select(column).collect().to_series() for p in paths]
        else:
            cols = [f.get_column(column) for f in frames]
        a, b = (c.sort().to_numpy() for c in cols)
        exact_ks[column] = metrics.ks_2samp(None, None, pair=metrics.sorted_pair(a, b, presorted=True)).statistic
        del a, b, cols
    exact_seconds = time.perf_counter() - t0
    tmp.cleanup()

    keys = report.layers["keys"]
    lo, hi = keys.details["jaccard_bounds"]
    dist = report.layers["distributions"]
    bounds = dist.details["ks_error_bound"]
    ks_rows = []
    for column in NUMERIC:
        est = dist.evidence.filter(pl.col("column") == column)["ks_statistic"].item()
        ks_rows.append({"column": column, "exact": exact_ks[column], "estimate": est,
                        "error": abs(est - exact_ks[column]), "bound": bounds[column],
                        "within": abs(est - exact_ks[column]) <= bounds[column]})
    return {
        "rows_per_domain": n, "streamed": streamed,
        "profile_seconds": seconds, "profile_bytes": [p.size_bytes() for p in profiles],
        "compare_seconds": compare_seconds, "exact_seconds": exact_seconds,
        "peak_rss_mb_after_profiling": peak_after_profiling,
        "jaccard": {"exact": exact_jaccard, "estimate": keys.score, "lower": lo, "upper": hi,
                    "within": lo <= exact_jaccard <= hi},
        "ks": ks_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 100_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stream-from", type=int, default=STREAM_FROM,
                        help="stream products of at least this many rows from Parquet files")
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.seed, args.stream_from)))
        return
    results = []
    for n in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--worker", str(n), "--seed", str(args.seed),
                               "--stream-from", str(args.stream_from)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
            raise SystemExit(f"size {n} failed")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        ks = "; ".join(f"KS {k['column']}: |{k['estimate']:.4f} - {k['exact']:.4f}| = "
                       f"{k['error']:.4f} <= {k['bound']:.4f}: {k['within']}" for k in r["ks"])
        j = r["jaccard"]
        print(f"{n:>12,} rows/domain{' (streamed)' if r['streamed'] else ''}: profile "
              f"{r['profile_seconds'][0]:.1f} s + {r['profile_seconds'][1]:.1f} s, "
              f"{r['profile_bytes'][0] / 1024:.0f} KiB + {r['profile_bytes'][1] / 1024:.0f} KiB; "
              f"compare {r['compare_seconds']:.3f} s vs exact KS on pooled rows "
              f"{r['exact_seconds']:.1f} s ({r['exact_seconds'] / r['compare_seconds']:.0f}x); "
              f"peak RSS {r['peak_rss_mb_after_profiling']:.0f} MB")
        print(f"{'':>25}Jaccard {j['estimate']:.4f} in [{j['lower']:.4f}, {j['upper']:.4f}] "
              f"(exact {j['exact']:.4f}: {j['within']}); {ks}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_sketches.json").write_text(json.dumps(
        {"seed": args.seed, "results": results, "python": platform.python_version(),
         "machine": platform.machine()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
