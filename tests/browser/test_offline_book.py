"""The book (`make book`) in a real browser with the network cut: Debian's chromium via Playwright.

Every request that is not for a ``file://`` URL is blocked and counted (there must be none); the
formulas are laid out as MathML; each page's navigation links lead where they say; saved
widgets show as controls. Screenshots go to the artifacts folder.

(Named ``test_offline_book.py``: ``tests/tutorial/test_book.py`` exists, and test modules of
the same name in two folders without ``__init__.py`` cannot both be collected.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from meshkit.tutorial import navigation
from meshkit.tutorial.book import build_book
from meshkit.tutorial.chain import CHAIN, default_notebooks
from meshkit.tutorial.kernels import kernel_config
from meshkit.tutorial.navigation import CONTENTS

pytestmark = pytest.mark.slow

NAMES = [CONTENTS, *CHAIN]




class Offline:
    """Cuts ``page`` off the network: requests not for ``file://`` are aborted and kept."""

    def __init__(self, page) -> None:
        self.blocked: list[str] = []
        self.served: list[str] = []
        page.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith("file://"):
            self.served.append(url)
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return build_book(default_notebooks(), tmp_path_factory.mktemp("book") / "site")


def _open(page, path: Path) -> Offline:
    offline = Offline(page)
    page.goto(path.as_uri(), wait_until="load")
    return offline


def test_the_router_would_see_a_request_to_the_network(browser_page, tmp_path):
    # the counter below is only worth something if a page that does load from the network is caught
    probe = tmp_path / "probe.html"
    probe.write_text('<img src="https://example.org/a.png"><p>probe</p>', encoding="utf-8")
    offline = _open(browser_page, probe)
    browser_page.wait_for_load_state("networkidle")
    assert offline.blocked == ["https://example.org/a.png"]


@pytest.mark.parametrize("name", NAMES)
def test_each_page_loads_nothing_from_the_network_and_navigates(book, browser_page,
                                                                browser_artifacts, name):
    page = browser_page
    offline = _open(page, book.folder / f"{name}.html")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=browser_artifacts / f"book-{name}.png")
    assert offline.blocked == []
    assert offline.served == [(book.folder / f"{name}.html").as_uri()]  # one file, all inside it
    assert page.locator("h1").first.is_visible()

    i = NAMES.index(name)
    targets = [CONTENTS] if name != CONTENTS else list(CHAIN)
    if i > 1:
        targets.append(NAMES[i - 1])
    if 0 < i < len(NAMES) - 1:
        targets.append(NAMES[i + 1])
    for target in targets:
        page.goto((book.folder / f"{name}.html").as_uri())
        page.locator(f'a[href="{target}.html"]').first.click()
        page.wait_for_url(f"**/{target}.html")
        assert page.locator("h1").first.is_visible(), target
    assert offline.blocked == []


@pytest.mark.parametrize("name", [n for n in CHAIN if n in ("03_aggregation", "04_consistency")])
def test_formulas_are_laid_out_as_mathml(book, browser_page, browser_artifacts, name):
    page = browser_page
    offline = _open(page, book.folder / f"{name}.html")
    math = page.locator('math[display="block"]').first
    box = math.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0
    # laid out as math, not as a line of text: a subscript sits below its base
    base, sub = (math.locator("msub > *").nth(k).bounding_box() for k in (0, 1))
    assert sub["y"] + sub["height"] > base["y"] + base["height"]
    assert sub["height"] < base["height"] * 1.01
    math.screenshot(path=browser_artifacts / f"book-{name}-math.png")
    assert offline.blocked == []


WIDGETS = """import ipywidgets as w
theta = w.FloatSlider(value=0.8, min=0.0, max=1.0, step=0.01, description="θ")
column = w.Dropdown(options=["email", "country"], value="country", description="drift of")
view = w.HTML("<b>consistent</b>: score 0.87 > θ")
w.VBox([w.HBox([theta, column]), view])"""


def test_saved_widgets_show_as_controls_offline(browser_page, browser_artifacts, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · Domain setup: an explorer"),
                nbformat.v4.new_code_cell(WIDGETS)]
    from nbclient import NotebookClient

    NotebookClient(nb, kernel_name="python3", timeout=120, config=kernel_config()).execute()
    nbformat.write(nb, notebooks / f"{CHAIN[0]}.ipynb")
    navigation.update(notebooks)
    site = build_book(notebooks, tmp_path / "site")

    page = browser_page
    offline = _open(page, site.folder / f"{CHAIN[0]}.html")
    slider = page.locator('input[type="range"]')
    assert slider.is_visible() and slider.is_disabled()
    assert float(slider.input_value()) == pytest.approx(0.8)
    assert page.locator("select").is_disabled()
    assert page.locator("select").input_value() == "country"
    assert page.get_by_text("live when the notebook runs in JupyterLab").is_visible()
    assert page.locator(".mk-widget-html").get_by_text("score 0.87").is_visible()
    page.locator(".mk-widget-box").first.screenshot(path=browser_artifacts / "book-widgets.png")
    assert offline.blocked == []
