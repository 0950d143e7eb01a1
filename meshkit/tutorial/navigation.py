"""Navigation of the tutorial: previous, next and contents links in one style, and the contents.

Every notebook of the chain starts and ends with a markdown cell tagged ``navigation``::

    *[Contents](00_contents.ipynb) · ← [01 · Domain setup](01_domain_setup.ipynb) · [03 · Aggregation](03_aggregation.ipynb) →*

and ``00_contents.ipynb`` lists the chain with what each notebook teaches. Both are generated
here, from the chain's order and each notebook's title (its first ``#`` heading, up to the
colon), so they cannot disagree. Run after adding, renaming or retitling a notebook::

    python -m meshkit.tutorial.navigation [NOTEBOOKS]          # rewrite in place
    python -m meshkit.tutorial.navigation --check [NOTEBOOKS]  # exit 1 when out of date

Examples
--------
>>> navigation_line("02_local_training", {"01_domain_setup": "01 · Domain setup",
...     "02_local_training": "02 · Local training", "03_aggregation": "03 · Aggregation"})
'*[Contents](00_contents.ipynb) · ← [01 · Domain setup](01_domain_setup.ipynb) · [03 · Aggregation](03_aggregation.ipynb) →*'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from meshkit._errors import RunError
from meshkit.tutorial.chain import CHAIN, default_notebooks

__all__ = ["CONTENTS", "TAG", "SUMMARIES", "title", "navigation_line", "navigated",
           "contents_notebook", "update", "main"]

#: The contents notebook's name (without ``.ipynb``).
CONTENTS = "00_contents"
#: The tag of the generated navigation cells.
TAG = "navigation"
#: What each notebook of the chain teaches, one line each, for the contents.
SUMMARIES = {
    "01_domain_setup": "domains, owners and data products (ODCS contracts); validate; publish "
                       "versioned products to Delta Lake; the catalog",
    "02_local_training": "each domain trains on its own data; why local-only is not enough",
    "03_aggregation": "θ = aggregate(θ₁…θₙ): rounds, strategies, privacy, Byzantine domains, "
                      "the recommender",
    "04_consistency": "consistency(D₁, D₂) = similarity(D₁, D₂) > θ: drift tests exact or from "
                      "shared profiles; sync; versions; rollback",
    "05_security": "security(D) = encryption(D) ∩ authentication(U) ∩ authorization(U, D): "
                   "attacks refused; an audit log a third party can check",
}


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError("cannot read the notebook", where=str(path), expected="a .ipynb file",
                       found=f"{type(exc).__name__}: {exc}") from exc


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _is_navigation(cell: dict) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def title(notebook: dict, *, where: str = "notebook") -> str:
    """The notebook's short title: its first ``#`` heading up to the colon.

    Raises
    ------
    RunError
        The notebook has no top-level heading.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown" or _is_navigation(cell):
            continue
        for line in _text(cell).splitlines():
            if line.startswith("# "):
                return line[2:].split(":", 1)[0].strip()
    raise RunError("the notebook has no title", where=where,
                   expected="a markdown cell starting with '# NN · Title'", found="none")


def navigation_line(name: str, titles: dict[str, str]) -> str:
    """The navigation line of notebook ``name`` in a chain whose ``titles`` are in order."""
    order = list(titles)
    i = order.index(name)
    parts = [f"[Contents]({CONTENTS}.ipynb)"]
    if i > 0:
        parts.append(f"← [{titles[order[i - 1]]}]({order[i - 1]}.ipynb)")
    if i + 1 < len(order):
        parts.append(f"[{titles[order[i + 1]]}]({order[i + 1]}.ipynb) →")
    return "*" + " · ".join(parts) + "*"


def _markdown(cell_id: str, text: str, *, tags: tuple[str, ...] = (TAG,)) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {"tags": list(tags)},
            "source": text.splitlines(keepends=True)}


def navigated(notebook: dict, line: str) -> dict:
    """``notebook`` with its navigation cells (first and last) replaced by ``line``."""
    cells = [c for c in notebook.get("cells", []) if not _is_navigation(c)]
    return {**notebook, "cells": [_markdown("navigation-top", line), *cells,
                                  _markdown("navigation-bottom", line)]}


def contents_notebook(titles: dict[str, str], metadata: dict) -> dict:
    """``00_contents.ipynb``: the chain in order, each notebook with what it teaches."""
    rows = "\n".join(f"| [{titles[name]}]({name}.ipynb) | {SUMMARIES.get(name, '')} |"
                     for name in titles)
    first = next(iter(titles))
    text = (
        "# meshkit tutorial: contents\n\n"
        "A data mesh in five notebooks, each on the run directory the previous one left "
        "(every notebook also runs on its own). They run in JupyterLab, in batch with "
        "`meshkit run`, or one by one with papermill.\n\n"
        "| notebook | what you learn and do |\n|---|---|\n" + rows + "\n\n"
        f"Start with [{titles[first]}]({first}.ipynb)."
    )
    return {"cells": [_markdown("contents", text, tags=())], "metadata": metadata,
            "nbformat": 4, "nbformat_minor": 5}


def _dump(notebook: dict) -> str:
    # the layout nbformat (and so Jupyter and nbconvert) writes
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def update(folder: str | os.PathLike | None = None, *, check: bool = False) -> list[Path]:
    """Write (or, with ``check``, only compare) every notebook's navigation and the contents.

    Returns
    -------
    list of Path
        The files that changed (or would change).
    """
    folder = Path(folder) if folder is not None else default_notebooks()
    chain = [name for name in CHAIN if (folder / f"{name}.ipynb").is_file()]
    if not chain:
        raise RunError("no notebook of the chain found", where=str(folder),
                       expected=", ".join(f"{n}.ipynb" for n in CHAIN), found="none")
    notebooks = {name: _read(folder / f"{name}.ipynb") for name in chain}
    titles = {name: title(nb, where=f"{name}.ipynb") for name, nb in notebooks.items()}
    wanted = {folder / f"{name}.ipynb": _dump(navigated(nb, navigation_line(name, titles)))
              for name, nb in notebooks.items()}
    # the first notebook's kernel and language, not what its run saved (widget state...)
    metadata = {key: value for key, value in notebooks[chain[0]].get("metadata", {}).items()
                if key in ("kernelspec", "language_info")}
    wanted[folder / f"{CONTENTS}.ipynb"] = _dump(contents_notebook(titles, metadata))
    changed = []
    for path, text in wanted.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            changed.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m meshkit.tutorial.navigation [--check] [NOTEBOOKS]``."""
    parser = argparse.ArgumentParser(prog="python -m meshkit.tutorial.navigation",
                                     description="Generate the tutorial's navigation and contents.")
    parser.add_argument("notebooks", nargs="?", type=Path, help="the notebooks folder")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a notebook is out of date")
    args = parser.parse_args(argv)
    changed = update(args.notebooks, check=args.check)
    for path in changed:
        print(("out of date: " if args.check else "wrote ") + path.name)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
