"""Your own mesh through the chain: a mesh spec, its files and contracts, nothing embedded.

:func:`load_user_mesh` reads a user's ``mesh.yaml`` (a path resolved from the current
directory, the way the user typed it), reads every product's source file and validates it
against its contract; the :class:`UserMesh` it returns has the interface the notebooks use
on an embedded :class:`~meshkit.scenarios.Scenario` (``name``, ``mesh``, ``frames``,
``task``, ``interactions``, ``training_products``), built only from the user's spec and
files. :func:`skip_reason` says, in one line, why a step cannot run on a mesh (it declares
no supervised task, say); a step that cannot run is skipped, never fed embedded data.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> skip_reason(load_scenario("finance", scale=0.1), "recommender")
"mesh 'finance' declares no interactions: no recommender to train"
>>> skip_reason(load_scenario("retail", scale=0.1), "02_local_training") is None
True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from meshkit._display import Code, Displayable, Heading, Paragraph, Table
from meshkit._errors import QualityError, SpecError

__all__ = ["UserMesh", "load_user_mesh", "resolve_spec_path", "spec_digest", "skip_reason",
           "STEPS"]

#: Each step of the chain, and what it needs the mesh to declare (in words).
STEPS: dict[str, str] = {
    "01_domain_setup": "products",
    "02_local_training": "a supervised task",
    "03_aggregation": "a supervised task",
    "recommender": "interactions",
    "04_consistency": "an entity key",
    "05_security": "three domains",
}


@dataclass(frozen=True, repr=False)
class UserMesh(Displayable):
    """A user's mesh, read from its spec and files, in the shape of a scenario.

    Attributes
    ----------
    name : str
        The mesh's name (from its spec).
    mesh : meshkit.Mesh
        The loaded mesh with its declarations (task, interactions, entities, access).
    frames : dict of str to polars.DataFrame
        Each product's rows, read from its source file.
    spec_path : Path
        The absolute path of the spec.
    digest : str
        SHA-256 over the spec and every file it names (:func:`spec_digest`).
    reports : dict of str to QualityReport
        Each product's per-check quality report against its contract.
    relationships : dict of str to QualityReport
        Referential gaps per product whose contract declares foreign keys.
    """

    name: str
    mesh: Any
    frames: dict[str, pl.DataFrame]
    spec_path: Path
    digest: str
    reports: dict = field(default_factory=dict)
    relationships: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)
    scale: float | None = None
    seed: int | None = None

    @property
    def task(self):
        """The supervised task the spec declares, or ``None``."""
        return self.mesh.task

    @property
    def interactions(self):
        """The interactions the spec declares, or ``None``."""
        return self.mesh.interactions

    @property
    def training_products(self) -> list[str]:
        """The product of each domain carrying :attr:`task`, in domain order (empty without)."""
        return list(self.task.products.values()) if self.task is not None else []

    def origin(self) -> dict:
        """What the run directory records for this mesh: the spec's path and content hash."""
        return {"mesh_spec": str(self.spec_path), "sha256": self.digest}

    def quality(self) -> pl.DataFrame:
        """One row per product: rows, checks, failed checks, not enforced, passed."""
        rows = [{"product": name, "rows": self.frames[name].height, "checks": len(r.checks),
                 "failed": len(r.failed), "passed": r.passed}
                for name, r in self.reports.items()]
        return pl.DataFrame(rows, schema={"product": pl.String, "rows": pl.Int64,
                                          "checks": pl.Int64, "failed": pl.Int64,
                                          "passed": pl.Boolean})

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={frame.height}" for name, frame in self.frames.items())
        return f"UserMesh({self.name!r}, spec={str(self.spec_path)!r}, rows: {sizes})"

    def _render(self) -> list:
        quality = self.quality()
        return [Heading("Your mesh ", Code(self.name)),
                Paragraph(f"from {self.spec_path} (sha256 {self.digest[:12]})", muted=True),
                Table.from_frame(quality)] + self.mesh._render()


def resolve_spec_path(mesh_spec: str | os.PathLike) -> Path:
    """The absolute path of ``mesh_spec`` as the user typed it (relative to the current
    directory); a folder means its ``mesh.yaml``.

    Raises
    ------
    SpecError
        Nothing readable there; the message names the absolute path tried.
    """
    from meshkit._mesh_spec import SPEC_FILE

    given = Path(os.path.expanduser(os.fspath(mesh_spec)))
    path = given if given.is_absolute() else Path.cwd() / given
    path = Path(os.path.abspath(path))
    if path.is_dir():
        path = path / SPEC_FILE
    if not path.is_file() or not os.access(path, os.R_OK):
        raise SpecError("cannot read the mesh spec", where=f"mesh_spec={os.fspath(mesh_spec)!r}",
                        expected=f"a readable {SPEC_FILE} (or a folder holding one), relative "
                                 "to the current directory or absolute",
                        found=f"nothing readable at {path}")
    return path


def spec_digest(mesh) -> str:
    """SHA-256 over the spec file and every file it names (contracts, sources, policy).

    ``mesh.root`` must be the spec's folder (a mesh from :meth:`~meshkit.Mesh.load`); a
    changed sample file changes the digest, so the run directory sees a new draw.
    """
    from meshkit._mesh_spec import SPEC_FILE

    root = Path(mesh.root)
    files = [root / SPEC_FILE]
    for product in mesh.products():
        if product.source is not None:
            files.append(Path(product.source))
    access = getattr(mesh, "access", None)
    if access is not None and access.policy_file is not None:
        files.append(Path(access.policy_file))
    contracts = sorted((root / "contracts").glob("*.y*ml")) if (root / "contracts").is_dir() \
        else []
    digest = hashlib.sha256()
    for path in [*files, *contracts]:
        digest.update(os.fspath(path.relative_to(root) if path.is_relative_to(root)
                                else path).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_user_mesh(mesh_spec: str | os.PathLike, *, allow_outside: bool = False,
                   validate: bool = True, mesh=None) -> UserMesh:
    """Read a user's mesh spec and files, and check every product against its contract.

    Parameters
    ----------
    mesh_spec : str or Path
        ``mesh.yaml`` or its folder, relative to the current directory or absolute.
    allow_outside : bool, default False
        Let the spec name files outside its folder (see :meth:`~meshkit.Mesh.load`).
    validate : bool, default True
        ``False`` only for files already validated in exactly this state (the run directory
        published this spec with this :func:`spec_digest`): the frames are read, no check
        runs, and ``reports`` and ``relationships`` are empty.
    mesh : Mesh, optional
        The spec already loaded from ``mesh_spec`` (saves reading it twice).

    Raises
    ------
    SpecError
        An unreadable path (naming the absolute path tried), or a bad spec (file, line,
        field).
    DataError
        A product without a source file, or a source that cannot be read.
    QualityError
        A product fails its contract; ``report`` is its per-check report. Nothing is
        published from a mesh whose data fails.
    """
    import meshkit._contracts as contracts
    from meshkit._mesh import Mesh

    path = resolve_spec_path(mesh_spec)
    if mesh is None:
        mesh = Mesh.load(path, allow_outside=allow_outside)
    frames = {p.name: mesh.read_source(p.name) for p in mesh.products()}
    if not validate:
        return UserMesh(name=mesh.name, mesh=mesh, frames=frames, spec_path=path,
                        digest=spec_digest(mesh))
    reports = {p.name: contracts.validate(frames[p.name], p.contract) for p in mesh.products()}
    failed = [name for name, report in reports.items() if not report.passed]
    if failed:
        report = reports[failed[0]]
        raise QualityError("a product of your mesh fails its contract; nothing was published",
                           where=f"product {failed[0]!r} ({path})",
                           expected="every check of the contract passing",
                           found=", ".join(f"{c.name}" for c in report.failed[:5]),
                           report=report)
    by_table = {p.contract.tables[0]: frames[p.name] for p in mesh.products()}
    relationships = {p.name: contracts.check_relationships(p.contract, by_table)
                     for p in mesh.products() if p.contract.relationships}
    return UserMesh(name=mesh.name, mesh=mesh, frames=frames, spec_path=path,
                    digest=spec_digest(mesh), reports=reports, relationships=relationships)


def skip_reason(source, step: str) -> str | None:
    """Why ``step`` cannot run on ``source``'s mesh, in one line; ``None`` when it can.

    Parameters
    ----------
    source : Scenario or UserMesh
        Anything with ``name`` and ``mesh``.
    step : str
        A notebook of the chain (``"02_local_training"``...) or ``"recommender"`` (the
        recommender section of ``03_aggregation``); see :data:`STEPS`.

    Raises
    ------
    SpecError
        For a step meshkit does not know.
    """
    if step not in STEPS:
        raise SpecError("unknown step of the chain", where=f"skip_reason(step={step!r})",
                        expected=f"one of {', '.join(STEPS)}", found=repr(step))
    mesh = source.mesh
    label = f"mesh {source.name!r}"
    if step in ("02_local_training", "03_aggregation") and mesh.task is None:
        return f"{label} declares no supervised task: nothing to train"
    if step == "recommender" and mesh.interactions is None:
        return f"{label} declares no interactions: no recommender to train"
    if step == "04_consistency" and not mesh.entities and not any(
            p.contract.primary_key for p in mesh.products()):
        return (f"{label} declares no entity and no product declares a primary key: "
                "nothing to compare")
    if step == "05_security" and len([d for d in mesh.domains.values() if d.products]) < 3:
        return (f"{label} has fewer than three domains with products: the walk-through needs "
                "a product's domain, a consumer's and a third")
    if step == "01_domain_setup" and not any(True for _ in mesh.products()):
        return f"{label} has no data products"
    return None
