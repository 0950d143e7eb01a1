"""The package's floor plan: no import cycles, layers import downward, one export list."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import meshkit

PACKAGE = Path(meshkit.__file__).parent



def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import statement, at the top or deferred into a function; not TYPE_CHECKING ones."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return [node for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped]


def import_graph() -> dict[str, set[str]]:
    """meshkit module -> the meshkit modules it imports anywhere in its code.

    ``from package import submodule`` is an edge to the submodule; ``from module import name``
    an edge to the module.
    """
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
                           for a in node.names]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_deferred_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == {frozenset({"a", "b", "c"})}
    code = "import meshkit._mesh\ndef f():\n    from meshkit._store import ProductStore\n"
    assert {n.lineno for n in _imports(ast.parse(code))} == {1, 3}


def test_no_import_cycle_among_meshkit_modules():
    found = cycles(import_graph())
    assert found == set(), "import cycle(s), deferred imports included"


def test_the_mesh_model_and_its_file_format_import_one_way():
    graph = import_graph()
    assert "meshkit._mesh_spec" in graph["meshkit._mesh"]
    assert "meshkit._mesh" not in graph["meshkit._mesh_spec"]


def test_the_library_never_imports_the_tutorial():
    graph = import_graph()
    above = ("meshkit.tutorial", "meshkit.cli", "meshkit.viz", "meshkit.widgets")
    library = [m for m in graph if not m.startswith(above) and m != "meshkit.__main__"]
    offenders = {m: sorted(t for t in graph[m] if t.startswith("meshkit.tutorial"))
                 for m in library}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_exports_are_the_union_of_the_private_packages_all():
    private = {f"meshkit.{p.name}" for p in PACKAGE.iterdir()
               if p.is_dir() and p.name.startswith("_") and (p / "__init__.py").exists()}
    modules = {"meshkit._errors", "meshkit._mesh", "meshkit._store", "meshkit._display"}
    assert set(meshkit._EXPORTS) == private | modules
    for module, names in meshkit._EXPORTS.items():
        if module == "meshkit._display":
            # the renderer's building blocks are internal; only table() is public
            assert names == ("table",) and "table" in importlib.import_module(module).__all__
            continue
        assert list(names) == list(importlib.import_module(module).__all__), module
    exported = [name for names in meshkit._EXPORTS.values() for name in names]
    assert len(exported) == len(set(exported)), "a name exported twice"
    assert set(meshkit.__all__) == {"__version__", *exported}
