"""Full similarity (all four layers) of two large products: meshkit vs pandas + scipy.

Two seeded products of ``--rows`` rows each (a key, 5 numeric and 3 categorical columns; 95%
of the keys shared, some values changed, some distributions shifted) are written to Parquet
once. Each implementation then runs in its own fresh process, reads both files and computes
the same figures: schema correspondence, key Jaccard and containment, per-column value
agreement on shared keys, and per column KS statistic and p-value, Wasserstein distance (raw
and normalized), PSI (numeric), Jensen–Shannon distance and chi-square (categorical).

The peer is what one would write with pandas and scipy: ``pd.merge`` for the keys and values,
``scipy.stats.ks_2samp`` / ``wasserstein_distance`` / ``chi2_contingency`` and
``scipy.spatial.distance.jensenshannon`` for the distributions. The script checks that both
find the same figures, then prints compute times (reading the files excluded), the ratio
peer / meshkit and each process's peak memory (max RSS, files read included), and writes
``benchmarks/results/bench_similarity.json``.

    .venv/bin/python benchmarks/bench_similarity.py [--rows 10000000] [--seed 0]
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

NUMERIC = ["n1", "n2", "n3", "n4", "n5"]
CATEGORICAL = ["c1", "c2", "c3"]
KEY = "id"
RESULTS = Path(__file__).resolve().parent / "results"


def generate(rows: int, seed: int, folder: Path) -> tuple[Path, Path]:
    """Write the two products as Parquet; returns their paths."""
    import polars as pl

    rng = np.random.default_rng(seed)
    paths = []
    for side in (0, 1):
        start = 0 if side == 0 else rows // 20            # 95% of the keys shared
        cols = {KEY: np.arange(start, start + rows, dtype=np.int64)}
        for i, c in enumerate(NUMERIC):
            shift = 0.05 * i * side                        # growing shifts on the right
            cols[c] = rng.normal(shift, 1.0 + 0.02 * i * side, rows)
        for i, c in enumerate(CATEGORICAL):
            k = (5, 20, 100)[i]
            p = np.linspace(1, 2 + side * i, k)
            idx = rng.choice(k, rows, p=p / p.sum())
            cols[c] = np.array([f"{c}_{j:03d}" for j in range(k)])[idx]
        frame = pl.DataFrame(cols)
        path = folder / f"product_{side}.parquet"
        frame.write_parquet(path, row_group_size=1_000_000)
        paths.append(path)
        del frame, cols
    return paths[0], paths[1]


def run_meshkit(left_path: str, right_path: str) -> dict:
    import polars as pl

    from meshkit import similarity

    left, right = pl.read_parquet(left_path), pl.read_parquet(right_path)
    t0 = time.perf_counter()
    rep = similarity(left, right, keys=KEY)
    seconds = time.perf_counter() - t0
    dist = rep.layers["distributions"].evidence
    figures = {
        "jaccard": rep.layers["keys"].score,
        "agreement": dict(rep.layers["values"].evidence.select("column", "agreement").iter_rows()),
        "ks": dict(dist.select("column", "ks_statistic").drop_nulls().iter_rows()),
        "ks_p": dict(dist.select("column", "ks_pvalue").drop_nulls().iter_rows()),
        "wasserstein": dict(dist.select("column", "wasserstein").drop_nulls().iter_rows()),
        "psi": dict(dist.select("column", "psi").drop_nulls().iter_rows()),
        "js": dict(dist.select("column", "jensen_shannon").drop_nulls().iter_rows()),
        "chi2": dict(dist.select("column", "chi_square").drop_nulls().iter_rows()),
    }
    return {"seconds": seconds, "figures": figures}


def run_pandas(left_path: str, right_path: str) -> dict:
    import pandas as pd
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    left, right = pd.read_parquet(left_path), pd.read_parquet(right_path)
    t0 = time.perf_counter()
    # schema
    shared_cols = [c for c in left.columns if c in right.columns]
    _types = {c: (left[c].dtype, right[c].dtype) for c in shared_cols}
    # keys
    shared = len(pd.Index(left[KEY]).intersection(pd.Index(right[KEY])))
    jaccard = shared / (len(left) + len(right) - shared)
    # values
    joined = left.merge(right, on=KEY, how="inner", suffixes=("_l", "_r"))
    agreement = {}
    for c in NUMERIC:
        agreement[c] = float(np.mean(np.abs(joined[c + "_l"] - joined[c + "_r"])
                                     <= 1e-9 + 1e-9 * np.abs(joined[c + "_l"])))
    for c in CATEGORICAL:
        agreement[c] = float((joined[c + "_l"] == joined[c + "_r"]).mean())
    # distributions
    ks, ks_p, wd, psi, js, chi2 = {}, {}, {}, {}, {}, {}
    for c in NUMERIC:
        a, b = left[c].dropna().to_numpy(), right[c].dropna().to_numpy()
        r = stats.ks_2samp(a, b)
        ks[c], ks_p[c] = float(r.statistic), float(r.pvalue)
        wd[c] = float(stats.wasserstein_distance(a, b))
        edges = np.unique(np.quantile(a, np.linspace(0, 1, 11)[1:-1]))
        bins = np.concatenate([[-np.inf], edges, [np.inf]])
        ra = np.histogram(a, bins)[0] / a.size
        rb = np.histogram(b, bins)[0] / b.size
        ra, rb = np.where(ra == 0, 1e-4, ra), np.where(rb == 0, 1e-4, rb)
        psi[c] = float(np.sum((rb - ra) * np.log(rb / ra)))
    for c in CATEGORICAL:
        counts = pd.concat([left[c].value_counts(), right[c].value_counts()], axis=1).fillna(0)
        js[c] = float(jensenshannon(counts.iloc[:, 0], counts.iloc[:, 1]))
        chi2[c] = float(stats.chi2_contingency(counts.T.to_numpy(), correction=False).statistic)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "figures": {"jaccard": jaccard, "agreement": agreement, "ks": ks,
                                            "ks_p": ks_p, "wasserstein": wd, "psi": psi,
                                            "js": js, "chi2": chi2}}


def worker(which: str, left: str, right: str) -> None:
    out = (run_meshkit if which == "meshkit" else run_pandas)(left, right)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def spawn(which: str, left: Path, right: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", which, str(left), str(right)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: dict, peer: dict) -> float:
    """Largest absolute difference between the two implementations' figures."""
    worst = abs(ours["jaccard"] - peer["jaccard"])
    for name in ("agreement", "ks", "ks_p", "wasserstein", "psi", "js", "chi2"):
        for c, v in peer[name].items():
            scale = max(1.0, abs(v)) if name == "chi2" else 1.0   # chi-square: relative
            worst = max(worst, abs(ours[name][c] - v) / scale)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=3, metavar=("WHICH", "LEFT", "RIGHT"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    with tempfile.TemporaryDirectory(prefix="bench_similarity_") as tmp:
        t0 = time.perf_counter()
        left, right = generate(args.rows, args.seed, Path(tmp))
        print(f"generated 2 x {args.rows:,} rows in {time.perf_counter() - t0:.1f} s")
        ours = spawn("meshkit", left, right)
        print(f"meshkit       : {ours['seconds']:8.2f} s   peak RSS {ours['peak_rss_mb']:8.0f} MB")
        peer = spawn("pandas", left, right)
        print(f"pandas + scipy: {peer['seconds']:8.2f} s   peak RSS {peer['peak_rss_mb']:8.0f} MB")
    ratio = peer["seconds"] / ours["seconds"]
    diff = compare(ours["figures"], peer["figures"])
    print(f"speed-up (pandas+scipy / meshkit): {ratio:.1f}x; "
          f"memory ratio: {peer['peak_rss_mb'] / ours['peak_rss_mb']:.2f}x; "
          f"largest difference between the figures: {diff:.2e}")
    RESULTS.mkdir(exist_ok=True)
    result = {"rows": args.rows, "seed": args.seed, "meshkit": ours, "pandas_scipy": peer,
              "speedup": ratio, "max_figure_difference": diff,
              "python": platform.python_version(), "machine": platform.machine()}
    (RESULTS / "bench_similarity.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
