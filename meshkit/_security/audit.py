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
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from meshkit._display import Badge, Bullets, Displayable, Heading
from meshkit._errors import IntegrityError

__all__ = ["leaf_hash", "node_hash", "merkle_root", "inclusion_proof", "consistency_proof",
           "verify_inclusion", "verify_consistency", "Checkpoint", "AuditLog",
           "AuditVerification", "verify_log", "EMPTY_ROOT"]

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

    def to_dict(self) -> dict:
        return {"log_id": self.log_id, "size": self.size, "root": self.root.hex(),
                "signature": self.signature.hex()}

    @classmethod
    def from_dict(cls, d: dict) -> "Checkpoint":
        return cls(d["log_id"], int(d["size"]), bytes.fromhex(d["root"]),
                   bytes.fromhex(d["signature"]))


def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str).encode()


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
               public_key: Ed25519PublicKey) -> AuditVerification:
    """Check raw log entries against signed checkpoints; locate what was changed.

    Finds: a checkpoint whose signature fails; entries whose ``seq`` is not their position
    (removed or reordered); fewer entries than a checkpoint signed (truncated); a prefix
    whose Merkle root differs from the signed one (edited), naming the entry range; and
    entries no signed checkpoint covers (appended by someone without the signing key, or a
    log whose checkpoints were deleted). Call :meth:`AuditLog.checkpoint` before verifying
    a log kept with ``checkpoint_every > 1``.
    """
    problems: list[str] = []
    first_bad: int | None = None
    for cp in checkpoints:
        if not cp.verify(public_key):
            problems.append(f"checkpoint at size {cp.size}: signature does not verify")
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
    return AuditVerification(not problems, len(entries), problems, first_bad)


class AuditLog:
    """Append-only decision log; optionally persisted as JSON lines next to its checkpoints.

    Parameters
    ----------
    signer : Identity
        Signs checkpoints (its public key verifies them).
    path : path, optional
        ``<path>`` gets one canonical JSON entry per line, ``<path>.checkpoints`` the signed
        checkpoints. In memory only when omitted.
    log_id : str
        Bound into each checkpoint signature.
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
                 log_id: str = "meshkit-audit", checkpoint_every: int = 1) -> None:
        self.signer = signer
        self.public_key = signer.public().public_key
        self.log_id = log_id
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.path = Path(path) if path is not None else None
        self.entries: list[bytes] = []
        self.checkpoints: list[Checkpoint] = []
        self._leaves: list[bytes] = []
        self._frontier = _Frontier()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(b"")
            self._cp_path.write_text("")

    @property
    def _cp_path(self) -> Path:
        return self.path.with_name(self.path.name + ".checkpoints")

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"AuditLog({self.log_id!r}, entries={len(self)}, checkpoints={len(self.checkpoints)})"

    def append(self, record: dict) -> int:
        """Append one record (``seq`` is added); returns its index."""
        entry = _canonical({"seq": len(self.entries), **record})
        self.entries.append(entry)
        self._leaves.append(leaf_hash(entry))
        self._frontier.add(self._leaves[-1])
        if self.path is not None:
            with open(self.path, "ab") as fh:
                fh.write(entry + b"\n")
        if len(self.entries) % self.checkpoint_every == 0:
            self.checkpoint()
        return len(self.entries) - 1

    def records(self) -> list[dict]:
        return [json.loads(e) for e in self.entries]

    def root(self, size: int | None = None) -> bytes:
        if size is None or size == len(self._leaves):
            return self._frontier.root()
        return merkle_root(self._leaves[:size])

    def checkpoint(self) -> Checkpoint:
        """Sign the current ``(size, root)``."""
        size = len(self.entries)
        root = self.root()
        cp = Checkpoint(self.log_id, size, root,
                        self.signer.sign(_checkpoint_message(self.log_id, size, root)))
        if not self.checkpoints or self.checkpoints[-1].size != size:
            self.checkpoints.append(cp)
            if self.path is not None:
                with open(self._cp_path, "a") as fh:
                    fh.write(json.dumps(cp.to_dict()) + "\n")
        return cp

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = len(self._leaves) if size is None else size
        return inclusion_proof(self._leaves[:size], index)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = len(self._leaves) if new_size is None else new_size
        return consistency_proof(self._leaves[:new_size], old_size)

    def verify(self) -> AuditVerification:
        """Verify the in-memory entries against the signed checkpoints."""
        return verify_log(self.entries, self.checkpoints, self.public_key)

    @staticmethod
    def read(path: str | os.PathLike) -> tuple[list[bytes], list[Checkpoint]]:
        """Read a persisted log's raw entries and checkpoints (for a third party)."""
        path = Path(path)
        entries = [line for line in path.read_bytes().split(b"\n") if line]
        cps_path = path.with_name(path.name + ".checkpoints")
        cps = [Checkpoint.from_dict(json.loads(line))
               for line in cps_path.read_text().splitlines() if line.strip()]
        return entries, cps

    @classmethod
    def verify_file(cls, path: str | os.PathLike,
                    public_key: Ed25519PublicKey) -> AuditVerification:
        """Verify a persisted log with only its public key."""
        entries, cps = cls.read(path)
        return verify_log(entries, cps, public_key)
