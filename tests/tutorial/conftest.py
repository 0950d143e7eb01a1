"""Shared fixtures of the tutorial layer's tests: every embedded scenario, drawn small once."""

import pytest

from meshkit.scenarios import SCENARIOS, load_scenario


@pytest.fixture(scope="session")
def scenarios():
    """Each embedded scenario at scale 0.1, seed 3 (shared: the tests only read them)."""
    return {name: load_scenario(name, scale=0.1, seed=3) for name in SCENARIOS}
