"""Benchmark: meshkit.aggregate against Flower's ``flwr.server.strategy.aggregate`` functions.

Same random float32 inputs for both (``domains`` x ``params``, split into three layers like a
small MLP); each timing is the best of ``--repeat`` runs. Prints the Flower / meshkit time
ratio (> 1: meshkit faster) and writes ``benchmarks/results/bench_aggregate.json``.

    .venv/bin/python benchmarks/bench_aggregate.py            # 100 x 1M, Krum also at 50
    .venv/bin/python benchmarks/bench_aggregate.py --params 100000 --repeat 1   # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
from pathlib import Path

import numpy as np

from meshkit import aggregate


def layer_shapes(params: int) -> list[tuple[int, ...]]:
    """Three layers totalling ``params`` values: ``(784, h)``, ``(h,)``, ``(h, rest)``."""
    h = max(1, params // 1000)
    first = 784 * h
    rest = max(1, (params - first - h) // h)
    shapes = [(784, h), (h,), (h, rest)]
    return shapes


def make_inputs(domains: int, params: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = layer_shapes(params)
    thetas = [[rng.standard_normal(s, dtype=np.float32) for s in shapes] for _ in range(domains)]
    weights = rng.integers(10, 1000, size=domains).tolist()
    return thetas, weights


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def close(a, b, exact=False) -> bool:
    if exact:
        return all(np.array_equal(x, y) for x, y in zip(a, b))
    return all(np.allclose(x, y, rtol=1e-4, atol=1e-5) for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--krum-domains", type=int, default=50)
    parser.add_argument("--params", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default="fedavg,median,trimmed_mean,krum",
                        help="comma-separated subset of the methods to run")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_aggregate.json"))
    args = parser.parse_args()

    import flwr
    from flwr.server.strategy import aggregate as fa

    thetas, weights = make_inputs(args.domains, args.params)
    n_params = sum(int(np.prod(a.shape)) for a in thetas[0])
    fa_list = list(zip(thetas, weights))
    cases = [
        ("fedavg", args.domains, lambda: aggregate(thetas, weights, "fedavg"),
         lambda: fa.aggregate(fa_list), False),
        ("median", args.domains, lambda: aggregate(thetas, weights, "median"),
         lambda: fa.aggregate_median(fa_list), False),
        ("trimmed_mean", args.domains, lambda: aggregate(thetas, weights, "trimmed_mean", beta=0.1),
         lambda: fa.aggregate_trimmed_avg(fa_list, 0.1), False),
        ("krum", args.domains, lambda: aggregate(thetas, weights, "krum", f=args.domains // 10),
         lambda: fa.aggregate_krum(fa_list, num_malicious=args.domains // 10, to_keep=0), True),
    ]
    k = args.krum_domains
    cases.append(("krum", k, lambda: aggregate(thetas[:k], weights[:k], "krum", f=k // 10),
                  lambda: fa.aggregate_krum(fa_list[:k], num_malicious=k // 10, to_keep=0), True))
    wanted = set(args.methods.split(","))
    cases = [c for c in cases if c[0] in wanted]
    best_time(lambda: aggregate(thetas[:2], weights[:2]), 1)  # warm up BLAS threads
    rows = []
    print(f"meshkit.aggregate vs flwr {flwr.__version__} aggregate functions; "
          f"{n_params:,} float32 parameters per domain; best of {args.repeat}")
    print(f"{'method':<14}{'domains':>8}{'meshkit s':>12}{'flower s':>12}{'ratio':>9}  same result")
    for name, n, ours, theirs, exact in cases:
        t_ours, out_ours = best_time(ours, args.repeat)
        # Flower's pairwise Krum is slow: time it once
        t_flwr, out_flwr = best_time(theirs, 1 if name == "krum" else args.repeat)
        same = close(out_ours, out_flwr, exact)
        rows.append({"method": name, "domains": n, "params": n_params, "meshkit_s": t_ours,
                     "flower_s": t_flwr, "speedup": t_flwr / t_ours, "same_result": same})
        print(f"{name:<14}{n:>8}{t_ours:>12.4f}{t_flwr:>12.4f}{t_flwr / t_ours:>8.1f}x  {same}")
        del out_ours, out_flwr
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "aggregate", "peer": f"flwr {flwr.__version__}",
                               "numpy": np.__version__, "python": platform.python_version(),
                               "repeat": args.repeat, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out.name}")


if __name__ == "__main__":
    main()
