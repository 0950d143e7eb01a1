"""Benchmark: secure aggregation against plain FedAvg, and its growth with the number of domains.

Same random float64 inputs for both. Times are this process's CPU time (``time.process_time``:
on a shared machine, wall time measures the neighbours too; ``--wall`` for wall time). Two
measurements, each the best of ``--repeat`` runs:

1. **Overhead** at ``--domains`` x ``--params`` (default 10 x 100k, the issue's size):
   ``aggregate(thetas, weights, secure=True)`` (every party's work, run one after the other
   in this process) against ``aggregate(thetas, weights)``; then the same round split by
   party: the server's own work (routing, summing, unmasking) and one domain's work (what
   each domain does in parallel on its own machine). Both rings (64 and 32 bits).
2. **Growth** of the SecAgg+ round (``O(log n)`` neighbours) from 10 to ``--max-domains``
   domains, as a ratio to 10 domains, beside the ``n log n`` and ``n^2`` ratios; and the
   complete graph of Bonawitz et al. for the smaller sizes, to show the quadratic cost it
   avoids.

    python benchmarks/bench_secagg.py            # < 2 min: growth to 40 domains
    python benchmarks/bench_secagg.py --full     # the issue's sizes: growth to 100 domains
"""

from __future__ import annotations

import argparse
import gc
import math
import time

import numpy as np

from meshkit import SecAggDomain, SecAggServer, aggregate
from meshkit._federation.secagg import default_degree


def make_inputs(domains: int, params: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = [(params // 2,), (params - params // 2,)]
    thetas = [[rng.standard_normal(s) for s in shapes] for _ in range(domains)]
    weights = rng.integers(10, 1000, size=domains).tolist()
    return thetas, weights


CLOCK = [time.process_time]


def best_time(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = CLOCK[0]()
        out = fn()
        best = min(best, CLOCK[0]() - t0)
    return best, out


def by_party(domains: int, params: int, ring_bits: int, neighbours=None):
    """One round stepped by hand: (server seconds, mean seconds per domain)."""
    rng = np.random.default_rng(1)
    x = {f"d{i:03d}": rng.standard_normal(params) for i in range(domains)}
    server_t, domain_t = 0.0, 0.0

    def srv(fn, *a):
        nonlocal server_t
        t0 = CLOCK[0]()
        out = fn(*a)
        server_t += CLOCK[0]() - t0
        return out

    def dom(fn, *a):
        nonlocal domain_t
        t0 = CLOCK[0]()
        out = fn(*a)
        domain_t += CLOCK[0]() - t0
        return out

    server = srv(lambda: SecAggServer(list(x), params, scales={n: 1 / domains for n in x},
                                      ring_bits=ring_bits, clip_range=8.0, neighbours=neighbours))
    parties = {n: SecAggDomain(n) for n in x}
    setups = srv(server.setup)
    keys = srv(server.route_keys, [dom(parties[n].advertise_keys, setups[n]) for n in x])
    fwd = srv(server.route_shares, [dom(parties[n].share_keys, keys[n]) for n in x])
    req = srv(server.collect_masked, [dom(parties[n].masked_input, fwd[n], x[n]) for n in x])
    result = srv(server.finish, [dom(parties[n].unmask, req[n]) for n in x])
    err = float(np.abs(result.total - sum(x.values()) / domains).max())
    return server_t, domain_t / domains, err, result.error_bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10)
    parser.add_argument("--params", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--growth-params", type=int, default=None,
                        help="parameters per domain in the growth series (default: --params)")
    parser.add_argument("--max-domains", type=int, default=None)
    parser.add_argument("--full", action="store_true", help="growth to 100 domains (the issue's sizes)")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    args = parser.parse_args()
    if args.wall:
        CLOCK[0] = time.perf_counter
    max_domains = args.max_domains or (100 if args.full else 40)
    growth_params = args.growth_params or args.params

    print(f"1. overhead: {args.domains} domains x {args.params} parameters (best of {args.repeat})")
    thetas, weights = make_inputs(args.domains, args.params)
    plain_t, plain = best_time(lambda: aggregate(thetas, weights), args.repeat)
    print(f"   plain FedAvg (meshkit.aggregate)            {plain_t * 1e3:9.1f} ms")
    for ring in (64, 32):
        from meshkit import SecureAggregation

        opt = SecureAggregation(ring_bits=ring, clip_range=8.0)
        sec_t, sec = best_time(lambda: aggregate(thetas, weights, secure=opt), args.repeat)
        err = max(float(np.abs(a - b).max()) for a, b in zip(sec, plain))
        server_t, domain_t, _, bound = min((by_party(args.domains, args.params, ring)
                                            for _ in range(args.repeat)), key=lambda r: r[0] + r[1])
        print(f"   secure, Z_2^{ring}, all parties in one process {sec_t * 1e3:9.1f} ms  "
              f"ratio {sec_t / plain_t:6.1f}x   max |secure - plain| {err:.2e} (bound {bound:.2e})")
        print(f"      server's own work                        {server_t * 1e3:9.1f} ms  "
              f"ratio {server_t / plain_t:6.1f}x")
        print(f"      one domain's work (in parallel)          {domain_t * 1e3:9.1f} ms  "
              f"ratio {domain_t / plain_t:6.1f}x")

    print(f"\n2. growth: SecAgg+ graph, {growth_params} parameters per domain, Z_2^64")
    sizes = [n for n in (10, 20, 40, 70, 100) if n <= max_domains]
    base = None
    print(f"   {'n':>4} {'degree':>6} {'seconds':>8} {'t(n)/t(10)':>10} {'nlogn ratio':>11} {'n^2 ratio':>9}"
          f" {'complete graph s':>16}")
    for n in sizes:
        s_t, d_t, _, _ = min((by_party(n, growth_params, 64) for _ in range(args.repeat)),
                             key=lambda r: r[0] + r[1] * n)
        total = s_t + d_t * n
        base = base or total
        ref = n * math.log(n) / (10 * math.log(10))
        complete = ""
        if n <= 20 or (args.full and n <= 40):
            cs, cd, _, _ = by_party(n, growth_params, 64, neighbours=n - 1)
            complete = f"{cs + cd * n:16.2f}"
        print(f"   {n:>4} {default_degree(n):>6} {total:8.2f} {total / base:10.2f} {ref:11.2f} {(n / 10) ** 2:9.2f}"
              f" {complete}")


if __name__ == "__main__":
    main()
