"""Run the notebook chain with papermill into a run directory.

The chain is :data:`CHAIN`; :func:`run_chain` runs the notebooks of it found in the
notebooks folder, in order, each executed copy saved as ``<run>/<notebook>.ipynb`` and each
notebook's ``<run>/<notebook>/results.json`` collected. Parameters are checked against the
parameters cell of every notebook *before anything runs*: a name no notebook declares, or a
value that does not convert to the declared type, raises :class:`~meshkit._errors.ParameterError`
(papermill on its own would only warn). Each notebook gets the parameters it declares, plus
``run_dir``, the absolute run directory.

Examples
--------
>>> convert_value("7", "int", where="02_local_training: seed")
7
>>> convert_value("yes", "bool", where="05_security: interactive")
True
>>> convert_value("sales, stock", "list", where="01_domain_setup: domains")
['sales', 'stock']
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from meshkit._display import Details, Displayable, Facts, Heading
from meshkit._errors import ParameterError, RunError
from meshkit.tutorial.kernels import kernel_config
from meshkit.tutorial.runs import RunDir

__all__ = ["CHAIN", "ChainResult", "default_notebooks", "notebook_parameters", "convert_value",
           "check_parameters", "run_chain", "new_run_id"]

#: The notebook chain, in the order it runs.
CHAIN: tuple[str, ...] = ("01_domain_setup", "02_local_training", "03_aggregation",
                          "04_consistency", "05_security")

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_OPTIONAL = re.compile(r"^(?:Optional\[(?P<inner>.+)\]|(?P<left>.+?)\s*\|\s*None|None\s*\|\s*(?P<right>.+))$")


def default_notebooks() -> Path:
    """The repository's ``notebooks/`` folder, next to the ``meshkit`` package."""
    import meshkit

    return Path(meshkit.__file__).resolve().parents[1] / "notebooks"


def new_run_id() -> str:
    """A sortable run name without colons, e.g. ``20261127-012457`` (UTC)."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def _fresh_run_path(parent: Path) -> Path:
    """Create and return ``parent/<run id>``, with a ``-2``, ``-3``... suffix if taken.

    The folder is claimed with an exclusive ``mkdir``, so two runs started in the same
    second never share a run directory.
    """
    parent.mkdir(parents=True, exist_ok=True)
    base = new_run_id()
    candidate, n = parent / base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = parent / f"{base}-{n}"


@dataclass(repr=False)
class ChainResult(Displayable):
    """What a chain run left behind.

    Attributes
    ----------
    run_dir : Path
        The run directory (absolute).
    notebooks : dict of str to Path
        Each executed notebook, in run order.
    results : dict of str to dict
        Each notebook's ``results.json`` (``{}`` when it wrote none).
    parameters : dict of str to dict
        The converted parameters each notebook received.
    """

    run_dir: Path
    notebooks: dict[str, Path] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)
    parameters: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: the run's name (no machine path), each notebook's file name, results
        and parameters."""
        return {"run": self.run_dir.name,
                "notebooks": {name: path.name for name, path in self.notebooks.items()},
                "results": self.results, "parameters": self.parameters}

    def _render(self) -> list:
        out = [Heading(f"Chain run {self.run_dir.name}: {len(self.notebooks)} notebook(s)")]
        for name in self.notebooks:
            headline = {k: v for k, v in self.results.get(name, {}).items()
                        if isinstance(v, (str, int, float, bool)) or v is None}
            out.append(Details(name, [Facts(headline)] if headline else []))
        return out

    def __repr__(self) -> str:
        return f"ChainResult(run={self.run_dir.name!r}, notebooks={list(self.notebooks)})"


# ------------------------------------------------------------------------- parameters
def notebook_parameters(path: str | os.PathLike) -> dict[str, dict]:
    """The parameters a notebook declares: name -> ``{"type", "default", "help"}``.

    Read from the cell tagged ``parameters`` by :func:`papermill.inspect_notebook`.
    """
    import papermill

    try:
        found = papermill.inspect_notebook(str(path))
    except Exception as exc:
        raise RunError("cannot read the notebook's parameters", where=str(Path(path).name),
                       found=f"{type(exc).__name__}: {exc}") from exc
    return {name: {"type": info.get("inferred_type_name") or "None",
                   "default": info.get("default"), "help": info.get("help") or ""}
            for name, info in found.items()}


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _item_type(type_name: str) -> str | None:
    """``"int"`` for ``"list[int]"``; ``None`` for a bare ``list``."""
    _, bracket, rest = type_name.partition("[")
    return (rest.rsplit("]", 1)[0].strip() or None) if bracket else None


def convert_value(value: Any, type_name: str, *, where: str) -> Any:
    """Convert ``value`` (a string from the command line, or a Python value) to ``type_name``.

    Parameters
    ----------
    value : object
        The value given.
    type_name : str
        The annotation in the parameters cell: ``int``, ``float``, ``bool``, ``str``,
        ``list``, ``dict``, ``list[...]``, ``Optional[...]``; anything else passes through
        (strings are read as Python literals when they are one).
    where : str
        Names the notebook and parameter in the error.

    Raises
    ------
    ParameterError
        When the value cannot be converted.
    """
    type_name = (type_name or "None").strip()
    optional = _OPTIONAL.match(type_name)
    if optional:
        if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null"}):
            return None
        inner = optional.group("inner") or optional.group("left") or optional.group("right")
        return convert_value(value, inner, where=where)
    base = type_name.split("[", 1)[0].strip().lower()

    def refuse() -> ParameterError:
        return ParameterError("value does not fit the parameter's type", where=where,
                              expected=type_name, found=repr(value))

    if base == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise refuse()
    if base == "int":
        if isinstance(value, bool):
            raise refuse()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                raise refuse() from None
        raise refuse()
    if base == "float":
        if isinstance(value, bool):
            raise refuse()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise refuse() from None
        raise refuse()
    if base == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise refuse()
    if base in {"list", "tuple"}:
        item = _item_type(type_name) if base == "list" else None
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(("[", "(")):
                value = _literal(text)
            else:  # a, b, c: each part read by the item type, or as a literal
                value = [part.strip() if item else _literal(part.strip())
                         for part in text.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise refuse()
        if item is None:
            return list(value)
        return [convert_value(v, item, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if base == "dict":
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            parsed = _literal(value.strip())
            if isinstance(parsed, dict):
                return parsed
        raise refuse()
    # unannotated or a type meshkit does not convert: pass it on as given
    return _literal(value) if isinstance(value, str) else value


def check_parameters(parameters: dict[str, Any], declared: dict[str, dict[str, dict]]
                     ) -> dict[str, dict[str, Any]]:
    """Check ``parameters`` against each notebook's declarations; return what each receives.

    Parameters
    ----------
    parameters : dict
        Name -> value (strings from the command line or Python values).
    declared : dict
        Notebook name -> :func:`notebook_parameters` of it.

    Returns
    -------
    dict
        Notebook name -> the converted parameters it declares.

    Raises
    ------
    ParameterError
        A name no notebook declares (the known names are listed), ``run_dir`` (set by the
        run itself), or a value that does not convert to a notebook's declared type.
    """
    known = sorted({name for params in declared.values() for name in params} - {"run_dir"})
    for name in parameters:
        if name == "run_dir":
            raise ParameterError("run_dir is set by the run itself; choose it with out= "
                                 "(meshkit run --out DIR)", where="parameter 'run_dir'",
                                 expected=f"one of {', '.join(known) or 'no parameters'}",
                                 found="run_dir")
        if name not in known:
            raise ParameterError("no notebook in this run declares this parameter",
                                 where=f"parameter {name!r}",
                                 expected=f"one of {', '.join(known) or 'no parameters'}",
                                 found=repr(name))
    given: dict[str, dict[str, Any]] = {}
    for notebook, params in declared.items():
        given[notebook] = {
            name: convert_value(value, params[name]["type"], where=f"{notebook}: parameter {name!r}")
            for name, value in parameters.items() if name in params
        }
    return given


# ---------------------------------------------------------------------------- running
def _select(folder: Path, only: list[str] | tuple[str, ...] | str | None) -> list[str]:
    present = [name for name in CHAIN if (folder / f"{name}.ipynb").is_file()]
    if not present:
        raise RunError("no notebook of the chain found", where=str(folder),
                       expected=", ".join(f"{name}.ipynb" for name in CHAIN), found="none")
    if only is None:
        return present
    wanted = [only] if isinstance(only, str) else list(only)
    chosen = []
    for item in wanted:
        matches = [name for name in present if name == item or name.split("_", 1)[0] == item]
        if not matches:
            raise ParameterError("no such notebook in the chain", where=f"only={item!r}",
                                 expected=f"one of {', '.join(present)}", found=repr(item))
        chosen.extend(m for m in matches if m not in chosen)
    return [name for name in present if name in chosen]


def _failure(notebook: str, output: Path, exc: Exception) -> RunError:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        first_line = next((line for line in (exc.source or "").splitlines() if line.strip()), "")
        return RunError(
            f"notebook failed in the cell `{first_line.strip()[:80]}`; "
            f"the executed notebook is kept at {output}",
            where=f"{notebook}.ipynb, cell In [{exc.exec_count}]",
            found=f"{exc.ename}: {exc.evalue}",
            notebook=notebook, cell=exc.exec_count, output=output)
    return RunError(f"notebook could not run; what it executed is kept at {output}",
                    where=f"{notebook}.ipynb",
                    found=f"{type(exc).__name__}: {exc}".split("\n")[0],
                    notebook=notebook, cell=None, output=output)


def _check_run_holds(run: RunDir, parameters: dict[str, Any], fresh: bool) -> None:
    """Refuse to run another mesh into a run directory that holds one (unless ``fresh``)."""
    published = run.published()
    if fresh:
        run.clear_draw()
        return
    spec = parameters.get("mesh_spec") or None
    for name, held in published.items():
        if held.get("mesh_spec") != spec:
            wanted = f"mesh from {spec}" if spec else "an embedded scenario"
            what = (f"mesh {name!r} from {held['mesh_spec']}" if held.get("mesh_spec")
                    else f"scenario {name!r}")
            raise RunError("the run directory holds another mesh; mixing the two would give "
                           "silently inconsistent data", where=str(run.path),
                           expected=f"{wanted}: a new run directory (meshkit run --out NEW), "
                                    "or this one emptied first (meshkit run --fresh)",
                           found=what)


def run_chain(parameters: dict[str, Any] | None = None, *, scenario: str | None = None,
              out: str | os.PathLike | None = None, notebooks: str | os.PathLike | None = None,
              only: list[str] | str | None = None, progress: bool = True,
              mesh_spec: str | os.PathLike | None = None, fresh: bool = False) -> ChainResult:
    """Execute the notebook chain with papermill.

    Parameters
    ----------
    parameters : dict, optional
        Notebook parameters by name; values may be strings (converted by the declared type,
        booleans from true/false/1/0/yes/no) or Python values.
    scenario : str, optional
        Shorthand for ``parameters["scenario"]``; must be one of
        :data:`meshkit.scenarios.SCENARIOS`.
    out : str or Path, optional
        The run directory; default ``runs/<id>`` with a sortable timestamp id.
    notebooks : str or Path, optional
        The folder holding the chain's notebooks (default :func:`default_notebooks`).
    only : str or list of str, optional
        Run only these notebooks (names such as ``"03_aggregation"`` or prefixes ``"03"``).
    progress : bool, default True
        Show papermill's progress bar per notebook, named ``[i/n] <notebook>``.
    mesh_spec : str or Path, optional
        Shorthand for ``parameters["mesh_spec"]``: a user's ``mesh.yaml`` (or its folder).
        Either way it is resolved from the current directory and every notebook declaring
        ``mesh_spec`` receives the absolute path; an unreadable path is a
        :class:`~meshkit.SpecError` naming the absolute path tried.
    fresh : bool, default False
        Empty the run directory's store, its record and every ``results.json`` first.
        Without it, a run directory holding another mesh (a user's, or a scenario when a
        user's mesh is asked for) is refused before anything runs.

    Returns
    -------
    ChainResult

    Raises
    ------
    ParameterError
        Unknown names or badly typed values; nothing was run.
    RunError
        A notebook failed; the message names the notebook, the cell and the error, and the
        executed notebook is kept in the run directory.

    Examples
    --------
    >>> result = run_chain({"seed": "7"}, scenario="retail", out="runs/try")  # doctest: +SKIP
    >>> result.results["01_domain_setup"]  # doctest: +SKIP
    """
    import papermill

    folder = Path(notebooks) if notebooks is not None else default_notebooks()
    folder = folder.resolve()
    parameters = dict(parameters or {})
    if scenario is not None:
        if "scenario" in parameters and parameters["scenario"] != scenario:
            raise ParameterError("the scenario is given twice with different values",
                                 where="parameter 'scenario'", expected=repr(scenario),
                                 found=repr(parameters["scenario"]))
        parameters["scenario"] = scenario
    if "scenario" in parameters:
        from meshkit.scenarios import SCENARIOS

        if parameters["scenario"] not in SCENARIOS:
            raise ParameterError("unknown scenario", where="parameter 'scenario'",
                                 expected=f"one of {', '.join(SCENARIOS)}",
                                 found=repr(parameters["scenario"]))

    if mesh_spec is not None:
        if parameters.get("mesh_spec") and parameters["mesh_spec"] != mesh_spec:
            raise ParameterError("the mesh spec is given twice with different values",
                                 where="parameter 'mesh_spec'", expected=repr(str(mesh_spec)),
                                 found=repr(parameters["mesh_spec"]))
        parameters["mesh_spec"] = mesh_spec
    if parameters.get("mesh_spec"):
        from meshkit.tutorial.user_mesh import resolve_spec_path

        parameters["mesh_spec"] = str(resolve_spec_path(parameters["mesh_spec"]))

    chain = _select(folder, only)
    declared = {name: notebook_parameters(folder / f"{name}.ipynb") for name in chain}
    given = check_parameters(parameters, declared)

    run = RunDir(Path(out) if out is not None else _fresh_run_path(Path("runs")))
    run_path = run.path.resolve()
    _check_run_holds(run, parameters, fresh)
    result = ChainResult(run_dir=run_path)
    for position, name in enumerate(chain, start=1):
        output = run_path / f"{name}.ipynb"
        received = {**given[name], "run_dir": str(run_path)}
        result.parameters[name] = received
        # an earlier run's results must not pass for this run's
        (run_path / name / "results.json").unlink(missing_ok=True)
        try:
            papermill.execute_notebook(str(folder / f"{name}.ipynb"), str(output),
                                       parameters=received, cwd=str(folder),
                                       kernel_name="python3", config=kernel_config(),
                                       progress_bar=progress and {
                                           "desc": f"[{position}/{len(chain)}] {name}"})
        except Exception as exc:  # a failing cell, a dead or missing kernel, a bad notebook
            raise _failure(name, output, exc) from exc
        result.notebooks[name] = output
        result.results[name] = run.read_results(name)
    return result
