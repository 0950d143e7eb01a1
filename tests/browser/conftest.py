"""The browser tests' shared fixtures: Debian's chromium driven by Playwright.

Playwright drives the system browser at ``/usr/bin/chromium`` (``executable_path``; the
environment variable ``MESHKIT_CHROMIUM`` names another path); it never downloads one. Without
that browser the tests are skipped with the command that installs it; under ``CI=true`` a
missing browser is a failure (``.ci/run`` installs it).

Fixtures
--------
``browser``
    One headless chromium for the session.
``browser_page``
    A fresh page (in a context of its own) of that browser, closed after the test.
``browser_context_options``
    The options of that context (viewport), for a test that keeps one page longer.
``browser_artifacts``
    A folder for screenshots and timings: ``browser/`` under pytest's temporary folder
    (``--basetemp`` chooses where; CI keeps it as the tests' artifacts).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("MESHKIT_CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
HOW_TO_ENABLE = (f"the browser tests need Debian's chromium at {CHROMIUM}: "
                 "apt-get install -y chromium (CI's .ci/run installs it)")


def require_chromium() -> None:
    """Skip (saying how to enable the tests) without the system browser; fail under CI."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"no browser under CI: {HOW_TO_ENABLE}")
    pytest.skip(HOW_TO_ENABLE)


@pytest.fixture(scope="session")
def browser():
    """A headless Debian chromium driven by Playwright, shared by the session."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser_context_options() -> dict:
    """The options of every page's browser context."""
    return {"viewport": dict(VIEWPORT)}


@pytest.fixture
def browser_page(browser, browser_context_options):
    """A fresh Playwright page in its own browser context (no shared cookies or storage)."""
    context = browser.new_context(**browser_context_options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def browser_artifacts(tmp_path_factory) -> Path:
    """Where the browser tests save screenshots and timings (printed at the end)."""
    folder = tmp_path_factory.mktemp("browser", numbered=False)
    yield folder
    print(f"\nbrowser test artifacts: {folder}")
