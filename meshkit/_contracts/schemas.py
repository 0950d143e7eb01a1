"""The official ODCS JSON Schemas, from installed packages, and the check of a document.

Each release line of the Open Data Contract Standard is checked against its own schema:

=============  ===========================================================================
apiVersion     JSON Schema used (an installed package's file)
=============  ===========================================================================
v3.0.0-v3.0.2  ``odcs-3.0.2.schema.json`` shipped by ``datacontract-cli``
v3.1.0         ``odcs-3.1.0.schema.json`` shipped by ``datacontract-cli``
v3.2.0         ``schema.json`` shipped by the standard's own ``open-data-contract-standard``
=============  ===========================================================================

The standard's package ships the schema of one release only (its own version), so the two
earlier ones come from ``datacontract-cli``, the standard's reference tool, which ships
every release's schema. Nothing is read from outside the installed packages, and the files
are found through the distributions' metadata: neither package is imported.

**One deliberate widening**, as the standard does it: a ``v3.0.x`` document that breaks
the v3.0.2 schema is still accepted when the v3.1.0 schema (which lists ``v3.0.x`` among
the versions it accepts) validates it. The standard checks its own published examples
that way (every example, whatever ``apiVersion`` it declares, against its current schema),
and three of them, labelled ``v3.0.2``, use what v3.1 introduced (``timestamp`` and
``time`` logical types, numeric ``exclusiveMaximum``, ``metric`` rules, a team as an
object). Only that step is taken: a v3.1.0 document must pass the v3.1.0 schema (v3.2.0's
would, for one, let it drop the ``status`` v3.1.0 requires). The error reported is always
the one of the document's own release.

Examples
--------
>>> schema_for("v3.2.0")["properties"]["apiVersion"]["default"]
'v3.2.0'
>>> check_document({"apiVersion": "v3.2.0", "kind": "DataContract", "id": "x",
...                 "version": "1", "status": "draft", "owner": "me"}, "x.yaml")
Traceback (most recent call last):
...
meshkit._errors.ContractError: x.yaml: owner: a field ODCS v3.2.0 does not define (expected one of the fields the ODCS v3.2.0 JSON Schema lists; found 'owner')
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import re
from pathlib import Path

from meshkit._errors import ContractError

__all__ = ["API_VERSIONS", "schema_for", "check_document"]

#: Every ``apiVersion`` meshkit reads, oldest first.
API_VERSIONS: tuple[str, ...] = ("v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0", "v3.2.0")

# release line -> (distribution, file inside it, the version the schema declares)
_SOURCES: dict[str, tuple[str, str, str]] = {
    "v3.0": ("datacontract-cli", "datacontract/schemas/odcs-3.0.2.schema.json", "v3.0.2"),
    "v3.1": ("datacontract-cli", "datacontract/schemas/odcs-3.1.0.schema.json", "v3.1.0"),
    "v3.2": ("open-data-contract-standard", "open_data_contract_standard/schema.json", "v3.2.0"),
}
# a release line whose documents may also pass the next line's schema (see the module notes)
_WIDENED = {"v3.0": "v3.1"}


def _line(api_version: str) -> str:
    if api_version not in API_VERSIONS:
        raise ContractError("unsupported ODCS version", where="apiVersion",
                            expected=f"one of {', '.join(API_VERSIONS)}",
                            found=repr(api_version))
    return api_version[:4]


@functools.cache
def schema_for(api_version: str) -> dict:
    """The official JSON Schema of the release ``api_version`` belongs to.

    Raises
    ------
    ContractError
        When the version is not one meshkit reads, or the package holding its schema is
        missing or ships another release's schema.
    """
    package, name, declared = _SOURCES[_line(api_version)]
    try:  # located through the distribution's metadata: its modules are never imported
        # (importing datacontract re-registers PyYAML's SafeDumper str representer)
        text = Path(importlib.metadata.distribution(package).locate_file(name)).read_text(
            encoding="utf-8")
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError) as exc:
        raise ContractError(f"the ODCS {declared} JSON Schema is not installed",
                            where=f"package {package}",
                            expected=f"{name} inside the installed package {package} "
                                     f"(pip install {package})",
                            found=type(exc).__name__) from exc
    schema = json.loads(text)
    found = schema.get("properties", {}).get("apiVersion", {}).get("default")
    if found != declared:
        raise ContractError("the installed package ships another ODCS release's schema",
                            where=f"package {package}: {name}",
                            expected=f"the ODCS {declared} schema", found=repr(found))
    return schema


@functools.cache
def _validator(line: str):
    import jsonschema

    schema = schema_for(_SOURCES[line][2])
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def check_document(doc: dict, source: str | None = None) -> str:
    """Check a JSON-ready ODCS document against the official schema of its ``apiVersion``.

    Parameters
    ----------
    doc : dict
        The document; its ``apiVersion`` must be one of :data:`API_VERSIONS`.
    source : str, optional
        Where it came from, prefixed to the field path in errors.

    Returns
    -------
    str
        The release whose schema accepted the document (its own, or v3.1.0 for a v3.0.x
        document, see the module notes).

    Raises
    ------
    ContractError
        Naming the field path of the most relevant schema error of the document's own
        release.
    """
    api_version = doc.get("apiVersion")
    try:
        own = _line(api_version)
    except ContractError as exc:
        raise ContractError(exc.message, where=_where(source, "apiVersion"),
                            expected=exc.expected, found=exc.found) from None
    error = _most_specific(_validator(own).iter_errors(doc))
    if error is None:
        return _SOURCES[own][2]
    later = _WIDENED.get(own)
    if later is not None:
        accepted = schema_for(_SOURCES[later][2])["properties"]["apiVersion"].get("enum", ())
        if api_version in accepted and _validator(later).is_valid(doc):
            return _SOURCES[later][2]
    raise _to_contract_error(error, _SOURCES[own][2], source)


_WEAK = ("oneOf", "anyOf", "unevaluatedProperties")


def _most_specific(errors):
    """The deepest error, a definite one (a type, an enum, a missing field) before the
    alternatives (``oneOf``) and the "unevaluated properties" that follow from them."""
    return max(errors, key=lambda e: (len(e.absolute_path), e.validator not in _WEAK),
               default=None)


def _to_contract_error(error, release: str, source: str | None) -> ContractError:
    path = _path(error.absolute_path)
    if error.validator == "required":
        missing = [k for k in error.validator_value
                   if isinstance(error.instance, dict) and k not in error.instance]
        return ContractError("a required field is missing",
                             where=_where(source, _join(path, missing[0] if missing else "?")),
                             expected=f"the field {missing[0] if missing else '?'!r} "
                                      f"(ODCS {release})")
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        names = re.findall(r"'([^']+)'", error.message.split("(", 1)[-1])
        name = names[0] if names else "?"
        return ContractError(f"a field ODCS {release} does not define",
                             where=_where(source, _join(path, name)),
                             expected=f"one of the fields the ODCS {release} JSON Schema lists",
                             found=repr(name))
    expected = f"what the ODCS {release} JSON Schema allows"
    if error.validator in ("oneOf", "anyOf"):
        expected = "exactly one of the forms the standard allows here" \
            if error.validator == "oneOf" else "one of the forms the standard allows here"
    elif error.validator == "enum":
        expected = "one of " + ", ".join(str(v) for v in error.validator_value)
    elif error.validator == "type":
        expected = f"a value of JSON type {error.validator_value}"
    return ContractError(f"not valid ODCS {release} ({_short(error.message, 160)})",
                         where=_where(source, path or "(document)"), expected=expected,
                         found=_short(repr(error.instance), 80))


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _where(source: str | None, path: str) -> str:
    return f"{source}: {path}" if source else path


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 3] + "..."
