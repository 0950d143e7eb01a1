"""The book (`make book`): the executed chain as a static site that reads with no network.

Built once from the committed notebooks; the widget test executes a small notebook with real
ipywidgets in a real kernel (nbclient), so the saved state is what Jupyter writes.
"""

import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from meshkit import RunError
from meshkit.tutorial.book import MARKER, NOTE, build_book, network_loads, render_page
from meshkit.tutorial.book_widgets import WIDGET_STATE, WIDGET_VIEW, widget_html
from meshkit.tutorial.chain import CHAIN, default_notebooks
from meshkit.tutorial.kernels import kernel_config
from meshkit.tutorial import navigation
from meshkit.tutorial.navigation import CONTENTS

NOTEBOOKS = default_notebooks()
NAMES = [CONTENTS, *CHAIN]
# display math first, then inline math, as JupyterLab reads markdown (escaped \$ is no math)
MATH = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<![\\$])\$[^$]+?(?<![\\$])\$", re.DOTALL)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return build_book(NOTEBOOKS, tmp_path_factory.mktemp("book") / "site")


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _notebook(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_one_page_per_notebook_and_an_index_that_opens_the_contents(book):
    assert [p.name for p in book.pages] == [f"{n}.html" for n in NAMES]
    files = {p.name for p in book.folder.iterdir()}
    assert files == {f"{n}.html" for n in NAMES} | {"index.html", MARKER}
    index = _soup(book.folder / "index.html")
    refresh = index.find("meta", attrs={"http-equiv": "refresh"})
    assert refresh["content"].endswith(f"url={CONTENTS}.html")
    assert book.size == sum(p.stat().st_size for p in book.folder.iterdir())


def test_every_link_to_a_file_resolves_to_a_page_of_the_site(book):
    checked = 0
    for page in book.pages:
        for link in _soup(page).find_all("a", href=True):
            href = link["href"]
            if re.match(r"[a-z]+:|#", href):
                continue
            assert not href.split("#")[0].endswith(".ipynb"), (page.name, href)
            assert (book.folder / href.split("#")[0]).is_file(), (page.name, href)
            checked += 1
    assert checked >= 4 * len(CHAIN)  # contents, previous and/or next, twice per notebook


@pytest.mark.parametrize("i", range(len(CHAIN)))
def test_each_page_navigates_to_its_neighbours_and_the_contents(book, i):
    hrefs = [a["href"] for a in _soup(book.folder / f"{CHAIN[i]}.html").find_all("a", href=True)]
    assert hrefs.count(f"{CONTENTS}.html") >= 2  # top and bottom
    if i > 0:
        assert hrefs.count(f"{CHAIN[i - 1]}.html") >= 2
    if i + 1 < len(CHAIN):
        assert hrefs.count(f"{CHAIN[i + 1]}.html") >= 2
    contents = [a["href"] for a in _soup(book.folder / f"{CONTENTS}.html").find_all("a", href=True)]
    assert f"{CHAIN[i]}.html" in contents


def test_no_page_loads_a_script_a_style_or_a_picture_from_the_network(book):
    for page in [*book.pages, book.folder / "index.html"]:
        soup = _soup(page)
        for tag, attribute in (("script", "src"), ("link", "href"), ("img", "src"),
                               ("iframe", "src")):
            for element in soup.find_all(tag):
                value = element.get(attribute, "")
                assert not re.match(r"\s*(https?:)?//", value), (page.name, tag, value)
        text = page.read_text(encoding="utf-8")
        assert "mathjax" not in text.lower() and "require.min.js" not in text, page.name
        assert not soup.find_all("script", src=True), page.name


@pytest.mark.parametrize("name", NAMES)
def test_every_formula_of_the_markdown_became_mathml(book, name):
    formulas = sum(len(MATH.findall(cell.source)) for cell in _notebook(name).cells
                   if cell.cell_type == "markdown")
    soup = _soup(book.folder / f"{name}.html")
    maths = soup.find_all("math")
    assert len(maths) == formulas
    assert all(m.find(["mi", "mn", "mo", "mtext"]) for m in maths)
    for markdown in soup.select(".jp-MarkdownCell"):
        assert "$" not in markdown.get_text(), name


def test_the_chain_has_formulas_to_render(book):
    # the formula test above would hold vacuously on a chain without math
    assert sum(len(_soup(p).find_all("math")) for p in book.pages) >= 2


@pytest.mark.parametrize("name", CHAIN)
def test_figures_are_embedded_as_data_uris(book, name):
    pngs = sum("image/png" in o.get("data", {}) and not set(o["data"]) & {"text/html", WIDGET_VIEW}
               for cell in _notebook(name).cells for o in cell.get("outputs", []))
    images = _soup(book.folder / f"{name}.html").find_all("img")
    embedded = [i for i in images if i["src"].startswith("data:image/png;base64,")]
    assert len(embedded) >= pngs
    assert all(i["src"].startswith("data:") for i in images)


@pytest.mark.parametrize("name", CHAIN)
def test_every_saved_widget_of_the_chain_is_drawn_statically(book, name):
    views = sum(WIDGET_VIEW in o.get("data", {})
                for cell in _notebook(name).cells for o in cell.get("outputs", []))
    text = (book.folder / f"{name}.html").read_text(encoding="utf-8")
    assert len(_soup(book.folder / f"{name}.html").select(".mk-widget-saved")) == views
    assert WIDGET_VIEW not in text and WIDGET_STATE not in text


def test_tables_are_kept_as_html_tables(book):
    for name in CHAIN[:1]:
        html_outputs = sum("<table" in "".join(o.get("data", {}).get("text/html", ""))
                           for cell in _notebook(name).cells for o in cell.get("outputs", []))
        tables = _soup(book.folder / f"{name}.html").find_all("table")
        assert html_outputs and len(tables) >= html_outputs


# ------------------------------------------------------------------ saved widgets
WIDGET_CELLS = [
    "# Widgets\n\nA page of saved controls.",
    """import ipywidgets as w
rounds = w.IntSlider(value=7, min=1, max=30, description="rounds")
strategy = w.Dropdown(options=["fedavg", "fedprox", "krum"], value="fedavg", description="strategy")
private = w.Checkbox(value=False, description="private")
name = w.Text(value="alice", description="principal")
out = w.Output()
with out:
    print("printed inside the Output widget")
formula = w.HTMLMath(value="noise $\\\\sigma^2$")
tabs = w.Tab(children=[w.VBox([rounds, strategy, private]), w.VBox([name, out, formula])],
             titles=("training", "who"))
tabs""",
    """secret = w.Password(value="hunter2", description="key")
hidden = w.Label(value="never shown", layout=w.Layout(display="none"))
window = w.IntRangeSlider(value=[3, 8], min=0, max=10, description="rounds window")
columns = w.SelectMultiple(options=["email", "phone", "country"], value=["email", "country"],
                           description="masked")
epsilon = w.FloatLogSlider(value=0.5, base=10, min=-2, max=1, description="ε")
done = w.IntProgress(value=4, min=0, max=10, description="rounds done")
more = w.Accordion(children=[w.Label(value="a label"), w.Button(description="Run")],
                   titles=("label", "button"))
w.HBox([secret, hidden, window, columns, epsilon, done, more])""",
    # moved after display: the page must show the saved state, not the values at display time
    """rounds.value = 12
strategy.value = "krum"
private.value = True
tabs.selected_index = 1""",
]


@pytest.fixture(scope="module")
def widget_notebook():
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(WIDGET_CELLS[0]),
                *[nbformat.v4.new_code_cell(source) for source in WIDGET_CELLS[1:]]]
    NotebookClient(nb, kernel_name="python3", timeout=120, config=kernel_config()).execute()
    return nb


def _outputs(page: BeautifulSoup, i: int):
    """The output area of the page's code cell ``i`` (not of a cell drawn inside a widget)."""
    cells = page.main.find_all("div", class_="jp-CodeCell", recursive=False)
    return cells[i].select_one(".jp-OutputArea")


def test_the_executed_widget_notebook_holds_real_saved_state(widget_notebook):
    state = widget_notebook.metadata["widgets"][WIDGET_STATE]["state"]
    sliders = [m["state"] for m in state.values() if m["model_name"] == "IntSliderModel"]
    assert [s["value"] for s in sliders] == [12]
    assert any(WIDGET_VIEW in o.get("data", {}) for o in widget_notebook.cells[1].outputs)


def test_widget_views_become_static_html_with_labels_and_values_from_the_state(widget_notebook):
    html = render_page(widget_notebook, "widgets", {"widgets"})
    page = BeautifulSoup(html, "html.parser")
    assert WIDGET_VIEW not in html and WIDGET_STATE not in html
    assert not page.find_all("script")
    soup = _outputs(page, 0)
    assert str(soup).count(NOTE) == 1
    slider = soup.find("input", attrs={"type": "range"})
    assert slider.has_attr("disabled") and slider["value"] == "12"
    assert (slider["min"], slider["max"]) == ("1", "30")
    assert "rounds" in slider.parent.get_text() and "12" in slider.parent.get_text()
    select = soup.find("select")
    assert select.has_attr("disabled") and "strategy" in select.parent.get_text()
    assert [o.get_text() for o in select.find_all("option", selected=True)] == ["krum"]
    checkbox = soup.find("input", attrs={"type": "checkbox"})
    assert checkbox.has_attr("checked") and "private" in checkbox.parent.get_text()
    text = soup.find("input", attrs={"type": "text"})
    assert text["value"] == "alice" and "principal" in text.parent.get_text()
    tabs = soup.find_all("details")
    assert [t.summary.get_text() for t in tabs] == ["training", "who"]
    assert [t.has_attr("open") for t in tabs] == [False, True]  # the selected tab is open
    assert "printed inside the Output widget" in tabs[1].get_text()
    assert tabs[1].find("math").find("msup")


def test_other_controls_show_their_saved_values_and_no_secret(widget_notebook):
    page = BeautifulSoup(render_page(widget_notebook, "widgets", {"widgets"}), "html.parser")
    assert str(page).count(NOTE) == 2  # one per displayed widget
    soup = _outputs(page, 1)
    html = str(soup)
    assert "hunter2" not in html and "key" in soup.get_text()
    assert "never shown" not in html  # hidden by its layout, as in JupyterLab
    assert "3 – 8" in soup.get_text() and "rounds window" in soup.get_text()
    masked = soup.find("select", multiple=True)
    assert [o.get_text() for o in masked.find_all("option", selected=True)] == ["email", "country"]
    log_slider = [i for i in soup.find_all("input", attrs={"type": "range"})
                  if "ε" in i.parent.get_text()][0]
    assert float(log_slider["value"]) == 0.5
    assert (float(log_slider["min"]), float(log_slider["max"])) == (0.01, 10.0)
    progress = soup.find("progress")
    assert (progress["value"], progress["max"]) == ("4", "10")
    summaries = [d.summary.get_text() for d in soup.find_all("details")]
    assert summaries == ["label", "button"]
    button = soup.find("button")
    assert button.get_text() == "Run" and button.has_attr("disabled")


def test_a_saved_state_with_a_cycle_is_refused():
    # not something ipywidgets writes: a corrupted or hand-edited notebook
    state = {"state": {"a": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_b"]}},
                       "b": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_a"]}}}}
    with pytest.raises(RunError, match="cycle.*a -> b -> a"):
        widget_html("a", state)


def test_a_widget_whose_state_was_not_saved_says_so(widget_notebook):
    nb = nbformat.from_dict(widget_notebook)
    del nb.metadata["widgets"]
    soup = BeautifulSoup(render_page(nb, "widgets", {"widgets"}), "html.parser")
    assert "state was not saved" in soup.select_one(".mk-widget-missing").get_text()


# ------------------------------------------------------------------ refusals
def _page(*cells, outputs=()):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Page"),
                *[nbformat.v4.new_markdown_cell(c) for c in cells]]
    code = nbformat.v4.new_code_cell("x", execution_count=1, outputs=list(outputs))
    nb.cells.append(code)
    return nb


def test_a_formula_latex2mathml_cannot_read_is_refused_naming_the_cell():
    nb = _page("fine $x$", "broken $x^$")
    with pytest.raises(RunError, match=r"page\.ipynb, cell .*cannot render this formula.*x\^"):
        render_page(nb, "page", {"page"})


def test_an_unknown_tex_command_is_refused_not_shown_raw():
    with pytest.raises(RunError, match=r"does not know.*\\frobnicate"):
        render_page(_page(r"$\frobnicate x$"), "page", {"page"})


def test_a_page_that_would_load_from_the_network_is_refused():
    remote = nbformat.v4.new_output("display_data", data={
        "text/html": '<img src="https://example.org/chart.png">', "text/plain": "chart"})
    with pytest.raises(RunError, match=r"load from the network.*example\.org/chart\.png"):
        render_page(_page("text", outputs=[remote]), "page", {"page"})


@pytest.mark.parametrize("html, loads", [
    ('<script src="https://example.org/m.js"></script>', ["https://example.org/m.js"]),
    ('<link rel="stylesheet" href="http://example.org/a.css">', ["http://example.org/a.css"]),
    ('<img srcset="data:image/png;base64,AA 1x, //example.org/b.png 2x">', ["//example.org/b.png"]),
    ('<div style="background: url(https://example.org/c.png)"></div>', ["https://example.org/c.png"]),
    ("<style>@import 'https://example.org/d.css';</style>", ["https://example.org/d.css"]),
    ('<a href="https://example.org/">a link is followed only on a click</a>', []),
    ('<img src="data:image/png;base64,AA"><link rel="icon" href="icon.png">', []),
])
def test_network_loads_finds_every_way_a_page_reaches_out(html, loads):
    assert network_loads(html) == loads


def test_a_notebook_that_never_ran_is_refused():
    nb = _page("text")
    nb.cells[-1].execution_count = None
    with pytest.raises(RunError, match="not executed"):
        render_page(nb, "page", {"page"})


def _tiny_chain(folder: Path, *extra_markdown: str) -> Path:
    """A chain of one executed notebook, its navigation and contents made as for the real one."""
    folder.mkdir(exist_ok=True)
    nb = _page("Some text.", *extra_markdown)
    nb.cells[0].source = "# 01 · Domain setup: a tiny one"
    nbformat.write(nb, folder / f"{CHAIN[0]}.ipynb")
    navigation.update(folder)
    return folder


def test_a_link_to_no_page_of_the_site_is_refused_and_nothing_is_written(tmp_path):
    notebooks = _tiny_chain(tmp_path / "notebooks", "See [the data](../data/README.md).")
    with pytest.raises(RunError, match=r"leads to no file.*\.\./data/README\.md"):
        build_book(notebooks, tmp_path / "site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks"]


def test_a_folder_that_is_not_a_book_is_never_replaced(tmp_path):
    notebooks = _tiny_chain(tmp_path / "notebooks")
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not a book"):
        build_book(notebooks, out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_book_is_rebuilt_whole_in_place(tmp_path):
    notebooks = _tiny_chain(tmp_path / "notebooks")
    out = tmp_path / "site"
    first = build_book(notebooks, out)
    assert [p.name for p in first.pages] == [f"{CONTENTS}.html", f"{CHAIN[0]}.html"]
    (out / "stale.html").write_text("from an older build")
    _tiny_chain(notebooks, "A new paragraph.")
    build_book(notebooks, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{CONTENTS}.html", f"{CHAIN[0]}.html", "index.html", MARKER])
    assert "A new paragraph." in (out / f"{CHAIN[0]}.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "site"]  # no staging left
