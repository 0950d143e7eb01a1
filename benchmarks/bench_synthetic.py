"""Benchmark: federated vs centralized accuracy on FedProx's Synthetic(1, 1).

The setting of Li et al. (2020): 30 devices, 60 features, 10 classes, multinomial logistic
regression, SGD with learning rate 0.01 and batch 10, 20 local epochs, 10 devices sampled per
round; each device keeps 20 % of its data for testing. FedAvg and FedProx (mu = 1) run the
same rounds from the same seed; the centralized model trains on the pooled training data, and
local-only models each on one device. Prints the table and writes
``benchmarks/results/bench_synthetic.json``.

    .venv/bin/python benchmarks/bench_synthetic.py --rounds 100
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from meshkit import FedAvg, FedProx, LogisticRegression, from_arrays, run_federated, synthetic, train_centralized, train_local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--local-epochs", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--central-epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_synthetic.json"))
    args = parser.parse_args()

    devices = synthetic(args.alpha, args.beta, seed=args.seed)
    data = from_arrays(devices, names=[f"device_{k:02d}" for k in range(len(devices))], test_size=0.2,
                       seed=args.seed)
    model = LogisticRegression(n_classes=10, lr=0.01, batch_size=10, seed=args.seed)
    fraction = args.per_round / len(devices)
    sizes = [d.n_train + d.n_test for d in data.values()]
    print(f"Synthetic({args.alpha:g}, {args.beta:g}): {len(devices)} devices, {sum(sizes):,} samples "
          f"(min {min(sizes)}, max {max(sizes)}); {args.rounds} rounds x {args.local_epochs} local epochs, "
          f"{args.per_round} devices per round, lr 0.01, batch 10")
    rows, curves = [], {}
    for label, strategy in (("FedAvg", FedAvg()), ("FedProx (mu=1)", FedProx(mu=1.0))):
        t0 = time.perf_counter()
        h = run_federated(model, data, strategy, rounds=args.rounds, fraction=fraction,
                          local_epochs=args.local_epochs, seed=args.seed, progress=True)
        rows.append({"setting": label, **h.final, "seconds": time.perf_counter() - t0,
                     "best_accuracy": float(h.metric("accuracy").max())})
        curves[label] = h.metric("accuracy").tolist()
    t0 = time.perf_counter()
    _, central = train_centralized(model, data, epochs=args.central_epochs, seed=args.seed)
    rows.append({"setting": f"centralized ({args.central_epochs} epochs)", **central["overall"],
                 "seconds": time.perf_counter() - t0, "best_accuracy": float("nan")})
    t0 = time.perf_counter()
    local = train_local(model, data, epochs=args.local_epochs, seed=args.seed)
    own = {k: v for k, v in local.own("accuracy").items()}
    own_mean = float(np.average(list(own.values()), weights=[data[k].n_test for k in own]))
    rows.append({"setting": f"local-only, own device ({args.local_epochs} epochs)", "accuracy": own_mean,
                 "log_loss": float("nan"), "seconds": time.perf_counter() - t0, "best_accuracy": float("nan")})
    central_acc = central["overall"]["accuracy"]
    print(f"\n{'setting':<38}{'accuracy':>10}{'log_loss':>10}{'vs central':>12}{'seconds':>9}")
    for r in rows:
        print(f"{r['setting']:<38}{r['accuracy']:>10.4f}{r['log_loss']:>10.4f}"
              f"{r['accuracy'] - central_acc:>+12.4f}{r['seconds']:>9.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "synthetic", "args": vars(args), "numpy": np.__version__,
                               "python": platform.python_version(), "rows": rows, "curves": curves},
                              indent=2, default=float) + "\n")
    print(f"wrote {out.name}")


if __name__ == "__main__":
    main()
