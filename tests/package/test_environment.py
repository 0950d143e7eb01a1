"""The project's own files install everything it needs, and tell the same story."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string."""
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(file: str = "requirements.lock") -> dict[str, str]:
    pins = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{file}: {line!r} is not pinned with '=='"
        pins[_name(name)] = version
    return pins


def _dev_lock() -> dict[str, str]:
    return _lock("requirements-dev.lock")


def test_environment_yml_installs_the_project_with_the_dev_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e .[dev]" in pip_section
    assert "dev" in _pyproject()["project"]["optional-dependencies"]


def test_environment_yml_python_matches_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    requires = _pyproject()["project"]["requires-python"]
    assert python.removeprefix("python") == requires


def test_runtime_lock_pins_every_runtime_dependency():
    # the runtime set includes the `flower` extra: `make run` shows notebook 03 on both engines
    project = _pyproject()["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["flower"]]
    missing = sorted({_name(r) for r in named} - set(_lock()))
    assert not missing, f"requirements.lock lacks {missing}; run `make lock`"


def test_dev_lock_pins_every_dependency_the_project_names():
    project = _pyproject()["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    missing = sorted({_name(r) for r in named} - set(_dev_lock()))
    assert not missing, f"requirements-dev.lock lacks {missing}; run `make lock`"


def test_runtime_lock_leaves_out_the_development_stack():
    # `make run` installs only what running the chain needs.
    runtime = _lock()
    for name in ("pytest", "nbval", "jupyterlab", "playwright", "pandas", "scikit-learn",
                 "hypothesis", "evidently"):
        assert name not in runtime, f"{name} is a development package, not a runtime one"


def test_both_locks_pin_shared_packages_alike():
    runtime, dev = _lock(), _dev_lock()
    differ = {n: (v, dev[n]) for n, v in runtime.items() if n in dev and dev[n] != v}
    assert not differ, f"the locks disagree: {differ}; run `make lock`"
    assert set(runtime) <= set(dev), sorted(set(runtime) - set(dev))


def test_locks_do_not_carry_the_benchmark_only_peer():
    # pandera is installed only for `make bench`.
    assert "pandera" not in _lock() and "pandera" not in _dev_lock()


def test_make_says_clearly_when_python_is_too_old(tmp_path):
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.9.18"; exit 0; fi\n'
                   'exec python3 -c "import sys; sys.exit(1)"\n')
    old.chmod(0o755)
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "python", f"PYTHON={old}"],
                          capture_output=True, text=True, env={**os.environ, "MAKEFLAGS": ""})
    assert done.returncode != 0
    assert "needs Python 3.11 or newer" in done.stdout
    assert "Python 3.9.18" in done.stdout
