"""The tutorial in a real browser: JupyterLab from the project's environment, Debian's chromium
driven by Playwright (the system browser, never a downloaded one; see ``conftest.py``).

JupyterLab serves copies of ``notebooks/`` (token auth, loopback, a free port, CurveZMQ-encrypted
kernels) from a temporary folder: ``committed/`` holds the notebooks as committed (untrusted, as
a fresh clone: JupyterLab shows each explorer's one-line text form), ``trusted/`` the same
signed as trusted by the server's own notary (JupyterLab draws each explorer from the widget
state saved in the notebook, without running it), ``notebooks/`` the same with smaller
parameters (:data:`QUICK`, set in each copy's parameters cell) so that the chain runs in
minutes. No copy may be marked modified by being opened. For each notebook the test opens it, runs every cell from the Run menu,
checks that no cell shows an error (on the page and in the saved file), moves a control of its
explorer and checks that the explorer's output changes. Screenshots and ``timings.json`` (the
wall time of each step, and the seconds from moving 04's θ slider to the updated verdict) are
saved in ``jupyterlab/`` of the browser artifacts folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ("01_domain_setup", "02_local_training", "03_aggregation", "04_consistency",
         "05_security")
#: the parameters the run copies change: the same code paths at a fraction of the sizes
QUICK = {name: {"scale": "0.2"} for name in CHAIN} | {
    "03_aggregation": {"scale": "0.2", "rounds": "5", "recommender_rounds": "3"}}
#: the notebooks that show an explorer behind ``interactive``
EXPLORING = ("01_domain_setup", "03_aggregation", "04_consistency", "05_security")
RUN_TIMEOUT_MS = 900_000
#: the choice a notebook's first dropdown moves to (default: its last other option)
OTHER_CHOICE = {"03_aggregation": "fedprox"}  # krum needs more domains than the quick mesh has
ERROR_MARK = "#b00020"  # how an explorer's view shows a MeshkitError
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quick_copy(source: Path, target: Path, values: dict[str, str]) -> None:
    """Copy a notebook, setting ``values`` (name -> Python literal) in its parameters cell."""
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in values.items():
        cell.source, n = re.subn(rf"^({name}: [^=]+= )[^#\n]*?(\s*#|$)", rf"\g<1>{value}\2",
                                 cell.source, count=1, flags=re.MULTILINE)
        assert n == 1, f"{source.name} declares no parameter {name}"
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def artifacts(browser_artifacts):
    folder = browser_artifacts / "jupyterlab"
    (folder / "screenshots").mkdir(parents=True)
    timings: dict = {}
    start = time.perf_counter()
    yield folder, timings
    timings["module_wall_s"] = round(time.perf_counter() - start, 1)
    (folder / "timings.json").write_text(json.dumps(timings, indent=2))
    print(f"\nJupyterLab browser test: {folder}\n{json.dumps(timings)}")


@pytest.fixture(scope="module")
def lab(browser, artifacts):
    """A JupyterLab server on the copies: ``(base url, token, folder)``."""
    folder, _ = artifacts
    served = folder / "lab"
    for copy in ("committed", "trusted"):
        shutil.copytree(ROOT / "notebooks", served / copy,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    data = folder / "jupyter-data"  # the server's notary: its secret and signatures
    data.mkdir()
    notary = NotebookNotary(data_dir=str(data))
    for path in sorted((served / "trusted").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        # a signature is of the content: mark the copy so that ``committed/`` stays untrusted
        nb.metadata["browser_test_copy"] = "trusted"
        notary.sign(nb)
        nbformat.write(nb, path)
    notary.store.close()
    (served / "notebooks").mkdir()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if path.stem in QUICK:
            quick_copy(path, served / "notebooks" / path.name, QUICK[path.stem])
        else:
            shutil.copy(path, served / "notebooks" / path.name)
    config = folder / "jupyter-config"
    config.mkdir()
    # no announcements, no update checks: the server reaches nothing outside this machine
    quiet = {"LabApp": {"news_url": None,
                        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}
    for name in ("jupyter_server_config.json", "jupyter_lab_config.json"):
        (config / name).write_text(json.dumps(quiet))
    # no news toast over the page; every cell in the page (no windowing), so that the test
    # finds any cell's output without scrolling to it first
    settings = folder / "lab-settings"
    for plugin, values in {"apputils-extension/notification": {"fetchNews": "false",
                                                               "checkForUpdates": False},
                           "notebook-extension/tracker": {"windowingMode": "none"}}.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(data),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={served}", "--ServerApp.port_retries=0",
               "--MappingKernelManager.transport_encryption=auto"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(folder / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start; see "
                                       f"{folder / 'jupyterlab.log'}") from None
                time.sleep(0.5)
        yield base, token, served
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(browser, browser_context_options, lab):
    """One page for the module: JupyterLab keeps its state between notebooks."""
    context = browser.new_context(**browser_context_options)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


# ------------------------------------------------------------------------------ helpers
def _shutdown_kernels(lab) -> None:
    """Stop every kernel of the server (one notebook runs at a time on a small machine)."""
    base, token, _ = lab
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=10) as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}",
                                         method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def _open(page, lab, path: str) -> None:
    base, token, _ = lab
    _shutdown_kernels(lab)
    page.goto(f"{base}/lab/tree/{path}?token={token}&reset")
    page.locator(f"{PANEL} .jp-Cell").first.wait_for()


def _dirty(page) -> bool:
    return page.evaluate("() => !!document.querySelector('.lm-TabBar-tab.jp-mod-dirty')")


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def _prompts(page) -> list[str]:
    return page.evaluate(
        f"() => Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt'))"
        ".map(e => e.textContent.trim())")


def _wait_until_run(page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Until every code cell has run, or one shows an error (Run All stops there)."""
    page.wait_for_function(
        f"() => {{ const p = Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell"
        " .jp-InputPrompt')).map(e => e.textContent);"
        " return p.length > 0 && !p.some(t => t.includes('*'))"
        " && (p.every(t => /\\[\\d+\\]/.test(t)) || document.querySelector("
        f"'{PANEL} .jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"] pre')"
        "); }", timeout=timeout_ms, polling=500)


def _wait_idle(page) -> None:
    """Until the kernel is idle again (the control's callback has finished)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=120_000)


def _errors_on_page(page) -> list[str]:
    texts = page.evaluate(
        f"() => Array.from(document.querySelectorAll('{PANEL} .jp-OutputArea-output"
        "[data-mime-type=\"application/vnd.jupyter.stderr\"]')).map(e => e.textContent)")
    return [t for t in texts if "Traceback" in t or "Cell In[" in t]


def _errors_in_file(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [f"{o.get('ename')}: {o.get('evalue')}" for cell in nb.cells
            if cell.cell_type == "code" for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def _explorer(page):
    """The notebook's explorer: the widget box whose last child is its HTML view."""
    return page.locator(f"{PANEL} .widget-vbox").filter(
        has=page.locator(".widget-html-content")).last


def _show_top(page, explorer) -> None:
    """Scroll the explorer's controls to the top of the notebook's view (for a screenshot)."""
    explorer.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)


def _view_html(explorer) -> str:
    return explorer.locator(".widget-html-content").last.inner_html()


def _wait_changed(explorer, before: str, timeout_s: float = 120) -> None:
    start = time.perf_counter()
    while _view_html(explorer) == before:
        if time.perf_counter() - start > timeout_s:
            raise AssertionError("the explorer's output did not change")
        time.sleep(0.02)


def _move_a_control(page, notebook: str, explorer) -> float:
    """Move one control of the notebook's explorer; the seconds until its output changed."""
    before = _view_html(explorer)
    if notebook == "04_consistency":  # the θ slider: type a value into its readout
        readout = explorer.locator(".widget-slider .widget-readout").first
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text("0.5")
        start = time.perf_counter()
        page.keyboard.press("Enter")
    else:  # the first dropdown: another choice
        select = explorer.locator(".widget-dropdown select").first
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        choice = OTHER_CHOICE.get(notebook) or next(o for o in reversed(options) if o != current)
        assert choice in options and choice != current
        start = time.perf_counter()
        select.select_option(label=choice)
    _wait_changed(explorer, before)
    seconds = time.perf_counter() - start
    _wait_idle(page)
    assert ERROR_MARK not in _view_html(explorer), "the explorer shows an error"
    return seconds


# ------------------------------------------------------------------------------ tests
def test_quick_copy_changes_only_the_named_parameters(tmp_path):
    source = ROOT / "notebooks" / "03_aggregation.ipynb"
    quick_copy(source, tmp_path / "nb.ipynb", QUICK["03_aggregation"])
    old, new = (nbformat.read(p, as_version=4) for p in (source, tmp_path / "nb.ipynb"))
    changed = [(a.source, b.source) for a, b in zip(old.cells, new.cells) if a != b]
    assert len(changed) == 1 and len(old.cells) == len(new.cells)
    lines = [(a, b) for a, b in zip(*(s.splitlines() for s in changed[0])) if a != b]
    assert [b.split(":")[0] for _, b in lines] == ["scale", "rounds", "recommender_rounds"]
    assert "rounds: int = 5  # federated rounds" in changed[0][1]
    with pytest.raises(AssertionError, match="no parameter nonesuch"):
        quick_copy(source, tmp_path / "bad.ipynb", {"nonesuch": "1"})


def test_committed_notebooks_open_unmodified(lab, page, artifacts):
    folder, timings = artifacts
    start = time.perf_counter()
    for name in ("00_contents", *CHAIN):
        _open(page, lab, f"committed/{name}.ipynb")
        page.wait_for_timeout(1500)  # let every output render (a normalising edit would mark it)
        page.screenshot(path=folder / "screenshots" / f"committed_{name}.png")
        assert not _dirty(page), f"opening {name}.ipynb marked it modified"
        if name in EXPLORING:  # untrusted: the explorer's text form, not a broken widget
            line = page.locator(f"{PANEL} .jp-OutputArea-output", has_text="explorer (")
            assert line.count() == 1 and "run the notebook in JupyterLab" in line.inner_text()
    timings["open_committed_s"] = round(time.perf_counter() - start, 1)


@pytest.mark.parametrize("notebook", EXPLORING)
def test_trusted_notebooks_show_their_saved_explorer_unmodified(lab, page, artifacts, notebook):
    folder, _ = artifacts
    _open(page, lab, f"trusted/{notebook}.ipynb")
    explorer = _explorer(page)
    explorer.wait_for(state="attached", timeout=60_000)  # drawn from the saved widget state
    _show_top(page, explorer)
    page.screenshot(path=folder / "screenshots" / f"saved_{notebook}.png")
    assert explorer.locator(".widget-dropdown, .widget-slider").count() >= 1
    assert "<" in _view_html(explorer)  # the view holds the saved result (HTML)
    assert not _dirty(page), f"opening the trusted {notebook}.ipynb marked it modified"


@pytest.mark.parametrize("notebook", CHAIN)
def test_notebook_runs_from_the_run_menu_and_its_explorer_responds(lab, page, artifacts,
                                                                   notebook):
    try:
        _run_and_explore(lab, page, artifacts, notebook)
    except BaseException:
        page.screenshot(path=artifacts[0] / "screenshots" / f"FAILED_{notebook}.png")
        raise


def _run_and_explore(lab, page, artifacts, notebook: str) -> None:
    folder, timings = artifacts
    shots = folder / "screenshots"
    start = time.perf_counter()
    _open(page, lab, f"notebooks/{notebook}.ipynb")
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=120_000)
    _menu(page, "Edit", "Clear Outputs of All Cells")
    assert all(p in ("[ ]:", "") for p in _prompts(page))
    _menu(page, "Run", "Run All Cells")
    page.wait_for_timeout(1000)
    _wait_until_run(page)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    page.screenshot(path=shots / f"{notebook}.png", full_page=True)
    assert _errors_on_page(page) == [], f"{notebook} shows an error (see {shots})"
    assert _errors_in_file(lab[2] / "notebooks" / f"{notebook}.ipynb") == []
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in _prompts(page)), _prompts(page)
    timings[f"{notebook}_run_s"] = round(time.perf_counter() - start, 1)
    if notebook not in EXPLORING:
        return
    explorer = _explorer(page)
    assert explorer.count() == 1, f"{notebook} shows no explorer"
    _show_top(page, explorer)
    page.screenshot(path=shots / f"{notebook}_explorer_before.png")
    seconds = _move_a_control(page, notebook, explorer)
    _show_top(page, explorer)
    page.screenshot(path=shots / f"{notebook}_explorer_after.png")
    timings[f"{notebook}_control_to_output_s"] = round(seconds, 3)
