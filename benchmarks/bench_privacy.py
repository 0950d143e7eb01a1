"""Benchmark: DP-SGD against plain SGD, and meshkit's DP wrappers against Flower's on the same updates.

1. One local epoch of DP-SGD (per-example clipping + CSPRNG Gaussian noise) against one
   plain epoch of the same model on the same data and batch order, for meshkit's
   LogisticRegression and MLPClassifier (goal: DP-SGD under 3x the plain epoch).
2. Server-side DP on identical client updates, meshkit against Flower's
   ``DifferentialPrivacyServerSideFixedClipping`` / ``...AdaptiveClipping``:
   - fixed clipping: the clipped mean (noise off: the two must agree) and the measured
     noise standard deviation (noise on: both ``z * C / num_sampled``);
   - ε: Flower has no accountant; meshkit's ε is dp-accounting's for the same events, shown
     beside the value dp-accounting gives directly;
   - adaptive clipping: the clip-norm trajectory over rounds of updates whose norms sit
     around 1 with the count noise off, starting from C = 0.1 (Andrew et al.'s default):
     Andrew et al.'s rule raises C towards the median norm; Flower's trajectory is printed
     beside it.

    python benchmarks/bench_privacy.py            # short (< 1 min)
    python benchmarks/bench_privacy.py --full     # 100k rows, 100 features, 50 rounds

Writes ``benchmarks/results/bench_privacy.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import time
from pathlib import Path

import numpy as np

from meshkit import DPSGD, DPAdaptiveClipping, DPFixedClipping, FedAvg, LogisticRegression, MLPClassifier, dp_epsilon


def best_time(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_dpsgd(rows, features, classes, batch, repeat):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, features))
    y = rng.integers(0, classes, rows)
    out = []
    print(f"\n1. one local epoch, {rows:,} rows x {features} features, {classes} classes, batch {batch}")
    print(f"{'model':<22}{'plain s':>10}{'DP-SGD s':>10}{'ratio':>8}   goal < 3x")
    for name, make in (("LogisticRegression", lambda dp: LogisticRegression(n_classes=classes, batch_size=batch,
                                                                             dp=dp)),
                       ("MLPClassifier(h=64)", lambda dp: MLPClassifier(hidden=64, n_classes=classes,
                                                                        batch_size=batch, dp=dp))):
        def run(dp):
            model = make(dp).init_parameters(features, classes)
            return model.fit(X, y, epochs=1)

        t_plain, _ = best_time(lambda: run(None), repeat)
        t_dp, model = best_time(lambda: run(DPSGD(clip_norm=1.0, noise_multiplier=1.1)), repeat)
        eps = model.epsilon()
        out.append({"model": name, "plain_s": t_plain, "dpsgd_s": t_dp, "ratio": t_dp / t_plain,
                    "epsilon_one_epoch": eps})
        print(f"{name:<22}{t_plain:>10.3f}{t_dp:>10.3f}{t_dp / t_plain:>7.2f}x   "
              f"(ε after the epoch: {eps:.2f} at δ=1e-5, z=1.1, q={batch / rows:.2g})")
    return out


def _flower_results(thetas, n_examples):
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters

    return [(None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters([t.astype(np.float64) for t in theta]), n, {}))
            for theta, n in zip(thetas, n_examples)]


def _flower_aggregate(wrapper, current, thetas):
    from flwr.common import parameters_to_ndarrays

    wrapper.current_round_params = [c.copy() for c in current]
    params, _ = wrapper.aggregate_fit(1, _flower_results(thetas, [10] * len(thetas)), [])
    return parameters_to_ndarrays(params)


def bench_server_dp(domains, size, rounds, seed=0):
    from flwr.server.strategy import DifferentialPrivacyServerSideAdaptiveClipping as FlwrAdaptive
    from flwr.server.strategy import DifferentialPrivacyServerSideFixedClipping as FlwrFixed
    from flwr.server.strategy import FedAvg as FlwrFedAvg

    logging.getLogger("flwr").setLevel(logging.ERROR)
    rng = np.random.default_rng(seed)
    current = [np.zeros(size)]
    thetas = [[rng.normal(0, s, size)] for s in rng.uniform(0.5, 3.0, domains) / math.sqrt(size)]
    report = {}

    print(f"\n2a. fixed clipping, {domains} domains x {size:,} parameters, C = 1, num_sampled = {domains}")
    ours = DPFixedClipping(FedAvg(), noise_multiplier=0.0, clip_norm=1.0, num_sampled=domains)
    mean_ours = ours.aggregate_fit(1, current, [(t, 10) for t in thetas])[0]
    mean_flwr = _flower_aggregate(FlwrFixed(FlwrFedAvg(), 0.0, 1.0, domains), current, thetas)[0]
    diff = float(np.max(np.abs(mean_ours - mean_flwr)))
    print(f"   clipped mean, noise off: max |meshkit - Flower| = {diff:.2e}")
    z = 1.0
    # updates of norm 1e-9: the output is the noise (Flower divides by zero on an all-zero update)
    zeros = [[np.full(size, 1e-9 / math.sqrt(size))] for _ in range(domains)]
    noise_ours = DPFixedClipping(FedAvg(), noise_multiplier=z, clip_norm=1.0,
                                 num_sampled=domains).aggregate_fit(1, current, [(t, 10) for t in zeros])[0]
    noise_flwr = _flower_aggregate(FlwrFixed(FlwrFedAvg(), z, 1.0, domains), current, zeros)[0]
    expected = z * 1.0 / domains
    print(f"   noise std, z = {z}: meshkit {noise_ours.std():.5f}, Flower {noise_flwr.std():.5f}, "
          f"z*C/num_sampled = {expected:.5f}")
    print("   noise source: meshkit ChaCha20 keyed from os.urandom per draw (CSPRNG); Flower numpy's global np.random (seedable, not a CSPRNG)")
    q, R, delta = 0.1, rounds, 1e-5
    eps_ours = DPFixedClipping(FedAvg(), noise_multiplier=z, num_sampled=domains, num_domains=domains * 10)
    eps_ours.reset()
    for r in range(1, R + 1):
        eps_ours.aggregate_fit(r, current, [(t, 10) for t in thetas])
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    acc = rdp_privacy_accountant.RdpAccountant()
    logging.getLogger("absl").setLevel(logging.ERROR)  # fractional orders it skips at this q
    acc.compose(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(z)), R)
    eps_direct = acc.get_epsilon(delta)
    print(f"   ε after {R} rounds (z={z}, q={q}, δ={delta}): meshkit {eps_ours.epsilon_:.6f}, "
          f"dp-accounting directly {eps_direct:.6f}, Flower: no accountant")
    report["fixed"] = {"max_abs_diff_clipped_mean": diff, "noise_std_meshkit": float(noise_ours.std()),
                       "noise_std_flower": float(noise_flwr.std()), "noise_std_expected": expected,
                       "epsilon_meshkit": eps_ours.epsilon_, "epsilon_dp_accounting": eps_direct,
                       "rounds": R, "sample_rate": q}

    print(f"\n2b. adaptive clipping, count noise off, C0 = 0.1, lr 0.2, target quantile 0.5; update norms "
          f"{min(np.linalg.norm(t[0]) for t in thetas):.2f}..{max(np.linalg.norm(t[0]) for t in thetas):.2f} "
          f"(median {np.median([np.linalg.norm(t[0]) for t in thetas]):.2f})")
    ours = DPAdaptiveClipping(FedAvg(), noise_multiplier=0.0, num_sampled=domains)
    ours.reset()
    flwr = FlwrAdaptive(FlwrFedAvg(), 0.0, domains)
    traj_ours, traj_flwr = [], []
    R = 3 * rounds
    for r in range(1, R + 1):
        traj_ours.append(ours.clip_norm_)
        ours.aggregate_fit(r, current, [(t, 10) for t in thetas])
        traj_flwr.append(flwr.clipping_norm)
        _flower_aggregate(flwr, current, thetas)
    show = sorted({0, 1, 2, 5, 10, 20, R // 2, R - 1} & set(range(R)))
    print(f"{'round':>7}{'meshkit C':>12}{'Flower C':>12}")
    for i in show:
        print(f"{i + 1:>7}{traj_ours[i]:>12.4f}{traj_flwr[i]:>12.4f}")
    median = float(np.median([np.linalg.norm(t[0]) for t in thetas]))
    print(f"   after {R} rounds: meshkit C = {ours.clip_norm_:.3f} (Andrew et al.: C rises while most updates are "
          f"clipped, then hovers around the median norm {median:.3f}); Flower C = {flwr.clipping_norm:.2e}, "
          "moving the other way (it counts clipped updates in the formula written for unclipped ones).")
    report["adaptive"] = {"meshkit": traj_ours, "flower": traj_flwr}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (100k rows, 50 rounds)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_privacy.json"))
    args = parser.parse_args()
    import flwr

    rows, features, rounds = (100_000, 100, 50) if args.full else (20_000, 50, 20)
    dpsgd = bench_dpsgd(rows, features, classes=10, batch=64, repeat=5)
    server = bench_server_dp(domains=10, size=100_000 if args.full else 20_000, rounds=rounds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "privacy", "peer": f"flwr {flwr.__version__}", "full": args.full,
                               "machine": platform.platform(), "dpsgd": dpsgd, "server": server}, indent=2))
    print(f"\nwrote {out.name}")


if __name__ == "__main__":
    main()
