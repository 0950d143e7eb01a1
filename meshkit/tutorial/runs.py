"""The run directory: what carries artifacts from one notebook to the next.

A run directory (``runs/<id>/``) holds the product store, one folder per notebook with its
``results.json`` (for batch users and tests), and whatever models or reports a notebook
leaves for the next. Every notebook also runs on its own: :func:`ensure_published` builds the
published mesh when the run directory does not have it yet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from meshkit._files import atomic_write_text
from meshkit._errors import RunError

__all__ = ["RunDir", "ensure_published"]

_PUBLISHED = "published.json"


def _to_json(value: Any) -> Any:
    """Turn numpy scalars and arrays, paths and tuples into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


class RunDir:
    """A run directory; created on first use.

    Parameters
    ----------
    path : str or Path
        Where the run lives, e.g. ``runs/tutorial``.

    Examples
    --------
    >>> import tempfile
    >>> run = RunDir(tempfile.mkdtemp())
    >>> _ = run.write_results("01_domain_setup", {"products": 6})
    >>> run.read_results("01_domain_setup")["products"]
    6
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def store(self):
        """The run's product store, at ``<run>/store``."""
        from meshkit._store import ProductStore

        return ProductStore(self.path / "store")

    def fresh_store(self):
        """Empty the run's store and return it: the start of a chain (``01_domain_setup``).

        Re-running the first notebook then gives the same versions and outputs every time.
        """
        import shutil

        shutil.rmtree(self.path / "store", ignore_errors=True)
        (self.path / _PUBLISHED).unlink(missing_ok=True)
        return self.store

    def published(self) -> dict[str, dict]:
        """What the store holds: scenario (or mesh) name -> how it was drawn (scale, seed...)."""
        return self._read_json(self.path / _PUBLISHED, {})

    def record_published(self, name: str, **origin) -> None:
        """Record that the store holds mesh ``name`` drawn with ``origin`` (e.g. scale, seed)."""
        published = self.published()
        published[name] = _to_json(origin)
        atomic_write_text(self.path / _PUBLISHED,
                          json.dumps(published, indent=2, sort_keys=True) + "\n")

    def folder(self, notebook: str) -> Path:
        """The folder for one notebook's artifacts (created on demand)."""
        folder = self.path / notebook
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write_results(self, notebook: str, results: dict) -> Path:
        """Write ``<run>/<notebook>/results.json`` atomically and return its path."""
        text = json.dumps(_to_json(results), indent=2, sort_keys=True) + "\n"
        return atomic_write_text(self.folder(notebook) / "results.json", text)

    def read_results(self, notebook: str) -> dict:
        """Read a notebook's ``results.json``; ``{}`` when that notebook has not run here."""
        return self._read_json(self.path / notebook / "results.json", {})

    @staticmethod
    def _read_json(target: Path, default: dict) -> dict:
        if not target.exists():
            return default
        try:
            return json.loads(target.read_text())
        except json.JSONDecodeError as exc:
            raise RunError("a damaged JSON file in the run directory", where=str(target),
                           expected="valid JSON written by meshkit",
                           found=f"{exc.msg} at line {exc.lineno}") from exc


def ensure_published(run: RunDir, scenario: str = "retail", *, scale: float = 1.0, seed: int = 42):
    """Return ``(scenario, store)`` with every product of the scenario published in the run.

    Products already in the run's store are left as they are, so notebooks can call this
    freely; the first call publishes version 0 of each product. Several scenarios may share
    a store (their product names differ), but one scenario is drawn once per run.

    Raises
    ------
    RunError
        The run's store holds this scenario drawn with another scale or seed (or from a
        user's mesh spec); mixing the two would give silently inconsistent data.
    """
    from meshkit.scenarios import load_scenario

    origin = {"scale": float(scale), "seed": int(seed)}
    recorded = run.published().get(scenario)
    if recorded is not None and recorded != origin:
        raise RunError("the run's store already holds this scenario drawn differently",
                       where=f"run directory, scenario {scenario!r}",
                       expected=f"scale={origin['scale']}, seed={origin['seed']} "
                                "(or another run_dir)",
                       found=", ".join(f"{k}={v}" for k, v in sorted(recorded.items())))
    sc = load_scenario(scenario, scale=scale, seed=seed)
    store = run.store
    for product in sc.mesh.products():
        if not store.exists(product.name):
            store.publish(product, sc.frames[product.name])
    run.record_published(scenario, **origin)
    return sc, store
