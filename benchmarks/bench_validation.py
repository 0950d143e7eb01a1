"""Contract validation of a large product: meshkit vs pandera's polars backend and
datacontract-cli's ``test``.

Unique columns carry no nulls here: pandera counts repeated nulls as duplicates, meshkit
(like SQL ``UNIQUE``) does not, so a null-free key keeps the two counts comparable.

meshkit and pandera validate the same seeded in-memory frame against the same 10 rules (one
an ODCS ``sql`` rule) and must find the same failing-row counts; the script runs them in
turn (so both see the same machine load), prints both best-of-N times and the ratio
pandera / meshkit, and writes ``benchmarks/results/bench_validation.json``.

datacontract-cli's ``test`` (its DuckDB engine, fully offline) reads a local Parquet file
named by the contract's ``servers``; it is timed against meshkit validating a lazy scan of
that same file. Its counts are printed beside meshkit's; two of its checks measure other
things (``field_unique`` counts duplicated *values*, not rows; ``exclusiveMaximum``
becomes a ``maximum`` plus a ``not equal`` check), so only the others must agree.

    .venv/bin/python benchmarks/bench_validation.py [--full] [--rows N] [--repeat 3]
        [--no-datacontract]

The default (1M rows) runs in about a minute; ``--full`` uses the issue's 10M rows.

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
10  ``sql``: ``amount > score * 10`` rows = 0    a frame-level ``Check`` (same predicate)
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
SQL = "SELECT COUNT(*) FROM orders WHERE amount > score * 10"

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
        {"name": "name", "logicalType": "string", "logicalTypeOptions": {"minLength": 2}},
    ], "quality": [
        {"type": "sql", "query": SQL, "mustBe": 0, "name": "amount_within_ten_scores"},
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
    "orders.quality[0].sql": ("orders", "amount_within_ten_scores"),
}

# meshkit check name -> (datacontract-cli field, check type); None: it measures another thing
DATACONTRACT = {
    "code.required": ("code", "field_required"),
    "id.unique": None,
    "amount.minimum": ("amount", "field_minimum"),
    "amount.exclusiveMaximum": None,
    "score.minimum": ("score", "field_minimum"),
    "score.maximum": ("score", "field_maximum"),
    "code.pattern": ("code", "field_regex"),
    "unit.quality[0].invalidValues": ("unit", "field_invalid_values"),
    "name.minLength": ("name", "field_min_length"),
    "orders.quality[0].sql": ("orders", "quality"),
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

    def within_ten_scores(data) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("amount") <= pl.col("score") * 10).fill_null(True))

    return pa.DataFrameSchema(checks=[pa.Check(within_ten_scores,
                                              name="amount_within_ten_scores")], columns={
        "id": pa.Column(pl.Int64, nullable=True, unique=True),
        "amount": pa.Column(pl.Float64, [pa.Check.ge(0), pa.Check.lt(1000)], nullable=True),
        "score": pa.Column(pl.Int64, [pa.Check.ge(0), pa.Check.le(100)], nullable=True),
        "code": pa.Column(pl.String, pa.Check.str_matches(PATTERN), nullable=False),
        "unit": pa.Column(pl.String, pa.Check.isin(UNITS), nullable=True),
        "name": pa.Column(pl.String, pa.Check.str_length(min_value=2), nullable=True),
    })


def run_meshkit(frame: pl.DataFrame | pl.LazyFrame, contract: DataContract) -> dict[str, int]:
    report = validate(frame, contract)
    return {name: _count(report.check(name)) for name in PAIRS}


def _count(check) -> int:
    """Failing rows; for the sql rule, the number its query gives."""
    return int(check.observed) if check.rule == "sql" else check.failing


def run_pandera(frame: pl.DataFrame, schema) -> dict[str, int]:
    import pandera.polars as pa

    try:
        schema.validate(frame, lazy=True)
        cases = None
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    counts = {} if cases is None else {
        (c or "orders", k): n for c, k, n in cases.group_by("column", "check").len().iter_rows()}
    return {name: counts.get(pair, 0) for name, pair in PAIRS.items()}


def run_datacontract(path: Path) -> dict[str, int | None]:
    """datacontract-cli's ``test`` on the contract file (its server: a local Parquet file)."""
    from datacontract.data_contract import DataContract as CliContract

    run = CliContract(data_contract_file=str(path)).test()
    found = {}
    for check in run.checks:
        diagnostics = check.diagnostics or {}
        field = diagnostics.get("field") or check.field or "orders"
        kind = "quality" if "quality" in (check.type or "") else check.type
        if "value" in diagnostics:
            found[(field, kind)] = int(diagnostics["value"])
    return {name: (None if pair is None else found.get(pair))
            for name, pair in DATACONTRACT.items()}


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
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--full", action="store_true", help="the issue's 10M rows")
    parser.add_argument("--no-datacontract", action="store_true",
                        help="leave datacontract-cli out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.full:
        args.rows = 10_000_000

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
    cli = _versus_datacontract(frame, args, meshkit_counts) if not args.no_datacontract \
        else {"skipped": "--no-datacontract"}

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
        "datacontract_cli": cli,
    }, indent=2))
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out.name}")
    if not same:
        raise SystemExit("meshkit and pandera disagree on failing counts")
    if cli.get("agree") is False:
        raise SystemExit("meshkit and datacontract-cli disagree on failing counts")


def _versus_datacontract(frame: pl.DataFrame, args, meshkit_counts: dict) -> dict:
    """Time datacontract-cli's ``test`` and meshkit on the same Parquet file, offline."""
    import tempfile

    import yaml

    try:
        import datacontract  # noqa: F401
    except ImportError:
        print("datacontract-cli is not installed: pip install 'datacontract-cli[duckdb]'")
        return {"skipped": "not installed"}
    from importlib.metadata import version

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "orders.parquet"
        frame.write_parquet(data)
        doc = {**CONTRACT, "servers": [{"server": "local", "type": "local",
                                         "path": str(data), "format": "parquet"}]}
        path = Path(folder) / "orders.odcs.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        contract = DataContract.from_yaml(path)
        mesh_time, mesh_counts, cli_time, cli_counts = best_of_alternating(
            args.repeat, (run_meshkit, pl.scan_parquet(data), contract),
            (run_datacontract, path))
    assert mesh_counts == meshkit_counts
    compared = {n: c for n, c in cli_counts.items() if c is not None}
    agree = all(mesh_counts[n] == c for n, c in compared.items())
    print(f"\nsame Parquet file, read by each tool  (datacontract-cli {version('datacontract-cli')})")
    print(f"{'rule':<32}{'meshkit':>12}{'dc-cli':>12}")
    for name in PAIRS:
        shown = "(other)" if cli_counts[name] is None else f"{cli_counts[name]:,}"
        print(f"{name:<32}{mesh_counts[name]:>12,}{shown:>12}")
    print(f"meshkit (scan_parquet)  {mesh_time:8.3f} s")
    print(f"datacontract-cli test   {cli_time:8.3f} s")
    print(f"ratio datacontract-cli/meshkit = {cli_time / mesh_time:.2f}x   "
          f"same failing counts where comparable: {agree}")
    return {"meshkit_seconds": mesh_time, "datacontract_seconds": cli_time,
            "ratio_datacontract_over_meshkit": cli_time / mesh_time, "agree": agree,
            "counts": cli_counts, "version": version("datacontract-cli")}


if __name__ == "__main__":
    main()
