"""Shared test set-up.

nbval items (the committed notebooks) share the tutorial run directory, so they all run in
one xdist group, in order; unit tests spread over the other workers.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("notebooks"))
