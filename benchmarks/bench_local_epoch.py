"""Benchmark: one local epoch of meshkit's LogisticRegression vs scikit-learn's SGDClassifier.

Same data for both: ``--rows`` x ``--features`` standard normal features, binary labels
from a logistic model. meshkit runs one epoch of mini-batch SGD (vectorized per batch, a
Python loop over batches); scikit-learn runs one ``SGDClassifier(loss="log_loss").partial_fit``
pass (per-sample SGD in Cython). Prints times, the ratio and the test accuracy after the
epoch; writes ``benchmarks/results/bench_local_epoch.json``.

    .venv/bin/python benchmarks/bench_local_epoch.py
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from meshkit import LogisticRegression


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_local_epoch.json"))
    args = parser.parse_args()

    import sklearn
    from sklearn.linear_model import SGDClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features))
    coef = rng.normal(0, 1, args.features)
    y = (rng.random(args.rows) < 1 / (1 + np.exp(-(X @ coef)))).astype(np.int64)
    X_test = rng.standard_normal((100_000, args.features))
    y_test = (rng.random(100_000) < 1 / (1 + np.exp(-(X_test @ coef)))).astype(np.int64)

    sk = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, alpha=0.0, random_state=0)
    t0 = time.perf_counter()
    sk.partial_fit(X, y, classes=np.array([0, 1]))
    t_sk = time.perf_counter() - t0
    acc_sk = float((sk.predict(X_test) == y_test).mean())

    rows = []
    print(f"one epoch over {args.rows:,} rows x {args.features} features; peer scikit-learn {sklearn.__version__} "
          f"SGDClassifier.partial_fit: {t_sk:.3f} s, test accuracy {acc_sk:.4f}")
    print(f"{'batch':>6}{'meshkit s':>11}{'ratio meshkit/sklearn':>23}{'accuracy':>10}")
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        model = LogisticRegression(n_classes=2, lr=0.1, batch_size=bs, seed=0).init_parameters(args.features, 2)
        t0 = time.perf_counter()
        model.fit(X, y, epochs=1)
        t_mk = time.perf_counter() - t0
        acc = model.evaluate(X_test, y_test)["accuracy"]
        rows.append({"batch_size": bs, "meshkit_s": t_mk, "sklearn_s": t_sk, "ratio": t_mk / t_sk,
                     "meshkit_accuracy": acc, "sklearn_accuracy": acc_sk})
        print(f"{bs:>6}{t_mk:>11.3f}{t_mk / t_sk:>22.1f}x{acc:>10.4f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "local_epoch", "peer": f"scikit-learn {sklearn.__version__}",
                               "rows": args.rows, "features": args.features, "numpy": np.__version__,
                               "python": platform.python_version(), "results": rows}, indent=2) + "\n")
    print(f"wrote {out.name}")


if __name__ == "__main__":
    main()
