"""``python -m meshkit.scenarios export data/``: write the data folder.

Examples
--------
::

    python -m meshkit.scenarios export data/
    python -m meshkit.scenarios export my_data --scenario retail
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshkit._errors import MeshkitError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; return the exit status."""
    from meshkit.scenarios import SCENARIOS
    from meshkit.scenarios._export import export

    parser = argparse.ArgumentParser(prog="python -m meshkit.scenarios",
                                     description="meshkit's embedded scenarios.")
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser(
        "export", help="write each scenario's mesh spec, contracts and sample files")
    export_cmd.add_argument("directory", nargs="?", default="data",
                            help="where to write (default: data)")
    export_cmd.add_argument("--scenario", action="append", choices=SCENARIOS,
                            help="only this scenario (repeatable; default: all)")
    args = parser.parse_args(argv)
    try:
        written = export(args.directory, args.scenario)
    except MeshkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    root = Path(args.directory)
    for path in written:
        print(path.relative_to(root).as_posix())
    return 0


if __name__ == "__main__":
    sys.exit(main())
