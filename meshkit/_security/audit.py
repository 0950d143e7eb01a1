"""A tamper-evident audit log: an RFC 6962 Merkle tree with Ed25519-signed checkpoints.

Every decision is appended as one canonical JSON entry (a leaf). A :class:`Checkpoint` signs
``(size, root)``; anyone holding the log's public key can check it, and check *inclusion*
proofs (this entry is in the log signed at size n) and *consistency* proofs (the log at size
n is a prefix of the log at size m) with the free functions :func:`verify_inclusion` and
:func:`verify_consistency`, which need nothing but hashes (RFC 6962 section 2.1, with the
verification algorithms of RFC 9162 section 2.1.3.2 and 2.1.4.2).

:func:`verify_log` finds an edited, removed, reordered or truncated entry.

Examples
--------
>>> leaves = [leaf_hash(bytes([i])) for i in range(5)]
>>> root = merkle_root(leaves)
>>> verify_inclusion(leaves[3], 3, 5, inclusion_proof(leaves, 3), root)
True
>>> verify_consistency(2, 5, merkle_root(leaves[:2]), root, consistency_proof(leaves, 2))
True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:  # POSIX advisory locks; a file-backed log needs them (see _ProcessLock)
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

from meshkit._display import Badge, Bullets, Displayable, Heading
from meshkit._errors import IntegrityError

__all__ = ["leaf_hash", "node_hash", "merkle_root", "inclusion_proof", "consistency_proof",
           "verify_inclusion", "verify_consistency", "Checkpoint", "AuditLog", "Witness",
           "AuditVerification", "verify_log", "new_log_id", "EMPTY_ROOT"]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class _Frontier:
    """The perfect subtrees covering a growing log: O(log n) append and root."""

    def __init__(self) -> None:
        self.nodes: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        size, node = 1, leaf
        while self.nodes and self.nodes[-1][0] == size:
            _, left = self.nodes.pop()
            node, size = node_hash(left, node), size * 2
        self.nodes.append((size, node))
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        # folding right to left gives exactly RFC 6962's recursive MTH
        root = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            root = node_hash(left, root)
        return root


def merkle_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over *leaf hashes* (use :func:`leaf_hash` on raw entries first)."""
    frontier = _Frontier()
    for h in leaves:
        frontier.add(h)
    return frontier.root()


def inclusion_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]) for leaf ``index`` of the tree over ``leaves``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise IntegrityError("leaf index outside the tree", where="inclusion_proof",
                             expected=f"0 <= index < {n}", found=index)

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = _split(hi - lo)
        if m < k:
            return path(m, lo, lo + k) + [merkle_root(leaves[lo + k:hi])]
        return path(m - k, lo + k, hi) + [merkle_root(leaves[lo:lo + k])]

    return path(index, 0, n)


def consistency_proof(leaves: list[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]): the tree of size ``old_size`` is a prefix of ``leaves``."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise IntegrityError("old size outside the tree", where="consistency_proof",
                             expected=f"0 <= old_size <= {n}", found=old_size)
    if old_size in (0, n):
        return []

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        size = hi - lo
        if m == size:
            return [] if complete else [merkle_root(leaves[lo:hi])]
        k = _split(size)
        if m <= k:
            return subproof(m, lo, lo + k, complete) + [merkle_root(leaves[lo + k:hi])]
        return subproof(m - k, lo + k, hi, False) + [merkle_root(leaves[lo:lo + k])]

    return subproof(old_size, 0, n, True)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Check an inclusion proof (RFC 9162 2.1.3.2); needs only hashes. Never raises."""
    try:
        if not (0 <= index < size) or len(root) != 32 or len(leaf) != 32:
            return False
        fn, sn, r = index, size - 1, leaf
        for p in proof:
            if len(p) != 32 or sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                if not fn & 1:
                    while fn & 1 == 0 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except TypeError:
        return False


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: list[bytes]) -> bool:
    """Check a consistency proof (RFC 9162 2.1.4.2); needs only hashes. Never raises."""
    try:
        if not 0 <= old_size <= new_size or len(old_root) != 32 or len(new_root) != 32:
            return False
        if old_size == new_size:
            return not proof and old_root == new_root
        if old_size == 0:
            return not proof and old_root == EMPTY_ROOT
        proof = list(proof)
        if not proof or any(len(p) != 32 for p in proof):
            return False
        if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
            proof = [old_root] + proof
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = proof[0]
        for c in proof[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while fn & 1 == 0 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return fr == old_root and sr == new_root and sn == 0
    except TypeError:
        return False


# ---------------------------------------------------------------------------------------
# checkpoints and the log
# ---------------------------------------------------------------------------------------
def _checkpoint_message(log_id: str, size: int, root: bytes) -> bytes:
    return (f"meshkit audit checkpoint v1\n{log_id}\n{size}\n"
            f"{base64.b64encode(root).decode()}\n").encode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the log ``log_id`` had ``size`` entries with this ``root``."""

    log_id: str
    size: int
    root: bytes
    signature: bytes = field(repr=False)

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, _checkpoint_message(self.log_id, self.size,
                                                                  self.root))
            return True
        except InvalidSignature:
            return False

    def message(self) -> bytes:
        """The bytes the log's key signed."""
        return _checkpoint_message(self.log_id, self.size, self.root)

    def to_dict(self) -> dict:
        return {"log_id": self.log_id, "size": self.size, "root": self.root.hex(),
                "signature": self.signature.hex()}

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "checkpoint") -> "Checkpoint":
        """Parse a checkpoint; :class:`IntegrityError` naming ``where`` when malformed."""
        try:
            if not isinstance(d, dict):
                raise TypeError(f"a {type(d).__name__}, not a mapping")
            log_id, size = d["log_id"], d["size"]
            root, signature = bytes.fromhex(d["root"]), bytes.fromhex(d["signature"])
            if not isinstance(log_id, str) or not isinstance(size, int) or size < 0:
                raise TypeError(f"log_id {log_id!r}, size {size!r}")
            if len(root) != 32 or len(signature) != 64:
                raise ValueError(f"root of {len(root)} bytes, signature of {len(signature)}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IntegrityError("malformed audit checkpoint", where=where,
                                 expected="{log_id, size, root (32-byte hex), signature "
                                          "(64-byte hex)}",
                                 found=f"{type(exc).__name__}: {exc}") from None
        return cls(log_id, size, root, signature)


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str).encode()


def new_log_id() -> str:
    """A fresh, unguessable log identity (bound into every checkpoint signature)."""
    return f"meshkit-audit/{secrets.token_hex(12)}"


@dataclass(repr=False)
class AuditVerification(Displayable):
    """The outcome of :func:`verify_log`: ``ok`` and the problems found, with positions."""

    ok: bool
    size: int
    problems: list[str]
    first_bad: int | None = None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "size": self.size, "problems": list(self.problems),
                "first_bad": self.first_bad}

    def raise_if_tampered(self, where: str | None = None) -> AuditVerification:
        """Raise :class:`~meshkit._errors.IntegrityError` when the log does not verify;
        otherwise return this verification."""
        if self.ok:
            return self
        raise IntegrityError("audit log tampered", where=where or "audit log",
                             expected="entries matching every signed checkpoint",
                             found="; ".join(self.problems))

    def _render(self) -> list:
        if self.ok:
            return [Heading("audit log ", Badge("intact", True),
                            f": {self.size} entries match every signed checkpoint")]
        return [Heading("audit log ", Badge("TAMPERED", False), f" ({self.size} entries):"),
                Bullets(self.problems)]

    def __repr__(self) -> str:
        return str(self)


def verify_log(entries: list[bytes], checkpoints: list[Checkpoint],
               public_key: Ed25519PublicKey, *, log_id: str,
               witness: "Witness | None" = None) -> AuditVerification:
    """Check raw log entries against signed checkpoints; locate what was changed.

    Finds: a checkpoint whose signature fails or that belongs to another log (its
    ``log_id`` is not ``log_id``: another log signed with the same key); entries whose
    ``seq`` is not their position (removed or reordered); fewer entries than a checkpoint
    signed (truncated); a prefix whose Merkle root differs from the signed one (edited),
    naming the entry range; and entries no signed checkpoint covers (appended by someone
    without the signing key, or a log whose checkpoints were deleted).

    A log cut back together with its checkpoints (or emptied) still agrees with itself:
    only someone who kept an earlier checkpoint notices. With a :class:`Witness` that
    holds one for ``log_id``, the log's newest checkpoint must be at least as large and
    extend it, which the RFC 6962 consistency proof from the witnessed size shows.
    Call :meth:`AuditLog.checkpoint` before verifying a log kept with
    ``checkpoint_every > 1``.
    """
    problems: list[str] = []
    first_bad: int | None = None
    good: list[Checkpoint] = []
    for cp in checkpoints:
        if cp.log_id != log_id:
            problems.append(f"checkpoint at size {cp.size} belongs to log {cp.log_id!r}, "
                            f"not {log_id!r}")
        elif not cp.verify(public_key):
            problems.append(f"checkpoint at size {cp.size}: signature does not verify")
        else:
            good.append(cp)
    for i, raw in enumerate(entries):
        try:
            seq = json.loads(raw).get("seq")
        except (ValueError, AttributeError):
            seq = None
        if seq != i:
            problems.append(f"entry at position {i} carries seq {seq!r}: an entry was removed, "
                            f"inserted or reordered")
            first_bad = i if first_bad is None else min(first_bad, i)
            break
    leaves = [leaf_hash(e) for e in entries]
    previous = 0
    frontier = _Frontier()
    for cp in sorted(checkpoints, key=lambda c: c.size):
        if cp.size > len(leaves):
            problems.append(f"log truncated: checkpoint signed {cp.size} entries, "
                            f"log holds {len(leaves)}")
            first_bad = len(leaves) if first_bad is None else min(first_bad, len(leaves))
            break
        while frontier.size < cp.size:
            frontier.add(leaves[frontier.size])
        if frontier.root() != cp.root:
            problems.append(f"entries {previous}..{cp.size - 1} differ from what was signed "
                            f"at size {cp.size} (edited)")
            first_bad = previous if first_bad is None else min(first_bad, previous)
            break
        previous = cp.size
    else:
        if previous < len(entries):
            problems.append(f"entries {previous}..{len(entries) - 1} are covered by no signed "
                            f"checkpoint (appended after the last one, or checkpoints removed)")
            first_bad = previous if first_bad is None else min(first_bad, previous)
    if witness is not None:
        seen = witness.latest(log_id)
        if seen is not None:
            problem = _witness_problem(seen, leaves, good)
            if problem:
                problems.append(problem)
                cut = min(seen.size, len(entries))
                first_bad = cut if first_bad is None else min(first_bad, cut)
    return AuditVerification(not problems, len(entries), problems, first_bad)


def _witness_problem(seen: Checkpoint, leaves: list[bytes],
                     checkpoints: list[Checkpoint]) -> str | None:
    """Why the log (its leaves and verified checkpoints) does not extend ``seen``."""
    newest = max(checkpoints, key=lambda c: c.size, default=None)
    if newest is None or newest.size < seen.size or len(leaves) < seen.size:
        have = 0 if newest is None else newest.size
        return (f"log cut back: a witness holds a checkpoint at size {seen.size}, the log "
                f"holds {len(leaves)} entries and signs {have}")
    if newest.size > len(leaves):
        return None  # reported above as truncated
    proof = consistency_proof(leaves[:newest.size], seen.size)
    if not verify_consistency(seen.size, newest.size, seen.root, newest.root, proof):
        return (f"log rewritten: the checkpoint at size {newest.size} does not extend the one "
                f"a witness holds at size {seen.size} (consistency proof fails)")
    return None


def _read_lines(path: Path, what: str) -> list[tuple[int, bytes]]:
    """Non-empty lines of ``path`` with their line numbers; :class:`IntegrityError` when the
    file ends in a partial line (a writer cut off mid-write, or tampering)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if data and not data.endswith(b"\n"):
        tail = len(data) - data.rfind(b"\n") - 1
        raise IntegrityError(f"{what} ends in a partial line", where=path.name,
                             expected="complete lines, each ending in a newline",
                             found=f"{tail} trailing bytes")
    return [(i + 1, line) for i, line in enumerate(data.split(b"\n")) if line.strip()]


def _parse_checkpoints(lines, name: str) -> list[Checkpoint]:
    out = []
    for number, line in lines:
        where = f"{name}, line {number}"
        try:
            doc = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IntegrityError("malformed audit checkpoint", where=where,
                                 expected="one JSON object per line",
                                 found=str(exc)) from None
        out.append(Checkpoint.from_dict(doc, where=where))
    return out


class _ProcessLock:
    """An exclusive lock on ``path`` across processes and across the log objects of one
    process: ``fcntl.flock`` on a descriptor this object opens (``flock`` locks belong to an
    open file description, so two descriptors exclude each other even within one process;
    one inherited through ``fork`` is reopened, or parent and child would share the lock).

    Why not the ``filelock`` package: it opens, locks and closes the lock file on every
    acquire (about 1.5 ms here against 25 us for ``flock`` on a kept descriptor), and the
    log takes the lock on every append. Not POSIX (no ``fcntl``): a file-backed log is
    refused with a :class:`SecurityError` rather than appended to without a lock.
    """

    def __init__(self, path: Path) -> None:
        if fcntl is None:  # pragma: no cover - not POSIX
            from meshkit._errors import SecurityError
            raise SecurityError("a file-backed audit log needs POSIX file locks",
                                where=str(path), expected="fcntl.flock (Linux, macOS, BSD)",
                                found="no fcntl on this platform; keep the log in memory")
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> "_ProcessLock":
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            try:
                os.close(self._fd)
            except OSError:  # pragma: no cover - already closed
                pass


class AuditLog:
    """Append-only decision log; optionally persisted as JSON lines next to its checkpoints.

    Opening a log that exists continues it: the entries and checkpoints are read and
    verified (a log signed by another key, belonging to another ``log_id`` or tampered with
    is refused with :class:`IntegrityError`, and never erased). Several writers, threads
    or processes, may append to one file: each append takes an exclusive file lock
    (``fcntl.flock`` on ``<path>.lock``), reads what the others appended since, and writes
    the next entry and its checkpoint, so the file holds one sequence and one tree. Writers
    of one log share its signing key.

    Parameters
    ----------
    signer : Identity
        Signs checkpoints (its public key verifies them).
    path : path, optional
        ``<path>`` gets one canonical JSON entry per line, ``<path>.checkpoints`` the signed
        checkpoints. In memory only when omitted.
    log_id : str, optional
        Bound into each checkpoint signature; a verifier checks it. A new log gets a fresh
        random id (:func:`new_log_id`); an existing one keeps its own (passing another is an
        :class:`IntegrityError`). A new file-backed log signs its empty tree (size 0) at
        once, so the file names its ``log_id`` before any entry.
    checkpoint_every : int
        Sign a checkpoint after this many new entries (1: after each). Entries after the
        last checkpoint do not verify until :meth:`checkpoint` signs them.

    Examples
    --------
    >>> from meshkit._security.tokens import Identity, Principal
    >>> from meshkit._security.keys import SeededKeySource
    >>> log = AuditLog(Identity.generate(Principal("audit", "service"), source=SeededKeySource(3)))
    >>> log.append({"action": "read", "allowed": False})
    0
    >>> log.verify().ok
    True
    """

    def __init__(self, signer, *, path: str | os.PathLike | None = None,
                 log_id: str | None = None, checkpoint_every: int = 1) -> None:
        self.signer = signer
        self.public_key = signer.public().public_key
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.path = Path(path) if path is not None else None
        self.entries: list[bytes] = []
        self.checkpoints: list[Checkpoint] = []
        self._leaves: list[bytes] = []
        self._frontier = _Frontier()
        self._offsets = [0, 0]  # bytes of the entries and checkpoints files already read
        self._lines = [0, 0]  # and their lines
        self._mutex = threading.RLock()
        self._file_lock = None
        if self.path is None:
            self.log_id = log_id or new_log_id()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file_lock = _ProcessLock(self.path.with_name(self.path.name + ".lock"))
        with self._locked():
            found = {cp.log_id for cp in self.checkpoints}
            if len(found) > 1:
                raise IntegrityError("audit checkpoints of several logs in one file",
                                     where=self._cp_path.name, expected="one log_id",
                                     found=sorted(found))
            existing = next(iter(found), None)
            if existing is not None and log_id is not None and existing != log_id:
                raise IntegrityError("the audit log at this path is another log",
                                     where=self.path.name, expected=f"log_id {log_id!r}",
                                     found=repr(existing))
            if existing is None and self.entries:
                raise IntegrityError("audit entries without any signed checkpoint",
                                     where=self.path.name,
                                     expected="a log whose entries a checkpoint signs",
                                     found=f"{len(self.entries)} unsigned entries")
            self.log_id = existing or log_id or new_log_id()
            if not self.checkpoints:
                # a new log signs its empty tree at once: the file then names its log_id, and
                # every writer opening it later continues this log, not one of its own
                self._sign()
            elif self.entries or self.checkpoints:
                result = verify_log(self.entries, self.checkpoints, self.public_key,
                                    log_id=self.log_id)
                if not result.ok:
                    raise IntegrityError("the audit log at this path does not verify under "
                                         "this signer: refusing to continue it",
                                         where=self.path.name,
                                         expected="a log signed by this key, intact",
                                         found="; ".join(result.problems))

    @property
    def _cp_path(self) -> Path:
        return self.path.with_name(self.path.name + ".checkpoints")

    @contextmanager
    def _locked(self):
        """Hold the log exclusively (threads and processes) and catch up with the file."""
        with self._mutex:
            if self._file_lock is None:
                yield
                return
            with self._file_lock:
                self._catch_up()
                yield

    def _catch_up(self) -> None:
        """Read what other writers appended since this one last looked."""
        for k, (target, what) in enumerate(((self.path, "audit log"),
                                            (self._cp_path, "audit checkpoints"))):
            size = target.stat().st_size if target.exists() else 0
            if size < self._offsets[k]:
                raise IntegrityError(f"{what} shrank while open (truncated or replaced)",
                                     where=target.name,
                                     expected=f"at least {self._offsets[k]} bytes",
                                     found=f"{size} bytes")
            if size == self._offsets[k]:
                continue
            with open(target, "rb") as fh:
                fh.seek(self._offsets[k])
                data = fh.read(size - self._offsets[k])
            if not data.endswith(b"\n"):
                raise IntegrityError(f"{what} ends in a partial line", where=target.name,
                                     expected="complete lines", found=f"{len(data)} new bytes")
            raw = data.split(b"\n")[:-1]
            numbered = [(self._lines[k] + i + 1, line) for i, line in enumerate(raw)
                        if line.strip()]
            if k == 0:
                for _, line in numbered:
                    self._add(line)
            else:
                self.checkpoints.extend(_parse_checkpoints(numbered, target.name))
            self._offsets[k] = size
            self._lines[k] += len(raw)

    def _add(self, entry: bytes) -> None:
        self.entries.append(entry)
        self._leaves.append(leaf_hash(entry))
        self._frontier.add(self._leaves[-1])

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"AuditLog({self.log_id!r}, entries={len(self)}, checkpoints={len(self.checkpoints)})"

    def refresh(self) -> "AuditLog":
        """Catch up with entries other writers appended to the file."""
        with self._locked():
            pass
        return self

    def append(self, record: dict) -> int:
        """Append one record (``seq`` is added: its position in the one sequence of every
        writer); returns its index."""
        with self._locked():
            index = len(self.entries)
            entry = _canonical({"seq": index, **record})
            if self.path is not None:
                with open(self.path, "ab") as fh:
                    fh.write(entry + b"\n")
                self._offsets[0] += len(entry) + 1
                self._lines[0] += 1
            self._add(entry)
            if len(self.entries) % self.checkpoint_every == 0:
                self._sign()
            return index

    def records(self) -> list[dict]:
        self.refresh()
        return [json.loads(e) for e in self.entries]

    def root(self, size: int | None = None) -> bytes:
        if size is None or size == len(self._leaves):
            return self._frontier.root()
        return merkle_root(self._leaves[:size])

    def checkpoint(self) -> Checkpoint:
        """Sign the current ``(size, root)``."""
        with self._locked():
            return self._sign()

    def _sign(self) -> Checkpoint:
        size = len(self.entries)
        if self.checkpoints and self.checkpoints[-1].size == size:
            return self.checkpoints[-1]
        root = self.root()
        cp = Checkpoint(self.log_id, size, root,
                        self.signer.sign(_checkpoint_message(self.log_id, size, root)))
        if self.path is not None:
            line = (json.dumps(cp.to_dict()) + "\n").encode()
            with open(self._cp_path, "ab") as fh:
                fh.write(line)
            self._offsets[1] += len(line)
            self._lines[1] += 1
        self.checkpoints.append(cp)
        return cp

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        self.refresh()
        size = len(self._leaves) if size is None else size
        return inclusion_proof(self._leaves[:size], index)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        self.refresh()
        new_size = len(self._leaves) if new_size is None else new_size
        return consistency_proof(self._leaves[:new_size], old_size)

    def verify(self, *, witness: "Witness | None" = None) -> AuditVerification:
        """Verify the entries against the signed checkpoints (and a witness's, if given)."""
        self.refresh()
        return verify_log(self.entries, self.checkpoints, self.public_key,
                          log_id=self.log_id, witness=witness)

    @staticmethod
    def read(path: str | os.PathLike) -> tuple[list[bytes], list[Checkpoint]]:
        """Read a persisted log's raw entries and checkpoints (for a third party).

        A malformed checkpoint line or a file ending in a partial line is an
        :class:`IntegrityError` naming the file and line.
        """
        path = Path(path)
        entries = [line for _, line in _read_lines(path, "audit log")]
        cps_path = path.with_name(path.name + ".checkpoints")
        cps = _parse_checkpoints(_read_lines(cps_path, "audit checkpoints"), cps_path.name)
        return entries, cps

    @classmethod
    def verify_file(cls, path: str | os.PathLike, public_key: Ed25519PublicKey, *,
                    log_id: str, witness: "Witness | None" = None) -> AuditVerification:
        """Verify a persisted log with only its public key and its ``log_id`` (and, to catch
        a log cut back with its checkpoints, a :class:`Witness` that saw it earlier)."""
        entries, cps = cls.read(path)
        return verify_log(entries, cps, public_key, log_id=log_id, witness=witness)


# ---------------------------------------------------------------------------------------
# witnesses
# ---------------------------------------------------------------------------------------
def _witness_message(cp: Checkpoint) -> bytes:
    return b"meshkit audit witness v1\n" + cp.message() + cp.signature.hex().encode() + b"\n"


class Witness:
    """A verifier's own memory of the checkpoints it has seen, out of the log writer's reach.

    A log writer can cut its log back together with its checkpoints (or empty both files)
    and the log still agrees with itself. A witness keeps, per ``log_id``, the newest
    checkpoint it verified, countersigned with the witness's *own* Ed25519 key, in a file
    the verifier owns (a directory the writer cannot write, ideally another machine). On
    :meth:`observe` it accepts a new checkpoint only with an RFC 6962 consistency proof
    from the one it holds; :func:`verify_log` with ``witness=`` then refuses a log that
    does not extend it. The writer cannot rewrite the witness's file unnoticed: every line
    must carry the witness's signature.

    Parameters
    ----------
    path : path, optional
        ``<path>`` holds one JSON line per witnessed checkpoint. In memory when omitted.
    identity : Identity, optional
        The witness's signing identity; a fresh one (``os.urandom``) when omitted. Reopening
        a witness file needs the identity that wrote it.

    Examples
    --------
    >>> from meshkit._security.tokens import Identity, Principal
    >>> log = AuditLog(Identity.generate(Principal("audit", "service")))
    >>> witness = Witness()
    >>> _ = log.append({"action": "read"}); witness.watch(log).size
    1
    >>> _ = log.append({"action": "write"}); witness.watch(log).size
    2
    """

    def __init__(self, path: str | os.PathLike | None = None, *, identity=None) -> None:
        from meshkit._security.tokens import Identity, Principal

        self.identity = identity or Identity.generate(Principal("meshkit-witness", "service"))
        self.public_key = self.identity.public().public_key
        self.path = Path(path) if path is not None else None
        self._seen: dict[str, Checkpoint] = {}
        self._mutex = threading.RLock()
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for number, line in _read_lines(self.path, "witness file"):
            where = f"{self.path.name}, line {number}"
            try:
                doc = json.loads(line)
                countersignature = bytes.fromhex(doc.pop("witness_signature"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise IntegrityError("malformed witness record", where=where,
                                     expected="a checkpoint with a witness_signature",
                                     found=f"{type(exc).__name__}: {exc}") from None
            cp = Checkpoint.from_dict(doc, where=where)
            try:
                self.public_key.verify(countersignature, _witness_message(cp))
            except InvalidSignature:
                raise IntegrityError("witness record not signed by this witness",
                                     where=where, expected="this witness's Ed25519 signature",
                                     found="an invalid signature (rewritten?)") from None
            held = self._seen.get(cp.log_id)
            if held is None or cp.size >= held.size:
                self._seen[cp.log_id] = cp

    def __repr__(self) -> str:
        return f"Witness(logs={len(self._seen)})"

    def latest(self, log_id: str) -> Checkpoint | None:
        """The newest checkpoint this witness holds for ``log_id``."""
        return self._seen.get(log_id)

    def observe(self, checkpoint: Checkpoint, public_key: Ed25519PublicKey,
                proof: list[bytes]) -> Checkpoint:
        """Accept ``checkpoint`` if the log's key signed it and ``proof`` shows it extends the
        checkpoint held for its log; keep and countersign it.

        Raises
        ------
        IntegrityError
            The signature fails, the log was cut back (a smaller size), or the consistency
            proof fails (the log was rewritten). Nothing is recorded then.
        """
        with self._mutex:
            if not checkpoint.verify(public_key):
                raise IntegrityError("checkpoint signature does not verify",
                                     where=f"log {checkpoint.log_id!r}",
                                     expected="a checkpoint signed by the log's key",
                                     found=f"size {checkpoint.size}")
            held = self._seen.get(checkpoint.log_id)
            if held is not None:
                if checkpoint.size < held.size:
                    raise IntegrityError("log cut back below a witnessed checkpoint",
                                         where=f"log {checkpoint.log_id!r}",
                                         expected=f"size >= {held.size}",
                                         found=f"size {checkpoint.size}")
                if not verify_consistency(held.size, checkpoint.size, held.root,
                                          checkpoint.root, proof):
                    raise IntegrityError("log does not extend the witnessed checkpoint",
                                         where=f"log {checkpoint.log_id!r}",
                                         expected=f"a consistency proof from size {held.size}",
                                         found=f"one that fails at size {checkpoint.size}")
                if checkpoint.size == held.size:
                    return held
            if self.path is not None:
                record = {**checkpoint.to_dict(),
                          "witness_signature": self.identity.sign(
                              _witness_message(checkpoint)).hex()}
                with open(self.path, "ab") as fh:
                    fh.write((json.dumps(record) + "\n").encode())
            self._seen[checkpoint.log_id] = checkpoint
            return checkpoint

    def watch(self, log: AuditLog) -> Checkpoint:
        """Observe ``log``'s newest checkpoint, with the consistency proof the log gives."""
        cp = log.checkpoint()
        held = self._seen.get(log.log_id)
        proof = (log.consistency_proof(held.size, cp.size)
                 if held is not None and held.size <= cp.size <= len(log) else [])
        return self.observe(cp, log.public_key, proof)
