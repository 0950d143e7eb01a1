"""The project's own files install everything it needs, and tell the same story."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string."""
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not pinned with '=='"
        pins[_name(name)] = version
    return pins


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


def test_lock_pins_every_dependency_the_project_names():
    project = _pyproject()["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _lock()
    missing = sorted({_name(r) for r in named} - set(pins))
    assert not missing, f"requirements.lock lacks {missing}; run `make lock`"


def test_lock_does_not_carry_the_benchmark_only_peer():
    # pandera is installed only for `make bench`.
    assert "pandera" not in _lock()
