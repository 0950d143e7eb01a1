"""Encrypt and decrypt a product: Parquet Modular Encryption (meshkit) against its peers.

One ten-column frame (two PII string columns, eight others) is written and read by

* **meshkit** — :func:`meshkit._security.encrypted_parquet.write_encrypted` /
  ``read_encrypted``: Parquet Modular Encryption, a footer key, a data key and one key per
  PII column, each wrapped by a domain keyset (the format of the governed store);
* **plain** — pyarrow's ``pq.write_table`` / ``pq.read_table`` of the same frame, no
  encryption: the cost of protection is meshkit / plain;
* **aesgcm** — ``AESGCM.encrypt`` / ``decrypt`` of the frame's Arrow IPC bytes as one
  in-memory buffer: the raw speed of the primitive (no file format, everything in RAM);
* **previous** — the previous design: plain Parquet written to disk, then the whole file
  encrypted with Cobblestone-128 streaming AEAD (and the reverse to read; plaintext touched
  the disk in between, which the new design never does);
* **one column** — meshkit reading one non-PII column of the ten against reading all of them.

Each measurement runs in its own subprocess so its peak RSS (``ru_maxrss``) is its own;
``baseline`` is a worker that only imports and loads the frame.

Run: ``python benchmarks/bench_crypto.py`` (64 MiB, under two minutes) or ``--full``
(1 GiB); JSON goes to ``benchmarks/results/bench_crypto.json``.
"""

from __future__ import annotations

import argparse
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
PII = ["email", "phone"]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_frame(path: Path, size_mib: int) -> int:
    """Write a ten-column Arrow IPC file of about ``size_mib`` MiB; returns its rows."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(0)
    rows = max(1000, int(size_mib * (1 << 20) / 100))  # ~100 bytes per row
    email = pa.array([f"user{i}@example.org" for i in rng.integers(0, 10**9, rows)])
    phone = pa.array([f"+44{i:010d}" for i in rng.integers(0, 10**10, rows)])
    table = pa.table({"id": np.arange(rows), "email": email, "phone": phone,
                      **{f"x{i}": rng.normal(size=rows) for i in range(4)},
                      "n0": rng.integers(0, 1000, rows), "n1": rng.integers(0, 10**6, rows),
                      "region": pa.array(rng.choice(["north", "south", "east", "west"], rows))})
    with pa.ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)
    return rows


def _load(src: Path):
    import pyarrow as pa

    with pa.memory_map(str(src)) as source:
        return pa.ipc.open_file(source).read_all()


def worker(method: str, src: Path, workdir: Path) -> dict:
    import pyarrow.parquet as pq

    from meshkit._security.encrypted_parquet import read_encrypted, write_encrypted
    from meshkit._security.keys import Keyset

    table = _load(src)
    out = workdir / f"{method}.parquet"
    if method == "baseline":
        return {"peak_rss_mib": _peak_mib()}
    if method in ("meshkit", "one_column"):
        keyset = Keyset.generate("bench")
        binding = {"product": "bench"}
        t0 = time.perf_counter()
        write_encrypted(out, [table], table.schema, keyset, "bench", pii=PII, binding=binding)
        t1 = time.perf_counter()
        columns = ["x0"] if method == "one_column" else None
        _, back = read_encrypted(out, keyset, "bench", columns=columns)
        t2 = time.perf_counter()
        ok = back.equals(table.select(columns) if columns else table)
    elif method == "plain":
        t0 = time.perf_counter()
        pq.write_table(table, out)
        t1 = time.perf_counter()
        back = pq.read_table(out)
        t2 = time.perf_counter()
        ok = back.equals(table)
    elif method == "previous":
        from meshkit._security.streaming import decrypt_file, encrypt_file, new_data_key

        key, ctx, blob = new_data_key(), b"bench", workdir / "previous.cbl"
        t0 = time.perf_counter()
        pq.write_table(table, out)
        encrypt_file(out, blob, key, ctx)
        out.unlink()
        t1 = time.perf_counter()
        decrypt_file(blob, out, key, ctx)
        back = pq.read_table(out)
        t2 = time.perf_counter()
        ok = back.equals(table)
        blob.unlink()
    elif method == "aesgcm":
        import pyarrow as pa
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        aead, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
        t0 = time.perf_counter()
        ct = aead.encrypt(nonce, data, None)
        t1 = time.perf_counter()
        ok = aead.decrypt(nonce, ct, None) == data
        t2 = time.perf_counter()
        return {"encrypt_s": t1 - t0, "decrypt_s": t2 - t1, "ok": ok,
                "peak_rss_mib": _peak_mib()}
    else:
        raise SystemExit(f"unknown method {method!r}")
    out.unlink(missing_ok=True)
    return {"encrypt_s": t1 - t0, "decrypt_s": t2 - t1, "ok": bool(ok),
            "peak_rss_mib": _peak_mib()}


def run(method: str, src: Path, workdir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", method, "--src", str(src),
                          "--workdir", str(workdir)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--full", action="store_true", help="a 1 GiB product (the issue's size)")
    ap.add_argument("--worker")
    ap.add_argument("--src")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.src), Path(args.workdir))))
        return
    size_mib = 1024 if args.full else args.size_mib
    methods = ("baseline", "meshkit", "plain", "aesgcm", "previous", "one_column")
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-crypto-") as tmp:
        tmp = Path(tmp)
        src = tmp / "frame.arrow"
        rows = make_frame(src, size_mib)
        mib = src.stat().st_size / (1 << 20)
        results = {m: run(m, src, tmp) for m in methods}
    base = results.pop("baseline")["peak_rss_mib"]
    print(f"{mib:.0f} MiB frame ({rows} rows, 10 columns, 2 PII); CPU: "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared: noisy)")
    print(f"{'method':<11} {'write/enc s':>11} {'read/dec s':>11} {'peak RSS MiB':>13} "
          f"{'above base':>11} {'ok':>5}")
    for m, r in results.items():
        r["peak_above_baseline_mib"] = r["peak_rss_mib"] - base
        print(f"{m:<11} {r['encrypt_s']:>11.2f} {r['decrypt_s']:>11.2f} {r['peak_rss_mib']:>13.0f} "
              f"{r['peak_above_baseline_mib']:>11.0f} {str(r['ok']):>5}")
    mk = results["meshkit"]
    ratios = {
        "meshkit_over_plain_write": mk["encrypt_s"] / results["plain"]["encrypt_s"],
        "meshkit_over_plain_read": mk["decrypt_s"] / results["plain"]["decrypt_s"],
        "meshkit_over_aesgcm_encrypt": mk["encrypt_s"] / results["aesgcm"]["encrypt_s"],
        "meshkit_over_aesgcm_decrypt": mk["decrypt_s"] / results["aesgcm"]["decrypt_s"],
        "meshkit_over_previous_write": mk["encrypt_s"] / results["previous"]["encrypt_s"],
        "meshkit_over_previous_read": mk["decrypt_s"] / results["previous"]["decrypt_s"],
        "one_column_over_all_read": results["one_column"]["decrypt_s"] / mk["decrypt_s"],
        "peak_memory_meshkit_over_plain": (mk["peak_above_baseline_mib"]
                                           / max(results["plain"]["peak_above_baseline_mib"], 1)),
    }
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_crypto.json"
    out.write_text(json.dumps({"size_mib": round(mib), "rows": rows, "baseline_rss_mib": base,
                               "results": results, "ratios": ratios,
                               "cpu_count": os.cpu_count()}, indent=2))
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
