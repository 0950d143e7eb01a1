"""The error tree: its docstring drawing is the real hierarchy, payloads are declared."""

import ast
import inspect
import re
from pathlib import Path

import pytest

import meshkit
from meshkit import _errors

PACKAGE = Path(meshkit.__file__).parent
_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)\b.*?"
                   r"(?:\[(?P<payload>[^\]]*)\])?$")


def drawn_tree():
    """``{class name: (parent name or None, [payload names])}`` from the module docstring."""
    text = _errors.__doc__.split("::", 1)[1]
    tree, stack = {}, []
    for line in text.splitlines():
        match = _LINE.match(line.strip("\n")[4:]) if line.strip() else None
        if not match:
            continue
        depth = len(match["indent"]) // 4
        stack[depth:] = [match["name"]]
        payload = [p.strip() for p in (match["payload"] or "").split(",") if p.strip()]
        tree[match["name"]] = (stack[depth - 1] if depth else None, payload)
    return tree


def declared_payload(cls):
    """Keyword-only parameters that ``cls`` itself declares in ``__init__``."""
    if "__init__" not in vars(cls):
        return []
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def test_the_docstring_tree_is_the_class_hierarchy():
    tree = drawn_tree()
    assert set(tree) == set(_errors.__all__)
    for name, (parent, _) in tree.items():
        cls = getattr(_errors, name)
        expected = Exception if parent is None else getattr(_errors, parent)
        assert cls.__bases__ == (expected,), name


@pytest.mark.parametrize("name", _errors.__all__)
def test_payloads_drawn_are_the_constructor_arguments(name):
    cls = getattr(_errors, name)
    assert drawn_tree()[name][1] == declared_payload(cls)
    values = {arg: object() for arg in declared_payload(cls)}
    values.pop("where", None)
    error = cls("boom", where="here", **values)
    assert str(error).startswith("here: boom")
    assert all(getattr(error, arg) is value for arg, value in values.items())


def _patched_errors(tree: ast.AST) -> list[str]:
    """``err.x = ...`` where ``err`` was bound to ``SomethingError(...)`` in the same scope."""
    found = []
    for scope in ast.walk(tree):
        if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            continue
        errors = set()
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                func = node.value.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if called.endswith("Error"):
                    errors.update(t.id for t in node.targets if isinstance(t, ast.Name))
            if isinstance(node, ast.ExceptHandler) and node.name:
                errors.add(node.name)
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id in errors):
                        found.append(f"line {node.lineno}: {target.value.id}.{target.attr}")
    return sorted(set(found))


def test_no_error_gets_attributes_patched_on_after_it_is_built():
    patched = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        hits = _patched_errors(ast.parse(path.read_text(encoding="utf-8")))
        if hits:
            patched[str(path.relative_to(PACKAGE))] = hits
    assert patched == {}


def test_the_patch_detector_finds_a_patch():
    code = "def f():\n    err = RunError('x')\n    err.cell = 3\n    raise err\n"
    assert _patched_errors(ast.parse(code)) == ["line 3: err.cell"]
