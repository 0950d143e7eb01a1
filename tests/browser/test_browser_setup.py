"""Without the system browser the browser tests say how to enable them; under CI they fail.

Each case runs pytest on one browser test in a subprocess whose ``MESHKIT_CHROMIUM`` names a
path that holds no browser.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each case starts pytest again

ROOT = Path(__file__).resolve().parents[2]


def _run_without_browser(tmp_path, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["MESHKIT_CHROMIUM"] = str(tmp_path / "no-chromium-here")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rsf",
         f"--basetemp={tmp_path / 'run'}",
         "tests/browser/test_jupyterlab.py::test_committed_notebooks_open_unmodified"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_without_a_browser_the_tests_are_skipped_with_the_how_to(tmp_path):
    run = _run_without_browser(tmp_path, ci=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
    assert "apt-get install -y chromium" in run.stdout and "no-chromium-here" in run.stdout


def test_under_ci_a_missing_browser_fails(tmp_path):
    run = _run_without_browser(tmp_path, ci=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "no browser under CI" in run.stdout and "apt-get install -y chromium" in run.stdout
    assert "1 failed" in run.stdout or "1 error" in run.stdout


@pytest.mark.parametrize("value", ["", None])
def test_the_default_browser_is_debians(value):
    """An unset or empty MESHKIT_CHROMIUM means /usr/bin/chromium."""
    code = "import conftest; print(conftest.CHROMIUM)"
    env = {k: v for k, v in os.environ.items() if k != "MESHKIT_CHROMIUM"}
    if value is not None:
        env["MESHKIT_CHROMIUM"] = value
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "/usr/bin/chromium", out.stderr
