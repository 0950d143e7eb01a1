"""Contract validation of a large product: meshkit vs pandera's polars backend.

Unique columns carry no nulls here: pandera counts repeated nulls as duplicates, meshkit
(like SQL ``UNIQUE``) does not, so a null-free key keeps the two counts comparable.

Both validate the same seeded frame against the same 10 rules and must find the same
failing-row counts; the script runs them in turn (so both see the same machine load),
prints both best-of-N times and the ratio pandera / meshkit,
and writes ``benchmarks/results/bench_validation.json``.

    .venv/bin/python benchmarks/bench_validation.py [--rows 10000000] [--repeat 3]

The 10 rules (nulls are never failures except for ``required``):

==  ===========================================  ===========================================
#   meshkit (ODCS contract)                      pandera.polars
==  ===========================================  ===========================================
1   ``code`` required                            ``nullable=False``
2   ``id`` unique                                ``unique=True``
3   ``amount`` minimum 0                         ``Check.ge(0)``
4   ``amount`` exclusiveMaximum 1000             ``Check.lt(1000)``
5   ``score`` minimum 0                          ``Check.ge(0)``
6   ``score`` maximum 100                        ``Check.le(100)``
7   ``code`` pattern ``^[A-Z]{3}-[0-9]{4}$``     ``Check.str_matches(...)``
8   ``unit`` invalidValues validValues           ``Check.isin([...])``
9   ``name`` minLength 2                         ``Check.str_length(min_value=2)``
10  ``name`` maxLength 12                        ``Check.str_length(max_value=12)``
==  ===========================================  ===========================================
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import polars as pl

from meshkit import DataContract, validate

PATTERN = "^[A-Z]{3}-[0-9]{4}$"
UNITS = ["kg", "lb", "g"]

CONTRACT = {
    "apiVersion": "v3.1.0", "kind": "DataContract", "id": "bench-orders", "version": "1.0.0",
    "status": "active",
    "schema": [{"name": "orders", "properties": [
        {"name": "id", "logicalType": "integer", "unique": True},
        {"name": "amount", "logicalType": "number",
         "logicalTypeOptions": {"minimum": 0, "exclusiveMaximum": 1000}},
        {"name": "score", "logicalType": "integer",
         "logicalTypeOptions": {"minimum": 0, "maximum": 100}},
        {"name": "code", "logicalType": "string", "required": True,
         "logicalTypeOptions": {"pattern": PATTERN}},
        {"name": "unit", "logicalType": "string", "quality": [
            {"metric": "invalidValues", "arguments": {"validValues": UNITS}, "mustBe": 0}]},
        {"name": "name", "logicalType": "string",
         "logicalTypeOptions": {"minLength": 2, "maxLength": 12}},
    ]}],
}

# meshkit check name -> (pandera column, pandera check name)
PAIRS = {
    "code.required": ("code", "not_nullable"),
    "id.unique": ("id", "field_uniqueness"),
    "amount.minimum": ("amount", "greater_than_or_equal_to(0)"),
    "amount.exclusiveMaximum": ("amount", "less_than(1000)"),
    "score.minimum": ("score", "greater_than_or_equal_to(0)"),
    "score.maximum": ("score", "less_than_or_equal_to(100)"),
    "code.pattern": ("code", f"str_matches('{PATTERN}')"),
    "unit.quality[0].invalidValues": ("unit", f"isin({UNITS})"),
    "name.minLength": ("name", "str_length(2, None)"),
    "name.maxLength": ("name", "str_length(None, 12)"),
}


def make_frame(rows: int, seed: int) -> pl.DataFrame:
    """A seeded product with roughly 0.1-1 % failures per rule."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    dup = rng.random(rows) < 0.001
    ids[dup] = rng.integers(0, rows, dup.sum())
    codes = [f"{a}{b}{c}-{n:04d}" for a, b, c, n in zip("ABCDEFGHIJ" * 10, "KLMNOPQRST" * 10,
                                                         "UVWXYZABCD" * 10, range(100))]
    codes += ["abc-0001", "AB-12345", "XYZ_0000", "QQQ-12"]  # invalid
    names = ["Al", "Bea", "Carla", "Dominique", "Evangelina", "X", "Maximilianus-Q", "Jo"]
    null_code = rng.random(rows) < 0.0005
    null_amount = rng.random(rows) < 0.01
    code_idx = rng.choice(len(codes), rows, p=_weights(len(codes), 4, 0.004))
    unit_idx = rng.choice(4, rows, p=[0.33, 0.33, 0.335, 0.005])
    name_idx = rng.integers(0, len(names), rows)
    return pl.DataFrame({
        "id": ids,
        "amount": pl.Series(rng.normal(300, 200, rows).round(2)).set(pl.Series(null_amount), None),
        "score": rng.integers(-1, 102, rows),
        "code": pl.Series(codes).gather(code_idx).set(pl.Series(null_code), None),
        "unit": pl.Series([*UNITS, "oz"]).gather(unit_idx),
        "name": pl.Series(names).gather(name_idx),
    })


def _weights(n: int, n_bad: int, bad_share: float) -> np.ndarray:
    good = np.full(n - n_bad, (1 - bad_share) / (n - n_bad))
    return np.concatenate([good, np.full(n_bad, bad_share / n_bad)])


def pandera_schema():
    import pandera.polars as pa

    return pa.DataFrameSchema({
        "id": pa.Column(pl.Int64, nullable=True, unique=True),
        "amount": pa.Column(pl.Float64, [pa.Check.ge(0), pa.Check.lt(1000)], nullable=True),
        "score": pa.Column(pl.Int64, [pa.Check.ge(0), pa.Check.le(100)], nullable=True),
        "code": pa.Column(pl.String, pa.Check.str_matches(PATTERN), nullable=False),
        "unit": pa.Column(pl.String, pa.Check.isin(UNITS), nullable=True),
        "name": pa.Column(pl.String, [pa.Check.str_length(min_value=2),
                                      pa.Check.str_length(max_value=12)], nullable=True),
    })


def run_meshkit(frame: pl.DataFrame, contract: DataContract) -> dict[str, int]:
    report = validate(frame, contract)
    return {name: report.check(name).failing for name in PAIRS}


def run_pandera(frame: pl.DataFrame, schema) -> dict[str, int]:
    import pandera.polars as pa

    try:
        schema.validate(frame, lazy=True)
        cases = None
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    counts = {} if cases is None else {
        (c, k): n for c, k, n in cases.group_by("column", "check").len().iter_rows()}
    return {name: counts.get(pair, 0) for name, pair in PAIRS.items()}


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def best_of_alternating(repeat: int, first, second):
    """Best time of each, running them in turn so both see the same machine load."""
    times: tuple[list, list] = ([], [])
    results = [None, None]
    for _ in range(repeat):
        for k, (fn, *args) in enumerate((first, second)):
            seconds, results[k] = timed(fn, *args)
            times[k].append(seconds)
    return min(times[0]), results[0], min(times[1]), results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = make_frame(args.rows, args.seed)
    contract = DataContract.from_dict(CONTRACT)
    schema = pandera_schema()
    meshkit_time, meshkit_counts, pandera_time, pandera_counts = best_of_alternating(
        args.repeat, (run_meshkit, frame, contract), (run_pandera, frame, schema))
    same = meshkit_counts == pandera_counts

    print(f"rows={args.rows:,}  rules={len(PAIRS)}  best of {args.repeat}  "
          f"polars threads={pl.thread_pool_size()}")
    print(f"{'rule':<32}{'meshkit':>12}{'pandera':>12}")
    for name in PAIRS:
        print(f"{name:<32}{meshkit_counts[name]:>12,}{pandera_counts[name]:>12,}")
    print(f"meshkit  {meshkit_time:8.3f} s")
    print(f"pandera  {pandera_time:8.3f} s")
    print(f"ratio pandera/meshkit = {pandera_time / meshkit_time:.2f}x   "
          f"same failing counts: {same}")

    import pandera

    out = Path(__file__).resolve().parent / "results" / "bench_validation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "validation", "rows": args.rows, "rules": len(PAIRS),
        "repeat": args.repeat, "seed": args.seed, "peer": "pandera.polars",
        "meshkit_seconds": meshkit_time, "pandera_seconds": pandera_time,
        "ratio_pandera_over_meshkit": pandera_time / meshkit_time,
        "same_failing_counts": same, "meshkit_counts": meshkit_counts,
        "pandera_counts": pandera_counts,
        "versions": {"polars": pl.__version__, "pandera": pandera.__version__,
                     "python": platform.python_version()},
        "threads": pl.thread_pool_size(),
    }, indent=2))
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out.name}")
    if not same:
        raise SystemExit("meshkit and pandera disagree on failing counts")


if __name__ == "__main__":
    main()
