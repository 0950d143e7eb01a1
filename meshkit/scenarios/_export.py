"""Write the ``data/`` folder: each scenario's mesh spec, contracts and small sample files.

The folder is what a user copies to bring their own data: replace the sample files with
theirs (same columns, CSV or Parquet), edit ``mesh.yaml`` and the contracts, and
``Mesh.load`` it. ``tests/mesh/test_scenarios.py`` checks that the committed folder equals what
:func:`export` writes, so it cannot drift from the generators.

Examples
--------
>>> import tempfile, pathlib
>>> written = export(tempfile.mkdtemp(), scenarios=["finance"])
>>> sorted(p.name for p in written if p.suffix == ".csv")[:1]
['alpine_transactions.csv']
"""

from __future__ import annotations

import os
from pathlib import Path

from meshkit._errors import SpecError
from meshkit._files import atomic_write_text

__all__ = ["export", "export_scenario", "SAMPLE_ROWS", "SAMPLE_SCALE", "SAMPLE_SEED",
           "SAMPLE_FORMATS", "README"]

#: Rows per sample file.
SAMPLE_ROWS = 50
#: Scale and seed the samples are generated with.
SAMPLE_SCALE = 0.1
SAMPLE_SEED = 42
#: Products whose sample is Parquet (every other sample is CSV), to show both formats.
SAMPLE_FORMATS: dict[str, str] = {
    "page_views": "parquet",
    "detroit_sensor_readings": "parquet",
    "monterrey_sensor_readings": "parquet",
    "stuttgart_sensor_readings": "parquet",
    "shenzhen_sensor_readings": "parquet",
}

README = """\
# data/: mesh specs to copy

Each folder is one embedded scenario of `meshkit.scenarios`, written by
`python -m meshkit.scenarios export data/` (do not edit by hand; a test checks they match):

- `mesh.yaml`: the mesh spec (domains, owners, data products, consumers) and what the
  later notebooks read from it: the supervised `task`, the recommender's `interactions`,
  the `entities` several domains hold, and the `principals` and `grants` of security.
- `contracts/<product>.yaml`: one ODCS v3.1 data contract per product.
- `samples/<product>.csv` or `.parquet`: {rows} rows of each product, the files the spec's
  `source:` fields point at.

To bring your own data, copy a folder, point each product's `source:` at your CSV or
Parquet file (paths are relative to `mesh.yaml`), adjust the contracts, and load it:

```python
from meshkit import Mesh
mesh = Mesh.load("my_mesh/mesh.yaml")
frame = mesh.read_source("purchases")
```

or run the whole chain on it: `meshkit run --mesh my_mesh/mesh.yaml`. A step whose needs
your spec does not declare (no `task`, say) is skipped with its reason in `results.json`.
""".format(rows=SAMPLE_ROWS)

_OWN_SUFFIXES = {"contracts": (".yaml", ".yml"), "samples": (".csv", ".parquet")}


def _clear_generated(folder: Path) -> None:
    """Remove files an earlier export wrote (only those), so removed products do not linger."""
    (folder / "mesh.yaml").unlink(missing_ok=True)
    for sub, suffixes in _OWN_SUFFIXES.items():
        if (folder / sub).is_dir():
            for path in (folder / sub).iterdir():
                if path.is_file() and path.suffix in suffixes:
                    path.unlink()


def export_scenario(name: str, folder: str | os.PathLike) -> list[Path]:
    """Write one scenario's ``mesh.yaml``, ``contracts/`` and ``samples/`` into ``folder``.

    Returns
    -------
    list of Path
        The files written, spec first.
    """
    from meshkit.scenarios import load_scenario

    target = Path(folder)
    sc = load_scenario(name, scale=SAMPLE_SCALE, seed=SAMPLE_SEED)
    target.mkdir(parents=True, exist_ok=True)
    _clear_generated(target)
    (target / "samples").mkdir(exist_ok=True)
    sources: dict[str, Path] = {}
    for product in sc.mesh.products():
        fmt = SAMPLE_FORMATS.get(product.name, "csv")
        path = target / "samples" / f"{product.name}.{fmt}"
        sample = sc.frames[product.name].head(SAMPLE_ROWS)
        if fmt == "parquet":
            sample.write_parquet(path)
        else:
            sample.write_csv(path)
        sources[product.name] = path
    spec = sc.mesh.with_sources(sources, root=target).save(target)
    contracts = sorted((target / "contracts").glob("*.yaml"))
    return [spec, *contracts, *sources.values()]


def export(directory: str | os.PathLike, scenarios: list[str] | None = None) -> list[Path]:
    """Write ``directory/README.md`` and ``directory/<scenario>/`` for each scenario.

    Raises
    ------
    SpecError
        For an unknown scenario name.
    """
    from meshkit.scenarios import SCENARIOS

    chosen = list(SCENARIOS) if scenarios is None else list(scenarios)
    for name in chosen:
        if name not in SCENARIOS:
            raise SpecError("unknown scenario", where="export(scenarios=...)",
                            expected=f"one of {', '.join(SCENARIOS)}", found=repr(name))
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    readme = atomic_write_text(root / "README.md", README)
    written = [readme]
    for name in chosen:
        written += export_scenario(name, root / name)
    return written
