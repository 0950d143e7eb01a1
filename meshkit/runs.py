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

__all__ = ["RunDir", "ensure_published"]


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
        from meshkit.store import ProductStore

        return ProductStore(self.path / "store")

    def fresh_store(self):
        """Empty the run's store and return it: the start of a chain (``01_domain_setup``).

        Re-running the first notebook then gives the same versions and outputs every time.
        """
        import shutil

        shutil.rmtree(self.path / "store", ignore_errors=True)
        return self.store

    def folder(self, notebook: str) -> Path:
        """The folder for one notebook's artifacts (created on demand)."""
        folder = self.path / notebook
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write_results(self, notebook: str, results: dict) -> Path:
        """Write ``<run>/<notebook>/results.json`` atomically and return its path."""
        target = self.folder(notebook) / "results.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_to_json(results), indent=2, sort_keys=True) + "\n")
        tmp.replace(target)
        return target

    def read_results(self, notebook: str) -> dict:
        """Read a notebook's ``results.json``; ``{}`` when that notebook has not run here."""
        target = self.path / notebook / "results.json"
        if not target.exists():
            return {}
        return json.loads(target.read_text())


def ensure_published(run: RunDir, scenario: str = "retail", *, scale: float = 1.0, seed: int = 42):
    """Return ``(scenario, store)`` with every product of the scenario published in the run.

    Products already in the run's store are left as they are, so notebooks can call this
    freely; the first call publishes version 0 of each product.
    """
    from meshkit.scenarios import load_scenario

    sc = load_scenario(scenario, scale=scale, seed=seed)
    store = run.store
    for product in sc.mesh.products():
        if not store.exists(product.name):
            store.publish(product, sc.frames[product.name])
    return sc, store
