"""The top level says the three formulas back in code, whatever was imported first."""

from __future__ import annotations

import subprocess
import sys

import pytest

import meshkit as mk
from meshkit import MeshkitError

FORMULAS = {
    "aggregate": "meshkit._federation",
    "consistency": "meshkit._consistency",
    "similarity": "meshkit._consistency",
    "sync": "meshkit._consistency",
    "security": "meshkit._security",
}


def test_every_public_name_resolves():
    for name in mk.__all__:
        assert getattr(mk, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        mk.no_such_name


@pytest.mark.parametrize("first", ["meshkit", *sorted(set(FORMULAS.values()))])
def test_formulas_are_functions_in_any_import_order(first):
    # ``meshkit._consistency`` and ``meshkit._security`` are both a sub-package and a function;
    # a fresh interpreter that imports the sub-package first must still see the functions.
    checks = "; ".join(
        f"assert mk.{name} is importlib.import_module('{module}').{name}, '{name}'"
        for name, module in FORMULAS.items()
    )
    code = f"import importlib, {first}; import meshkit as mk; {checks}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_errors_share_one_root():
    import meshkit._errors as errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), MeshkitError)
