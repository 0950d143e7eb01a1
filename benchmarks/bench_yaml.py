"""Benchmark: meshkit's YAML loader against PyYAML's ``yaml.safe_load`` (the same parser).

``meshkit._yaml.load_yaml`` adds duplicate-key refusal, a depth bound, an alias-expansion
bound and (for the mesh spec) line numbers on every node. This measures what that costs on a
valid mesh spec of ``--domains`` domains, with and without lines, as a ratio to
``yaml.safe_load`` of the same text (best of ``--repeat``), and how much time and memory
refusing a "billion laughs" document takes (tracemalloc peak). PyYAML itself is not run on
the billion laughs past loading: walking what it returns is what exhausts memory.

    .venv/bin/python benchmarks/bench_yaml.py             # 2,000 domains (about 0.3 MB)
    .venv/bin/python benchmarks/bench_yaml.py --full      # 7,000 domains (about 1 MB, the cap)
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from meshkit import SpecError
from meshkit._yaml import load_yaml

LAUGHS = "\n".join(
    [f'{chr(97)}: &a [{",".join(["lol"] * 9)}]']
    + [f"{chr(97 + i)}: &{chr(97 + i)} [{','.join(['*' + chr(96 + i)] * 9)}]" for i in range(1, 9)]
    + ["name: laughs", "domains: *i"]) + "\n"


def spec_text(domains: int) -> str:
    lines = ["apiVersion: meshkit/v1", "kind: Mesh", "name: bench", "domains:"]
    for i in range(domains):
        lines += [f"  - name: d{i}", f"    owner: team{i}@example.org", "    products:",
                  f"      - name: p{i}", f"        contract: contracts/p{i}.yaml",
                  f"        consumers: [d{(i + 1) % domains}]"]
    return "\n".join(lines) + "\n"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="7,000 domains (near the 1 MiB cap)")
    args = parser.parse_args()
    domains = 7_000 if args.full else args.domains
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mesh.yaml"
        path.write_text(spec_text(domains))
        size = path.stat().st_size
        peer = best(lambda: yaml.safe_load(path.read_text()), args.repeat)
        plain = best(lambda: load_yaml(path, max_bytes=size), args.repeat)
        lined = best(lambda: load_yaml(path, lines=True, max_bytes=size), args.repeat)
        print(f"mesh spec, {domains:,} domains, {size / 1e6:.2f} MB")
        print(f"  yaml.safe_load            {peer * 1e3:9.1f} ms")
        print(f"  meshkit load_yaml         {plain * 1e3:9.1f} ms   ratio {plain / peer:.2f}x")
        print(f"  meshkit load_yaml, lines  {lined * 1e3:9.1f} ms   ratio {lined / peer:.2f}x")

        laughs = Path(folder) / "laughs.yaml"
        laughs.write_text(LAUGHS)
        tracemalloc.start()
        start = time.perf_counter()
        try:
            load_yaml(laughs)
        except SpecError as exc:
            refused = str(exc).split(": ", 1)[1].split(" (")[0]
        else:
            raise SystemExit("the billion laughs document was not refused")
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"billion laughs, {laughs.stat().st_size} bytes (10^9 nodes expanded): "
              f"refused ({refused}) in {elapsed * 1e3:.1f} ms, peak {peak / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
