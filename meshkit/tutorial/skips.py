"""A step the mesh cannot feed is skipped: one line in the notebook, one entry in ``results.json``.

Papermill has no "stop the notebook" (raising would fail the run), so a notebook of the chain
checks once, right after :func:`~meshkit.tutorial.runs.ensure_published`, whether the mesh
declares what it needs (:func:`skip_step`), and each later code cell starts with the cell
magic ``%%unless skipped``. When ``skipped`` holds a reason, the cell does not run and shows
nothing; when it is ``None`` the cell runs exactly as if the line were not there (its
output, its last expression's display, its errors). The notebook then ends without error
and without touching any other data: the step is never fed embedded data instead.

Examples
--------
>>> import tempfile
>>> from meshkit.scenarios import load_scenario
>>> from meshkit.tutorial.runs import RunDir
>>> run = RunDir(tempfile.mkdtemp())
>>> skipped = skip_step(run, "03_aggregation", load_scenario("finance", scale=0.1),
...                     "recommender")
>>> print(skipped)
skipped: mesh 'finance' declares no interactions: no recommender to train
>>> run.read_results("03_aggregation")["skipped"]["recommender"] == skipped.reason
True
>>> skip_step(run, "02_local_training", load_scenario("finance", scale=0.1)) is None
True
"""

from __future__ import annotations

from meshkit._display import Badge, Displayable, Paragraph

__all__ = ["Skipped", "skip_step", "unless", "load_ipython_extension"]


class Skipped(Displayable):
    """Why a notebook (or one of its sections) did not run on this mesh, in one line.

    Attributes
    ----------
    step : str
        The notebook (``"02_local_training"``) or section (``"recommender"``).
    reason : str
        From :func:`~meshkit.tutorial.user_mesh.skip_reason`.
    """

    __slots__ = ("step", "reason")

    def __init__(self, step: str, reason: str) -> None:
        self.step, self.reason = step, reason

    def __repr__(self) -> str:
        return f"Skipped({self.step!r}, {self.reason!r})"

    def _render(self) -> list:
        return [Paragraph(Badge("skipped", None), f": {self.reason}")]


def skip_step(run, notebook: str, source, step: str | None = None) -> Skipped | None:
    """Check whether ``notebook`` (or its section ``step``) can run on ``source``'s mesh.

    When it cannot, the reason is recorded in ``<run>/<notebook>/results.json`` under
    ``skipped`` (:meth:`~meshkit.tutorial.runs.RunDir.write_skipped`) and returned as a
    :class:`Skipped` that displays as one line; when it can, ``None`` (and a reason an
    earlier run recorded for that step is removed). In IPython it also makes the
    ``%%unless`` cell magic available (:func:`load_ipython_extension`).

    Parameters
    ----------
    run : RunDir
    notebook : str
        The notebook of the chain, e.g. ``"04_consistency"``.
    source : Scenario or UserMesh
        What :func:`~meshkit.tutorial.runs.ensure_published` returned.
    step : str, optional
        A section of the notebook (``"recommender"``); default the notebook itself.
    """
    _register_magic()
    reason = run.write_skipped(notebook, source, step)
    return None if reason is None else Skipped(step or notebook, reason)


def unless(line: str, cell: str, shell=None):
    """The ``%%unless NAME`` cell magic: run the cell unless ``NAME`` holds a skip.

    ``NAME`` is evaluated in the notebook's namespace; when it is truthy (a
    :class:`Skipped`) the cell does nothing, otherwise the cell runs as an ordinary cell
    and an error in it fails the cell (and a papermill run) as usual.
    """
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    name = line.strip() or "skipped"
    if shell.ev(name):
        return None
    result = shell.run_cell(cell)
    result.raise_error()
    return None


def load_ipython_extension(shell) -> None:
    """``%load_ext meshkit.tutorial.skips``: register the ``%%unless`` cell magic."""
    shell.register_magic_function(lambda line, cell: unless(line, cell, shell),
                                  magic_kind="cell", magic_name="unless")


def _register_magic() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the notebooks' extra
        return
    shell = get_ipython()
    if shell is not None and "unless" not in shell.magics_manager.magics["cell"]:
        load_ipython_extension(shell)
