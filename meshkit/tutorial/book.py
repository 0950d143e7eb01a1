"""The tutorial as a static HTML site that reads with no network: ``make book``.

Each notebook of the executed chain (``00_contents`` and 01..05) becomes one page,
``<notebook>.html``, rendered by nbconvert's JupyterLab template with everything a page needs
inside it:

* **no script and no style from the network**: the template's MathJax, require.js, widget
  manager and Mermaid scripts are left out; its CSS is inlined; pictures are data URIs;
* **math** as MathML, rendered here (:mod:`meshkit.tutorial.book_math`);
* **widgets** as the saved state shows them, static (:mod:`meshkit.tutorial.book_widgets`),
  under a one-line note that the controls are live in JupyterLab;
* **navigation**: the notebooks' own previous/next/contents cells
  (:mod:`meshkit.tutorial.navigation`), their ``.ipynb`` links pointed at the pages.

Every page is checked before the site is written: it loads nothing but its own ``data:`` URIs,
and each relative link leads to a page of the site. A site is written whole or not at all (it
is built beside ``OUT`` and then put in its place), and ``OUT`` is only ever replaced when it is
empty or a book written here before. ``index.html`` opens the contents.

Run it as::

    python -m meshkit.tutorial.book [NOTEBOOKS] [OUT]    # default: notebooks/ -> build/book/

Examples
--------
>>> network_loads('<img src="https://example.org/a.png"><script src="local.js"></script>')
['https://example.org/a.png']
>>> page_href("02_local_training.ipynb#rounds", {"02_local_training"})
'02_local_training.html#rounds'
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import nbformat
from bs4 import BeautifulSoup
from jinja2 import DictLoader, pass_context
from nbconvert import HTMLExporter

from meshkit._errors import RunError
from meshkit.tutorial.book_math import markdown_html
from meshkit.tutorial.book_widgets import WIDGET_STATE, static_outputs
from meshkit.tutorial.chain import CHAIN, default_notebooks
from meshkit.tutorial.navigation import CONTENTS, title

__all__ = ["NOTE", "MARKER", "Book", "book_pages", "render_page", "network_loads", "page_href",
           "build_book", "main"]

#: Shown above every saved widget: the page shows its state, JupyterLab runs it.
NOTE = ('<p class="mk-widget-note">Saved controls, shown as they were left: they are live when '
        "the notebook runs in JupyterLab.</p>")
#: The file that marks a folder as a book written here (the only kind ``build_book`` replaces).
MARKER = ".meshkit-book"

_CSS = """
main { max-width: 72rem; margin: 0 auto; }
math { font-family: "STIX Two Math", "Latin Modern Math", "DejaVu Math TeX Gyre", math; }
math[display="block"] { margin: 0.8em 0; font-size: 1.15em; }
.mk-widget-saved { border-left: 3px solid var(--jp-brand-color1); padding: 0.2em 0 0.2em 0.8em; }
.mk-widget-note { font-style: italic; color: var(--jp-ui-font-color2); margin: 0 0 0.4em; }
.mk-widget-box { display: flex; gap: 0.4em; margin: 0.2em 0; }
.mk-widget-column { flex-direction: column; align-items: stretch; }
.mk-widget-row { flex-direction: row; flex-wrap: wrap; align-items: center; }
.mk-widget { display: flex; align-items: center; gap: 0.6em; }
.mk-widget-label { min-width: 7em; text-align: right; }
.mk-widget-value { font-family: var(--jp-code-font-family); color: var(--jp-ui-font-color1); }
.mk-widget-kind, .mk-widget-missing { color: var(--jp-ui-font-color2); font-style: italic; }
.mk-widget-button { padding: 0.2em 1em; }
.mk-widget-tab > summary { cursor: pointer; font-weight: 600; padding: 0.2em 0; }
.mk-widget-html { overflow-x: auto; }
.mk-widget-image { max-width: 100%; }
.jp-InputArea, .jp-InputArea-editor { overflow-x: auto; }
"""

# the lab template, less everything it loads from the network; a body-only one for the
# outputs an Output widget keeps
_TEMPLATES = {
    "book.html.j2": """{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block extra_css %}<style type="text/css">{{ resources.book_css }}</style>{% endblock extra_css %}
""",
    "book_outputs.html.j2": "{%- extends 'base.html.j2' -%}\n",
}

# attributes through which an element loads something (an <a href> is only followed on a click)
_LOADING = {"src", "srcset", "data", "poster", "background"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


class _BookExporter(HTMLExporter):
    """nbconvert's HTML exporter on the book's templates, with formulas as MathML."""

    def __init__(self, template_file: str, **options) -> None:
        super().__init__(template_name="lab", template_file=template_file,
                         extra_loaders=[DictLoader(_TEMPLATES)], embed_images=True,
                         exclude_input_prompt=True, exclude_output_prompt=True, **options)

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        resources = context.get("resources", {})
        where = f"{resources.get('book_page', 'notebook')}.ipynb, cell {cell.get('id', '?')}"
        return markdown_html(source, where=where, attachments=cell.get("attachments", {}),
                             embed_images=self.embed_images,
                             path=resources.get("metadata", {}).get("path", ""),
                             anchor_link_text=self.anchor_link_text,
                             exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)


@dataclass(frozen=True)
class Book:
    """A written book: its ``folder`` and its ``pages`` (one per notebook, in chain order)."""

    folder: Path
    pages: tuple[Path, ...]

    @property
    def size(self) -> int:
        """The site's size in bytes."""
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


def book_pages(folder: str | os.PathLike | None = None) -> list[str]:
    """The notebooks of ``folder`` that the book shows: the contents, then the chain, in order.

    Raises
    ------
    RunError
        No notebook of the chain is in ``folder``.
    """
    folder = Path(folder) if folder is not None else default_notebooks()
    names = [n for n in (CONTENTS, *CHAIN) if (folder / f"{n}.ipynb").is_file()]
    if not any(n in CHAIN for n in names):
        raise RunError("no notebook of the chain found", where=str(folder),
                       expected=", ".join(f"{n}.ipynb" for n in CHAIN), found="none")
    return names


def page_href(href: str, pages: set[str]) -> str:
    """``href`` pointed at the book: a link to a notebook of the book goes to its page."""
    parts = urlsplit(href)
    path = Path(parts.path)
    if parts.scheme or parts.netloc or path.suffix != ".ipynb" or path.stem not in pages:
        return href
    return urlunsplit(parts._replace(path=str(path.with_suffix(".html"))))


def _is_remote(url: str) -> bool:
    url = url.strip()
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return bool(scheme) and scheme not in ("data", "about")


def network_loads(html: str | BeautifulSoup) -> list[str]:
    """The URLs ``html`` would load from outside itself and its folder (scripts, styles, images).

    A link (``<a href>``) is not loaded, so it is not listed; a ``<link href>`` is.
    """
    soup = html if isinstance(html, BeautifulSoup) else BeautifulSoup(html, "html.parser")
    urls = []
    for element in soup.find_all(True):
        for attribute in _LOADING | ({"href"} if element.name == "link" else set()):
            value = element.get(attribute)
            if value is None:
                continue
            candidates = ([part.strip().split(" ")[0] for part in value.split(",")]
                          if attribute == "srcset" else [value])
            urls += [u for u in candidates if _is_remote(u)]
        css = element.get("style", "")
        if element.name == "style":
            css += "".join(element.strings)
        for match in _CSS_URL.finditer(css):
            url = match.group(1) or match.group(2)
            if _is_remote(url):
                urls.append(url)
    return urls


def _check_executed(notebook, name: str) -> None:
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
            raise RunError("the book shows the executed chain; this notebook was not executed",
                           notebook=name, where=f"{name}.ipynb, cell {cell.get('id', '?')}",
                           expected="an executed notebook (make notebooks)",
                           found="a code cell that never ran")


@functools.cache
def _exporter(template_file: str, exclude_input: bool = False) -> _BookExporter:
    # one per template for a whole build: nbconvert compiles its templates once per exporter
    return _BookExporter(template_file, exclude_input=exclude_input)


def _page(notebook, name: str, pages: set[str], path: str | os.PathLike) -> BeautifulSoup:
    notebook = copy.deepcopy(notebook)
    _check_executed(notebook, name)
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {"state": {}})

    def outputs_html(outputs: list) -> str:
        cell = nbformat.v4.new_code_cell(outputs=[nbformat.from_dict(o) for o in outputs])
        holder = nbformat.v4.new_notebook(cells=[cell], metadata=notebook.metadata)
        return _exporter("book_outputs.html.j2", True).from_notebook_node(
            holder, {"book_page": name})[0]

    for cell in notebook.cells:
        if cell.cell_type == "code":
            where = f"{name}.ipynb, cell {cell.get('id', '?')}"
            cell.outputs = [nbformat.from_dict(o) for o in static_outputs(
                cell.outputs, state, render_outputs=outputs_html, where=where, note=NOTE)]
    notebook.metadata["title"] = f"{title(notebook, where=f'{name}.ipynb')} · meshkit tutorial"
    resources = {"metadata": {"name": name, "path": str(path)}, "book_page": name,
                 "book_css": _CSS}
    html, _ = _exporter("book.html.j2").from_notebook_node(notebook, resources)
    soup = BeautifulSoup(html, "html.parser")
    for link in soup.find_all("a", href=True):
        link["href"] = page_href(link["href"], pages)
    loads = network_loads(soup)
    if loads:
        raise RunError("the page would load from the network", notebook=name,
                       where=f"{name}.ipynb", expected="data: URIs and files of the book only",
                       found=", ".join(sorted(set(loads))[:5]))
    return soup


def render_page(notebook, name: str, pages: set[str], *, path: str | os.PathLike = ".") -> str:
    """The book's HTML page of ``notebook`` (named ``name``, in a book of ``pages``).

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An executed notebook (it is not changed).
    name : str
        Its name, without ``.ipynb``.
    pages : set of str
        The notebooks the book has pages for: links to them are pointed at their pages.
    path : path-like
        The notebook's folder, for pictures its markdown links to (embedded as data URIs).

    Raises
    ------
    RunError
        The notebook was not executed, a formula cannot be rendered, or the page would load
        something from the network.
    """
    return str(_page(notebook, name, pages, path))


def _local_links(soup: BeautifulSoup) -> list[str]:
    """The links of ``soup`` to files (not to another site, an address or a place on the page)."""
    links = []
    for link in soup.find_all("a", href=True):
        parts = urlsplit(link["href"])
        if not (parts.scheme or parts.netloc or not parts.path):
            links.append(link["href"])
    return links


def _writable(out: Path) -> None:
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / MARKER).is_file())):
        raise RunError("will not replace a folder that is not a book", where=str(out),
                       expected=f"a new or empty folder, or a book written before (with {MARKER})",
                       found="other files")


def build_book(notebooks: str | os.PathLike | None = None,
               out: str | os.PathLike = "build/book") -> Book:
    """Render the executed notebooks of ``notebooks`` to a static site in ``out``.

    Returns
    -------
    Book
        The folder and its pages.

    Raises
    ------
    RunError
        No notebook of the chain; a notebook not executed; a formula that cannot be rendered;
        a page that would load from the network; a link that leads to no file of the site;
        or ``out`` holds something other than a book. Nothing is written then.
    """
    folder = Path(notebooks) if notebooks is not None else default_notebooks()
    out = Path(out)
    _writable(out)
    names = book_pages(folder)
    html, links = {}, {}
    for name in names:
        path = folder / f"{name}.ipynb"
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception as exc:  # nbformat raises several unrelated types on a bad file
            raise RunError("cannot read the notebook", notebook=name, where=str(path),
                           expected="a .ipynb file", found=f"{type(exc).__name__}: {exc}") from exc
        soup = _page(notebook, name, set(names), folder)
        html[f"{name}.html"], links[f"{name}.html"] = str(soup), _local_links(soup)
    html["index.html"] = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={names[0]}.html">'
        "<title>meshkit tutorial</title></head>"
        f'<body><p><a href="{names[0]}.html">The meshkit tutorial</a></p></body></html>\n')

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # a site to read, not a private temporary folder
    try:
        for file, text in html.items():
            (staging / file).write_text(text, encoding="utf-8")
        (staging / MARKER).write_text("written by python -m meshkit.tutorial.book\n",
                                      encoding="utf-8")
        for file, targets in links.items():
            broken = [href for href in targets if not (staging / urlsplit(href).path).is_file()]
            if broken:
                raise RunError("a link of the book leads to no file of the site", where=file,
                               expected="links to the book's pages",
                               found=", ".join(sorted(set(broken))[:5]))
        old = out.with_name(f"{staging.name}-old")
        if out.exists():
            out.rename(old)
        try:
            staging.rename(out)
        except OSError:
            if old.exists():
                old.rename(out)  # the previous book stays as it was
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return Book(out, tuple(out / f"{name}.html" for name in names))


def main(argv: list[str] | None = None) -> int:
    """``python -m meshkit.tutorial.book [NOTEBOOKS] [OUT]``."""
    parser = argparse.ArgumentParser(prog="python -m meshkit.tutorial.book",
                                     description="Render the executed tutorial to a static HTML "
                                                 "site that reads with no network.")
    parser.add_argument("notebooks", nargs="?", type=Path, help="the notebooks folder")
    parser.add_argument("out", nargs="?", type=Path, default=Path("build/book"),
                        help="the site's folder (default: build/book)")
    args = parser.parse_args(argv)
    book = build_book(args.notebooks, args.out)
    print(f"wrote {len(book.pages)} pages to {book.folder} ({book.size / 1e6:.1f} MB); "
          f"open {book.folder / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
