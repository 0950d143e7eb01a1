"""One YAML loader for every file meshkit reads: mesh specs, data contracts and policies.

:func:`load_yaml` reads a file with PyYAML's safe loader and refuses, as a
:class:`~meshkit._errors.MeshkitError` subclass chosen by the caller (``SpecError`` for a
mesh spec, ``ContractError`` for a contract, ``PolicyError`` for a policy) naming the file
and, where it has one, the line:

- a file larger than ``max_bytes`` (checked before it is read);
- bytes that are not UTF-8 (the byte offset is named);
- malformed YAML (line and column), and scalars PyYAML cannot convert (an unquoted
  ``2024-13-45``, an integer of thousands of digits), which it raises as a raw ``ValueError``;
- a key repeated in one mapping (both lines are named): a second ``classification:`` or
  ``row_filter:`` would otherwise silently replace the first;
- a mapping key that is not a plain value (a list or a mapping as a key);
- nesting deeper than ``max_depth`` (instead of a RecursionError);
- aliases that expand past ``max_nodes`` nodes (a "billion laughs" file: a few hundred bytes
  whose anchors, expanded, are a billion nodes).

Merge keys (``<<: *defaults``) keep their YAML meaning: keys written in the mapping win over
merged ones, and only keys written twice in the mapping itself are duplicates.

With ``lines=True`` each mapping and sequence comes back as a :class:`LinedDict` or a
:class:`LinedList` that remembers the line of each key or item; :func:`line_of` finds the
line of a field path, so a later check (a jsonschema error, say) can name it too.

Examples
--------
>>> import tempfile, pathlib
>>> from meshkit._errors import SpecError
>>> path = pathlib.Path(tempfile.mkdtemp()) / "spec.yaml"
>>> _ = path.write_text("name: a\\nname: b\\n")
>>> load_yaml(path, error=SpecError)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
meshkit._errors.SpecError: ...spec.yaml, line 2: duplicate key (expected each key once per mapping; found 'name' again (first on line 1))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from meshkit._errors import MeshkitError, SpecError

__all__ = ["load_yaml", "line_of", "LinedDict", "LinedList", "MAX_BYTES", "MAX_DEPTH",
           "MAX_NODES"]

#: the largest YAML file meshkit reads (1 MiB: a mesh spec of thousands of domains)
MAX_BYTES = 1 << 20
#: the deepest nesting of mappings and sequences
MAX_DEPTH = 64
#: the most nodes a document may hold once its aliases are expanded
MAX_NODES = 100_000


class LinedDict(dict):
    """A mapping that remembers its line and each key's line in the YAML file."""

    line: int = 0
    key_lines: dict


class LinedList(list):
    """A sequence that remembers its line and each item's line in the YAML file."""

    line: int = 0
    item_lines: list


class _Refusal(Exception):
    """Raised inside the loader; :func:`load_yaml` turns it into the caller's error class."""

    def __init__(self, message: str, line: int | None, expected: str, found: str) -> None:
        super().__init__(message)
        self.message, self.line, self.expected, self.found = message, line, expected, found


class _Loader(yaml.SafeLoader):
    """A safe loader with bounded depth and expansion that refuses duplicate keys."""

    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES
    keep_lines = False

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise _Refusal("nesting too deep", mark.line + 1,
                               f"at most {self.max_depth} levels of mappings and lists",
                               f"more than {self.max_depth}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):  # noqa: D102 - PyYAML's hook
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:  # 2024-13-45, 5,000-digit integers...
            tag = node.tag.rsplit(":", 1)[-1]
            shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else node.id
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise _Refusal("a value YAML cannot read", node.start_mark.line + 1,
                           f"a valid {tag}", f"{shown}: {exc}") from None

    def compose_document(self):  # noqa: D102 - PyYAML's hook
        node = super().compose_document()
        _check_expansion(node, self.max_nodes)
        return node


def _check_expansion(root: yaml.Node, limit: int) -> None:
    """Refuse a document whose node tree, aliases expanded, exceeds ``limit`` nodes."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        for child in children:
            total += size(child)
            if total > limit:
                raise _Refusal("aliases expand too far", node.start_mark.line + 1,
                               f"at most {limit:,} nodes once aliases are expanded",
                               f"more than {limit:,} (a 'billion laughs' document?)")
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise _Refusal("a mapping key must be a plain value", line,
                           "a field name", type(key).__name__)
        if key in seen:
            raise _Refusal("duplicate key", line, "each key once per mapping",
                           f"{key!r} again (first on line {seen[key]})")
        seen[key] = line
    loader.flatten_mapping(node)  # merged keys first, the mapping's own keys after them
    result = LinedDict() if loader.keep_lines else {}
    lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    if loader.keep_lines:
        result.line = node.start_mark.line + 1
        result.key_lines = lines
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> list:
    items = [loader.construct_object(child, deep=True) for child in node.value]
    if not loader.keep_lines:
        return items
    result = LinedList(items)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _LinedLoader(_Loader):
    keep_lines = True


def load_yaml(path: str | os.PathLike, *, error: type[MeshkitError] = SpecError,
              what: str = "YAML file", lines: bool = False, max_bytes: int = MAX_BYTES,
              max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """Read one YAML document from ``path``, refusing what :mod:`meshkit._yaml` lists.

    Parameters
    ----------
    path : str or path-like
        The file to read.
    error : type of MeshkitError, default SpecError
        The error class raised for every refusal (``ContractError``, ``PolicyError``...).
    what : str, default "YAML file"
        What the file is, for messages: ``"the contract file"``, ``"the mesh spec"``...
    lines : bool, default False
        Return :class:`LinedDict` / :class:`LinedList` nodes that know their lines.
    max_bytes, max_depth, max_nodes : int
        The caps on file size, nesting depth and alias expansion.

    Returns
    -------
    object
        The document (``None`` for an empty file).

    Raises
    ------
    MeshkitError
        Of class ``error``; ``where`` names the file and, where known, the line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{what} is too large", where=str(path),
                        expected=f"at most {max_bytes:,} bytes", found=f"{size:,} bytes")
        data = path.read_bytes()
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        raise error(f"cannot read {what}" + (": not found" if missing else ""),
                    where=str(path), expected="an existing YAML file",
                    found=type(exc).__name__) from exc
    if len(data) > max_bytes:  # the file grew between stat and read
        raise error(f"{what} is too large", where=str(path),
                    expected=f"at most {max_bytes:,} bytes", found=f"{len(data):,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text", where=f"{path}, line {line}",
                    expected="UTF-8 encoded YAML",
                    found=f"byte {data[exc.start]:#04x} at offset {exc.start}") from None
    loader_class = type("_BoundedLoader", (_LinedLoader if lines else _Loader,),
                        {"max_depth": max_depth, "max_nodes": max_nodes})
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    except _Refusal as refusal:
        where = f"{path}, line {refusal.line}" if refusal.line else str(path)
        raise error(refusal.message, where=where, expected=refusal.expected,
                    found=refusal.found) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise error("malformed YAML", where=where, expected="valid YAML",
                    found=getattr(exc, "problem", None) or str(exc)) from None
    except RecursionError:
        raise error("nesting too deep", where=str(path),
                    expected=f"at most {max_depth} levels of mappings and lists",
                    found="more than Python can follow") from None
    finally:
        loader.dispose()


def line_of(document: Any, path: list) -> int | None:
    """The line of the deepest node of ``path`` (keys and indexes) that has one.

    ``document`` is what ``load_yaml(..., lines=True)`` returned.
    """
    line = getattr(document, "line", None)
    node = document
    for part in path:
        if isinstance(node, LinedDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LinedList) and isinstance(part, int) and part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line
