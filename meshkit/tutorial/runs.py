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
        """Record that the store holds mesh ``name`` drawn with ``origin`` (e.g. scale, seed).

        A user's mesh is recorded by its spec (``mesh_spec=``): the absolute path (a relative
        one is taken from the current directory) and a SHA-256 of its files, computed here
        unless given as ``sha256``.
        """
        if origin.get("mesh_spec"):
            from meshkit.tutorial.user_mesh import resolve_spec_path, spec_digest

            spec = resolve_spec_path(origin["mesh_spec"])
            if "sha256" not in origin:
                from meshkit._mesh import Mesh

                origin["sha256"] = spec_digest(Mesh.load(spec))
            origin["mesh_spec"] = str(spec)
        published = self.published()
        published[name] = _to_json(origin)
        atomic_write_text(self.path / _PUBLISHED,
                          json.dumps(published, indent=2, sort_keys=True) + "\n")

    def clear_draw(self) -> None:
        """Remove the store, its record and every notebook's ``results.json``: what a new
        draw (another seed or scale, changed files) replaces."""
        self.fresh_store()
        for results in self.path.glob("*/results.json"):
            results.unlink()

    def folder(self, notebook: str) -> Path:
        """The folder for one notebook's artifacts (created on demand)."""
        folder = self.path / notebook
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write_results(self, notebook: str, results: dict) -> Path:
        """Write ``<run>/<notebook>/results.json`` atomically and return its path.

        The sections :meth:`write_skipped` recorded as skipped (``skipped``) are kept when
        ``results`` does not say otherwise: a notebook that ran without its recommender
        still says why at the end.
        """
        if "skipped" not in results:
            skipped = self.read_results(notebook).get("skipped")
            if isinstance(skipped, dict) and skipped:
                results = {**results, "skipped": skipped}
        return self._write_results(notebook, results)

    def _write_results(self, notebook: str, results: dict) -> Path:
        text = json.dumps(_to_json(results), indent=2, sort_keys=True) + "\n"
        return atomic_write_text(self.folder(notebook) / "results.json", text)

    def write_skipped(self, notebook: str, source, step: str | None = None) -> str | None:
        """Record in ``results.json`` why ``notebook`` (or its ``step``) cannot run on
        ``source``'s mesh, and return the one-line reason; ``None`` when it can run (see
        :func:`~meshkit.tutorial.user_mesh.skip_reason`), and a reason an earlier run
        recorded for that step is removed.

        Examples
        --------
        >>> import tempfile
        >>> from meshkit.scenarios import load_scenario
        >>> run = RunDir(tempfile.mkdtemp())
        >>> run.write_skipped("03_aggregation", load_scenario("finance", scale=0.1),
        ...                   "recommender")
        "mesh 'finance' declares no interactions: no recommender to train"
        >>> run.read_results("03_aggregation")["skipped"]["recommender"][:14]
        "mesh 'finance'"
        """
        from meshkit.tutorial.user_mesh import skip_reason

        reason = skip_reason(source, step or notebook)
        results = self.read_results(notebook)
        skipped = results.get("skipped") if isinstance(results.get("skipped"), dict) else {}
        if reason is not None:
            results.update({"mesh": source.name,
                            "skipped": {**skipped, (step or notebook): reason}})
            self.write_results(notebook, results)
        elif (step or notebook) in skipped:  # recorded by an earlier run of another mesh
            skipped = {k: v for k, v in skipped.items() if k != (step or notebook)}
            results = {k: v for k, v in results.items() if k != "skipped"}
            self._write_results(notebook, {**results, "skipped": skipped} if skipped else results)
        return reason

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


def _refuse_other(held: str, wanted: str) -> RunError:
    return RunError("the run directory holds another mesh; mixing the two would give "
                    "silently inconsistent data", where="run directory",
                    expected=f"{wanted}: a new run directory (meshkit run --out NEW), or this "
                             "one emptied first (meshkit run --fresh, or run.fresh_store())",
                    found=held)


def _describe(name: str, origin: dict) -> str:
    if "mesh_spec" in origin:
        return f"mesh {name!r} from {origin['mesh_spec']}"
    return f"scenario {name!r} (" + ", ".join(f"{k}={v}" for k, v in sorted(origin.items())) + ")"


def ensure_published(run: RunDir, scenario: str = "retail", *, scale: float = 1.0, seed: int = 42,
                     mesh_spec: str | os.PathLike | None = None):
    """Return ``(source, store)`` with every product of the mesh published in the run.

    ``source`` is the embedded :class:`~meshkit.scenarios.Scenario` (``mesh_spec`` empty),
    or, with ``mesh_spec``, the user's mesh (:class:`~meshkit.tutorial.user_mesh.UserMesh`:
    the same interface, built only from the user's spec and files, each product validated
    with its per-check quality report). Products already in the run's store are left as they
    are, so notebooks can call this freely; the first call publishes version 0 of each. A
    user's mesh is validated once: when the run directory already holds this spec published
    with the same files (the same SHA-256), a later call only reads the files (the returned
    mesh's ``reports`` are then empty) and neither validates nor publishes again.

    The run directory records what it holds (``published.json``): a scenario's draw (scale,
    seed), or a user's mesh (the spec's absolute path and a SHA-256 of its files). Several
    scenarios may share a store (their product names differ). Asking for the same scenario
    with another scale or seed, or for the same spec whose files changed, replaces the
    previous draw: the store and every notebook's ``results.json`` are removed first, so
    two draws are never mixed.

    Parameters
    ----------
    run : RunDir
    scenario : str, default "retail"
        The embedded scenario, when ``mesh_spec`` is empty.
    scale, seed
        The scenario's draw (ignored with ``mesh_spec``).
    mesh_spec : str or Path, optional
        A user's ``mesh.yaml`` (or its folder), relative to the current directory or absolute.

    Raises
    ------
    RunError
        The run directory holds another mesh (a user's, or a scenario when a user's mesh is
        asked for); the message gives the way out (a new ``--out``, or ``--fresh``).
    SpecError, DataError, QualityError
        From reading the user's mesh (:func:`~meshkit.tutorial.user_mesh.load_user_mesh`);
        nothing is published.
    """
    published = run.published()
    if mesh_spec:
        from meshkit._mesh import Mesh
        from meshkit.tutorial.user_mesh import load_user_mesh, resolve_spec_path, spec_digest

        path = resolve_spec_path(mesh_spec)
        mesh = Mesh.load(path)
        origin = {"mesh_spec": str(path), "sha256": spec_digest(mesh)}
        for name, held in published.items():
            if held.get("mesh_spec") != origin["mesh_spec"]:
                raise _refuse_other(_describe(name, held), _describe(mesh.name, origin))
        unchanged = published.get(mesh.name) == origin and all(
            run.store.exists(p.name) for p in mesh.products())
        # this exact mesh is validated and published here already: no second validation
        source = load_user_mesh(path, mesh=mesh, validate=not unchanged)
        if published and not unchanged:
            run.clear_draw()  # the same spec, its files changed: a new draw
    else:
        from meshkit.scenarios import load_scenario

        origin = {"scale": float(scale), "seed": int(seed)}
        users = [(n, o) for n, o in published.items() if "mesh_spec" in o]
        if users:
            raise _refuse_other(_describe(*users[0]), _describe(scenario, origin))
        recorded = published.get(scenario)
        if recorded is not None and recorded != origin:
            run.clear_draw()  # another draw of the scenario replaces the previous one
        source = load_scenario(scenario, scale=scale, seed=seed)
    store = run.store
    for product in source.mesh.products():
        if not store.exists(product.name):
            store.publish(product, source.frames[product.name])
    run.record_published(source.name, **origin)
    return source, store
