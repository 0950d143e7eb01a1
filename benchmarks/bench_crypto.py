"""Encrypt and decrypt a 1 GiB product: Cobblestone streaming vs raw AES-GCM vs Fernet.

* **meshkit** — :func:`meshkit._security.encrypt_file` / :func:`decrypt_file`
  (Cobblestone-128 streaming AEAD, file to file, fixed 1 MiB buffers).
* **limit** — ``AESGCM.encrypt`` / ``decrypt`` on one in-memory buffer (no streaming, the
  whole product and its ciphertext in RAM): the raw speed of the primitive.
* **fernet** — ``Fernet.encrypt`` / ``decrypt`` on one in-memory buffer: the common choice.

Each measurement runs in its own subprocess so its peak RSS (``ru_maxrss``) is its own.
The input is a file of random bytes in a temporary directory, deleted afterwards.

Run: ``.venv/bin/python benchmarks/bench_crypto.py [--size-mib 1024]``; JSON goes to
``benchmarks/results/bench_crypto.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def worker(method: str, src: Path, workdir: Path) -> dict:
    if method == "baseline":
        import cryptography.cobblestone  # noqa: F401
        import meshkit._security  # noqa: F401
        return {"peak_rss_mib": _peak_mib()}
    if method == "meshkit":
        from meshkit import decrypt_file, encrypt_file, new_data_key, product_context

        key = new_data_key()
        ctx = product_context("bench", "product", 0, "0" * 64)
        enc, dec = workdir / "x.cbl", workdir / "x.out"
        t0 = time.perf_counter()
        encrypt_file(src, enc, key, ctx)
        t1 = time.perf_counter()
        decrypt_file(enc, dec, key, ctx)
        t2 = time.perf_counter()
        ok = _sha256(dec) == _sha256(src)
        overhead = enc.stat().st_size - src.stat().st_size
        enc.unlink()
        dec.unlink()
        return {"encrypt_s": t1 - t0, "decrypt_s": t2 - t1, "round_trip_ok": ok,
                "ciphertext_overhead_bytes": overhead, "peak_rss_mib": _peak_mib()}
    data = src.read_bytes()
    if method == "limit":
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        aead, nonce = AESGCM(AESGCM.generate_key(bit_length=128)), os.urandom(12)
        t0 = time.perf_counter()
        ct = aead.encrypt(nonce, data, None)
        t1 = time.perf_counter()
        pt = aead.decrypt(nonce, ct, None)
        t2 = time.perf_counter()
    elif method == "fernet":
        from cryptography.fernet import Fernet

        f = Fernet(Fernet.generate_key())
        t0 = time.perf_counter()
        ct = f.encrypt(data)
        t1 = time.perf_counter()
        pt = f.decrypt(ct)
        t2 = time.perf_counter()
    else:
        raise SystemExit(f"unknown method {method!r}")
    return {"encrypt_s": t1 - t0, "decrypt_s": t2 - t1, "round_trip_ok": pt == data,
            "ciphertext_overhead_bytes": len(ct) - len(data), "peak_rss_mib": _peak_mib()}


def run(method: str, src: Path, workdir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", method, "--src", str(src),
                          "--workdir", str(workdir)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--worker")
    ap.add_argument("--src")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.src), Path(args.workdir))))
        return

    size = args.size_mib * (1 << 20)
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-crypto-") as tmp:
        tmp = Path(tmp)
        src = tmp / "product.bin"
        with open(src, "wb") as fh:
            for _ in range(args.size_mib):
                fh.write(os.urandom(1 << 20))
        results = {m: run(m, src, tmp) for m in ("baseline", "meshkit", "limit", "fernet")}
    base = results.pop("baseline")["peak_rss_mib"]
    mib = size / (1 << 20)
    print(f"{args.size_mib} MiB product; CPU: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores (shared with other jobs: figures are noisy)")
    print(f"{'method':<8} {'enc MiB/s':>10} {'dec MiB/s':>10} {'peak RSS MiB':>13} "
          f"{'above baseline':>15} {'ok':>4}")
    for m, r in results.items():
        r["encrypt_mib_s"] = mib / r["encrypt_s"]
        r["decrypt_mib_s"] = mib / r["decrypt_s"]
        r["peak_above_baseline_mib"] = r["peak_rss_mib"] - base
        print(f"{m:<8} {r['encrypt_mib_s']:>10.0f} {r['decrypt_mib_s']:>10.0f} "
              f"{r['peak_rss_mib']:>13.0f} {r['peak_above_baseline_mib']:>15.0f} "
              f"{str(r['round_trip_ok']):>4}")
    mk = results["meshkit"]
    ratios = {
        "meshkit_vs_limit_encrypt": mk["encrypt_mib_s"] / results["limit"]["encrypt_mib_s"],
        "meshkit_vs_limit_decrypt": mk["decrypt_mib_s"] / results["limit"]["decrypt_mib_s"],
        "meshkit_vs_fernet_encrypt": mk["encrypt_mib_s"] / results["fernet"]["encrypt_mib_s"],
        "meshkit_vs_fernet_decrypt": mk["decrypt_mib_s"] / results["fernet"]["decrypt_mib_s"],
        "peak_memory_fernet_over_meshkit": (results["fernet"]["peak_above_baseline_mib"]
                                            / max(mk["peak_above_baseline_mib"], 1)),
    }
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_crypto.json"
    out.write_text(json.dumps({"size_mib": args.size_mib, "baseline_rss_mib": base,
                               "results": results, "ratios": ratios,
                               "cpu_count": os.cpu_count()}, indent=2))
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
