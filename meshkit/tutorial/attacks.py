"""Attempting attacks in the open: run a step that should be refused and record how it was.

Used by the ``05_security`` notebook and tests to show each attack refused (and logged)
without try/except noise in cells.

Examples
--------
>>> from meshkit._errors import AuthenticationError
>>> def forged():
...     raise AuthenticationError("token signature does not verify", where="token.signature")
>>> attempt("forged token", forged).refused
True
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meshkit._display import Badge, Code, Displayable, Heading, Paragraph, Table
from meshkit._errors import (AuthenticationError, AuthorizationError, IntegrityError,
                            MeshkitError, SecurityError)

__all__ = ["Outcome", "Outcomes", "attempt", "flipped_byte", "swapped_file", "edited_entry",
           "deleted_file", "truncated_log", "demo_store", "publish_concurrently", "outcomes_table",
           "unsigned_token"]

_LAYER = {AuthenticationError: "authentication", AuthorizationError: "authorization",
          IntegrityError: "encryption/integrity"}


@dataclass(frozen=True)
class Outcome(Displayable):
    """What happened to one attack: refused or not, by which layer, and the error text."""

    attack: str
    refused: bool
    layer: str
    error: str
    message: str

    def to_dict(self) -> dict:
        return {"attack": self.attack, "refused": self.refused, "layer": self.layer,
                "error": self.error, "message": self.message}

    def raise_if_not_refused(self) -> Outcome:
        """Raise :class:`~meshkit._errors.SecurityError` when the attack went through;
        otherwise return the outcome."""
        if not self.refused:
            raise SecurityError("an attack was not refused", where=self.attack,
                                expected="a layer refusing it", found=self.message)
        return self

    def _render(self) -> list:
        return [Paragraph(f"{self.attack}: ",
                          Badge("refused" if self.refused else "NOT REFUSED", self.refused),
                          f" by {self.layer} ", Code(f"({self.error}: {self.message})"))]

    def __repr__(self) -> str:
        return str(self)


class Outcomes(Displayable, list):
    """A list of :class:`Outcome` s that shows as one table (slices stay ``Outcomes``).

    Examples
    --------
    >>> attacks = Outcomes([Outcome("forged token", True, "authentication", "E", "no")])
    >>> attacks += [Outcome("replay", False, "none", "-", "the step succeeded")]
    >>> type(attacks[-1:]).__name__, attacks.to_frame().height
    ('Outcomes', 2)
    >>> attacks.raise_if_not_refused()
    Traceback (most recent call last):
    ...
    meshkit._errors.SecurityError: replay: 1 attack(s) not refused (expected every attack refused by a layer; found replay)
    """

    def __getitem__(self, index):
        item = list.__getitem__(self, index)
        return Outcomes(item) if isinstance(index, slice) else item

    def __iadd__(self, other):
        list.extend(self, other)
        return self

    def __add__(self, other):
        return Outcomes(list.__add__(self, list(other)))

    def to_frame(self):
        """One row per attack (:func:`outcomes_table`)."""
        return outcomes_table(self)

    def to_dict(self) -> dict:
        return {"attacks": [o.to_dict() for o in self],
                "refused": sum(o.refused for o in self)}

    def raise_if_not_refused(self) -> Outcomes:
        """Raise :class:`~meshkit._errors.SecurityError` naming every attack that went
        through; otherwise return the outcomes."""
        through = [o.attack for o in self if not o.refused]
        if through:
            raise SecurityError(f"{len(through)} attack(s) not refused", where=", ".join(through),
                                expected="every attack refused by a layer",
                                found=", ".join(through))
        return self

    def _render(self) -> list:
        refused = sum(o.refused for o in self)
        return [Heading(f"{refused} of {len(self)} attack(s) refused"),
                Table(["attack", "verdict", "layer", "error", "message"],
                      [(o.attack, "refused" if o.refused else "NOT REFUSED", o.layer, o.error,
                        o.message) for o in self],
                      max_rows=max(len(self), 1), row_ok=[o.refused for o in self])]

    def __repr__(self) -> str:
        return str(self)


def attempt(attack: str, step) -> Outcome:
    """Run ``step()``; an attack counts as refused when it raises a :class:`MeshkitError`
    (a returned :class:`~meshkit._security.model.Decision` counts when it is denied, and a
    returned audit verification when it is not ok)."""
    try:
        result = step()
    except MeshkitError as exc:
        layer = next((name for cls, name in _LAYER.items() if isinstance(exc, cls)), "other")
        return Outcome(attack, True, layer, type(exc).__name__, str(exc))
    allowed = getattr(result, "allowed", None)
    if allowed is False:
        return Outcome(attack, True, "decision", "Decision", result.reason)
    if getattr(result, "ok", None) is False:
        return Outcome(attack, True, "audit", "AuditVerification", "; ".join(result.problems))
    return Outcome(attack, False, "none", "-", "the step succeeded")


@contextmanager
def flipped_byte(path, offset: int | None = None):
    """Flip one bit of ``path`` (in the middle by default) for the ``with`` block only."""
    path = Path(path)
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(data))
    try:
        yield path
    finally:
        path.write_bytes(original)


@contextmanager
def swapped_file(source, target):
    """Copy ``source`` over ``target`` for the ``with`` block only (a moved ciphertext)."""
    target = Path(target)
    backup = target.read_bytes()
    shutil.copyfile(source, target)
    try:
        yield target
    finally:
        target.write_bytes(backup)


@contextmanager
def edited_entry(path, index: int, changes: dict):
    """Rewrite entry ``index`` of a JSON-lines audit log with ``changes`` (canonical JSON, as
    a careful attacker would) for the ``with`` block only."""
    import json

    path = Path(path)
    original = path.read_bytes()
    lines = original.split(b"\n")
    record = json.loads(lines[index])
    record.update(changes)
    lines[index] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines))
    try:
        yield path
    finally:
        path.write_bytes(original)


@contextmanager
def deleted_file(path):
    """Move ``path`` aside (a deleted data file) for the ``with`` block only, then put it back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "part-0.parquet"; _ = f.write_bytes(b"data")
    >>> with deleted_file(f):
    ...     f.exists()
    False
    >>> f.read_bytes()
    b'data'
    """
    path = Path(path)
    aside = path.with_name(path.name + ".deleted")
    path.rename(aside)
    try:
        yield path
    finally:
        aside.rename(path)


@contextmanager
def truncated_log(path, size: int):
    """Cut a JSON-lines audit log and its ``.checkpoints`` file back to their first ``size``
    entries (and the checkpoints of at most ``size`` entries) for the ``with`` block only:
    what an attacker who can write the files does to hide the newest entries. The cut log
    still agrees with itself; only a witness that saw it longer finds the cut.
    """
    import json

    path = Path(path)
    checkpoints = path.with_name(path.name + ".checkpoints")
    originals = {p: p.read_bytes() for p in (path, checkpoints) if p.exists()}
    entries = originals[path].split(b"\n")
    path.write_bytes(b"".join(line + b"\n" for line in entries[:size] if line))
    if checkpoints in originals:
        kept = [line for line in originals[checkpoints].split(b"\n")
                if line and json.loads(line)["size"] <= size]
        checkpoints.write_bytes(b"".join(line + b"\n" for line in kept))
    try:
        yield path
    finally:
        for p, data in originals.items():
            p.write_bytes(data)


def demo_store(root, *, seed: int):
    """A one-product protected store for the concurrent-publisher demo: ``(model, store,
    owner)``.

    Product ``notes`` (columns ``id``, ``note``) of domain ``ops``, owned by ``olga``; demo
    keys and identity from ``seed`` (:class:`~meshkit.SeededKeySource`), so that separate
    processes building it with one seed share its keys. Each process has its own audit log.
    """
    from meshkit._security.keys import SeededKeySource
    from meshkit._security.model import SecurityModel
    from meshkit._security.policy import ProductInfo
    from meshkit._security.store import SecureStore
    from meshkit._security.tokens import Identity, Principal

    source = SeededKeySource(seed)
    owner = Identity.generate(Principal("olga", domain="ops"), source=source)
    info = ProductInfo("notes", "ops", owner="olga", columns=("id", "note"))
    model = SecurityModel.build([info], identities=[owner], source=source,
                                clock=lambda: 1_780_000_000)
    return model, SecureStore(root, model), owner


_PUBLISHER = """
import sys
import polars as pl
from meshkit.tutorial.attacks import demo_store
_, store, owner = demo_store(sys.argv[1], seed=int(sys.argv[2]))
publisher = int(sys.argv[3])
frame = pl.DataFrame({"id": [publisher], "note": [f"from publisher {publisher}"]})
print(store.publish("notes", frame, owner).version)
"""


def publish_concurrently(root, *, seed: int, publishers: int = 2, timeout: float = 300) -> dict:
    """Start ``publishers`` processes that publish the :func:`demo_store`'s product at once.

    Each process builds the store under ``root`` (emptied first) and publishes one row
    naming it; the processes race for the product's next Delta version, and the store
    retries a commit that loses the race onto the newer version.

    Returns
    -------
    dict
        Publisher number -> the version it was told.

    Raises
    ------
    StoreError
        A publisher failed (the last line of its error output is in the message).
    """
    import os
    import subprocess
    import sys

    import meshkit
    from meshkit._errors import StoreError

    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    demo_store(root, seed=seed)  # the folder exists; the table does not yet
    package_root = str(Path(meshkit.__file__).resolve().parents[1])
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, "-c", _PUBLISHER, str(root), str(seed), str(k)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(publishers)]
    versions = {}
    for k, proc in enumerate(procs):
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            last = err.strip().splitlines()[-1:] or ["no error output"]
            raise StoreError("a concurrent publisher failed", where=f"publisher {k}",
                             expected="exit status 0", found=last[0])
        versions[k] = int(out.strip().splitlines()[-1])
    return versions


def outcomes_table(outcomes):
    """A polars DataFrame, one row per attack."""
    import polars as pl

    return pl.DataFrame([o.to_dict() for o in outcomes],
                        schema={"attack": pl.String, "refused": pl.Boolean, "layer": pl.String,
                                "error": pl.String, "message": pl.String})


def unsigned_token(*, subject: str, audience: str, now, ttl: int = 900) -> str:
    """A JWT with ``alg: none`` and no signature: what an attacker sends to skip verification.

    The claims are otherwise valid (subject, issuer, audience, issue and expiry times), so a
    verifier that honoured the header's algorithm would accept it.

    Examples
    --------
    >>> token = unsigned_token(subject="ana", audience="mesh", now=0)
    >>> token.endswith("."), token.count(".")
    (True, 2)
    """
    import base64
    import json
    from datetime import datetime

    def encode(part: dict) -> str:
        text = json.dumps(part, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(text).rstrip(b"=").decode()

    issued = int(now.timestamp()) if isinstance(now, datetime) else int(now)
    claims = {"sub": subject, "iss": subject, "aud": audience, "iat": issued, "exp": issued + ttl}
    return encode({"alg": "none", "kid": subject}) + "." + encode(claims) + "."
