"""The ``meshkit`` command: run the notebook chain, list its parameters and the scenarios.

::

    meshkit run [--scenario S | --mesh MESH_YAML] [-p name=value ...] [--out DIR] [--fresh]
                [--only NB ...]
    meshkit params        # each notebook's parameters: type, default, help
    meshkit scenarios     # the embedded scenarios

Exit codes: 0 on success, 1 when the run fails (a notebook error, named with its cell),
2 for bad parameters or bad command-line usage (nothing was run).

Examples
--------
>>> main(["run", "-p", "seed"])  # doctest: +SKIP
usage: meshkit run [-h] ...
meshkit run: error: argument -p/--parameter: -p expects name=value, got 'seed'
2
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path

from meshkit._errors import MeshkitError, ParameterError

__all__ = ["main", "build_parser"]


def _name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"-p expects name=value, got {text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``meshkit`` command."""
    parser = argparse.ArgumentParser(
        prog="meshkit", description="Data mesh toolkit: run the notebook chain and inspect it.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="execute the notebook chain with papermill",
                              description="Execute the notebook chain into a run directory.")
    run.add_argument("--scenario", help="embedded scenario to use (see `meshkit scenarios`)")
    run.add_argument("--mesh", metavar="MESH_YAML",
                     help="your own mesh spec (mesh.yaml or its folder, relative to here): "
                          "every notebook runs on it")
    run.add_argument("--fresh", action="store_true",
                     help="empty the run directory first (its store, record and results)")
    run.add_argument("-p", "--parameter", dest="parameters", action="append", default=[],
                     type=_name_value, metavar="NAME=VALUE",
                     help="a notebook parameter (see `meshkit params`); repeatable")
    run.add_argument("--out", type=Path, help="the run directory (default runs/<timestamp>)")
    run.add_argument("--only", nargs="+", metavar="NOTEBOOK",
                     help="run only these notebooks (names or number prefixes such as 03)")
    run.add_argument("--notebooks", type=Path, help="the folder holding the chain's notebooks")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    params = commands.add_parser("params", help="list each notebook's parameters")
    params.add_argument("--notebooks", type=Path, help="the folder holding the chain's notebooks")

    commands.add_parser("scenarios", help="list the embedded scenarios")
    return parser


def _run(args: argparse.Namespace) -> int:
    from meshkit.tutorial.chain import run_chain

    parameters: dict[str, str] = {}
    for name, value in args.parameters:
        if name in parameters:
            raise ParameterError("parameter given twice", where=f"parameter {name!r}",
                                 expected="one -p per name", found=f"{parameters[name]!r} and {value!r}")
        parameters[name] = value
    result = run_chain(parameters, scenario=args.scenario, out=args.out, notebooks=args.notebooks,
                       only=args.only, progress=not args.no_progress, mesh_spec=args.mesh,
                       fresh=args.fresh)
    print(f"run directory: {result.run_dir}")
    for name, path in result.notebooks.items():
        results = result.run_dir / name / "results.json"
        shown = results if results.exists() else "(no results.json)"
        print(f"  {name}: {path.name}  results: {shown}")
    from meshkit.tutorial.summary import summary_lines

    print("summary:", *summary_lines(result.results), sep="\n  ")
    return 0


def _params(args: argparse.Namespace) -> int:
    from meshkit.tutorial.chain import CHAIN, default_notebooks, notebook_parameters

    folder = args.notebooks or default_notebooks()
    found = False
    for name in CHAIN:
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            continue
        found = True
        print(name)
        declared = notebook_parameters(path)
        if not declared:
            print("  (no parameters)")
        width = max((len(p) for p in declared), default=0)
        for param, info in declared.items():
            line = f"  {param:<{width}}  {info['type']:<6} = {info['default']}"
            print(f"{line}  # {info['help']}" if info["help"] else line)
    if not found:
        print(f"meshkit: no notebook of the chain in {folder}", file=sys.stderr)
        return 1
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    from meshkit.scenarios import SCENARIOS

    for name in SCENARIOS:  # our own modules: an ImportError is a bug, not a blank line
        doc = (import_module(f"meshkit.scenarios.{name}").__doc__ or "").strip()
        summary = doc.splitlines()[0] if doc else ""
        print(f"{name:<14} {summary}".rstrip())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``meshkit`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse already printed
        return int(exit_.code or 0)
    handlers = {"run": _run, "params": _params, "scenarios": _scenarios}
    try:
        return handlers[args.command](args)
    except ParameterError as exc:
        print(f"meshkit: error: {exc}", file=sys.stderr)
        print("nothing was run; `meshkit params` lists the parameters", file=sys.stderr)
        return 2
    except MeshkitError as exc:
        print(f"meshkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
