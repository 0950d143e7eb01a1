"""A bare clone, with nothing beside it, passes the contract schema tests.

The official ODCS schemas come from installed packages; this proves no contract test reads
a file from outside the repository (a sibling folder a newcomer's clone does not have).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACT_TESTS = ["tests/contracts/test_contracts.py", "tests/contracts/test_contracts_odcs.py",
                  "tests/contracts/test_contracts_negative.py"]


@pytest.mark.slow
def test_contract_schema_tests_pass_in_a_fresh_clone(tmp_path):
    git = shutil.which("git")
    assert git is not None, "git is needed to clone the repository"
    inside = subprocess.run([git, "-C", str(REPO), "rev-parse", "--is-inside-work-tree"],
                            capture_output=True, text=True)
    assert inside.stdout.strip() == "true", f"{REPO} is not a git work tree"
    empty = tmp_path / "empty"
    empty.mkdir()
    clone = empty / "meshkit"
    subprocess.run([git, "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)],
                   check=True, capture_output=True, text=True)
    assert sorted(p.name for p in empty.iterdir()) == ["meshkit"]  # nothing beside the clone
    for test in CONTRACT_TESTS:
        assert (clone / test).is_file(), f"{test} is not committed"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(clone)  # the clone's meshkit, not this checkout's
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
         "-o", "addopts=", *CONTRACT_TESTS],
        cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout
    probe = subprocess.run([sys.executable, "-c", "import meshkit; print(meshkit.__file__)"],
                           cwd=clone, env=env, capture_output=True, text=True, check=True)
    assert Path(probe.stdout.strip()).resolve().is_relative_to(clone.resolve())
