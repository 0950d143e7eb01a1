"""Domain keysets and where key bytes come from.

A :class:`Keyset` belongs to one domain. It holds a *primary* key (used to wrap new data
keys) and older keys kept only to unwrap what they wrapped before a rotation. Rotating makes
a new primary; :meth:`Keyset.rewrap` moves a wrapped data key to the new primary without
touching the encrypted data.

Key bytes come from a :class:`KeySource`. Production code uses :class:`SystemKeySource`
(``os.urandom``). Notebooks and tests that must print the same thing twice use
:class:`SeededKeySource`, which derives bytes from a seed with HKDF: **never use it for real
data**, anyone who knows the seed knows every key.

Examples
--------
>>> ks = Keyset.generate("sales", source=SeededKeySource(7))
>>> wrapped = ks.wrap(b"k" * 16, context=b"ctx")
>>> ks.unwrap(wrapped, context=b"ctx") == b"k" * 16
True
>>> "material" in repr(ks)
False
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshkit._errors import IntegrityError, SecurityError
from meshkit._time import to_utc

__all__ = [
    "KeySource",
    "SystemKeySource",
    "SeededKeySource",
    "KeyVersion",
    "WrappedKey",
    "Keyset",
    "DEFAULT_MAX_KEY_AGE",
]

#: Keys older than this are reported as "past rotation age" by the posture report.
DEFAULT_MAX_KEY_AGE = timedelta(days=90)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return to_utc(now, error=SecurityError, where="now")


class KeySource:
    """Where key bytes come from; subclasses implement :meth:`bytes`."""

    def bytes(self, n: int, label: str) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError


class SystemKeySource(KeySource):
    """Production key bytes: ``os.urandom`` (the operating system's CSPRNG).

    Examples
    --------
    >>> len(SystemKeySource().bytes(16, "data key"))
    16
    """

    def bytes(self, n: int, label: str) -> bytes:
        return os.urandom(n)

    def __repr__(self) -> str:
        return "SystemKeySource()"


class SeededKeySource(KeySource):
    """Demo key bytes derived from a seed with HKDF-SHA256: reproducible, *not secret*.

    Each call derives from ``(seed, label, call number)``, so the same sequence of calls
    gives the same keys. For notebooks and tests only.

    Examples
    --------
    >>> SeededKeySource(1).bytes(4, "x") == SeededKeySource(1).bytes(4, "x")
    True
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._calls = 0

    def bytes(self, n: int, label: str) -> bytes:
        self._calls += 1
        hkdf = HKDF(algorithm=hashes.SHA256(), length=n, salt=b"meshkit demo keys (not secret)",
                    info=f"{label}|{self._calls}".encode())
        return hkdf.derive(self.seed.to_bytes(16, "big", signed=True))

    def __repr__(self) -> str:
        return f"SeededKeySource(seed={self.seed})"


@dataclass(frozen=True)
class KeyVersion:
    """One key of a keyset: an id, a creation time and secret bytes (kept out of the repr)."""

    key_id: str
    created: datetime
    material: bytes = field(repr=False)

    def age(self, now: datetime | None = None) -> timedelta:
        """How old the key is at ``now``."""
        return _utc(now) - self.created


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted (AES-256-GCM) under one key of a domain keyset.

    Safe to store next to the data: without the keyset it reveals nothing.
    """

    domain: str
    key_id: str
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)

    def to_dict(self) -> dict:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return {"domain": self.domain, "key_id": self.key_id,
                "nonce": b64(self.nonce), "ciphertext": b64(self.ciphertext)}

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "wrapped_key") -> "WrappedKey":
        try:
            return cls(domain=str(d["domain"]), key_id=str(d["key_id"]),
                       nonce=base64.b64decode(d["nonce"], validate=True),
                       ciphertext=base64.b64decode(d["ciphertext"], validate=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError("malformed wrapped data key", where=where,
                                 expected="domain, key_id, nonce, ciphertext (base64)",
                                 found=repr(exc)) from None


class Keyset:
    """A domain's keys: one primary that wraps new data keys, older ones that only unwrap.

    Parameters
    ----------
    domain : str
        The owning domain; bound into every wrap so a key wrapped for one domain cannot be
        unwrapped as another's.
    keys : list of KeyVersion
        Oldest first; the last one is the primary.
    join_secret : bytes
        A long-lived secret from which deterministic (AES-SIV) column keys are derived, so
        equality joins on protected columns survive key rotation.
    source : KeySource, optional
        Where new key bytes come from (rotation). Defaults to the operating system.
    max_age : timedelta
        Rotation age used by :meth:`needs_rotation`.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> ks = Keyset.generate("sales", now=t0, source=SeededKeySource(1))
    >>> w = ks.wrap(bytes(16), context=b"c")
    >>> _ = ks.rotate(now=t0)
    >>> ks.rewrap(w, context=b"c").key_id == ks.primary.key_id
    True
    """

    def __init__(self, domain: str, keys: list[KeyVersion], *, join_secret: bytes,
                 source: KeySource | None = None,
                 max_age: timedelta = DEFAULT_MAX_KEY_AGE) -> None:
        if not keys:
            raise SecurityError("a keyset needs at least one key", where=f"domain {domain!r}",
                                expected="one or more keys", found="none")
        self.domain = domain
        self._keys = {k.key_id: k for k in keys}
        self._order = [k.key_id for k in keys]
        self._join_secret = join_secret
        self.source = source or SystemKeySource()
        self.max_age = max_age

    # -- construction --------------------------------------------------------------
    @classmethod
    def generate(cls, domain: str, *, now: datetime | None = None,
                 source: KeySource | None = None,
                 max_age: timedelta = DEFAULT_MAX_KEY_AGE) -> "Keyset":
        """A new keyset with one fresh primary key."""
        source = source or SystemKeySource()
        join_secret = source.bytes(32, f"{domain}/join-secret")
        first = cls._new_key(domain, source, _utc(now), 1)
        return cls(domain, [first], join_secret=join_secret, source=source, max_age=max_age)

    @staticmethod
    def _new_key(domain: str, source: KeySource, now: datetime, number: int) -> KeyVersion:
        material = source.bytes(32, f"{domain}/kek/{number}")
        fingerprint = hashlib.sha256(b"meshkit key id|" + material).hexdigest()[:8]
        return KeyVersion(key_id=f"{domain}-k{number}-{fingerprint}", created=now,
                          material=material)

    # -- inspection ----------------------------------------------------------------
    @property
    def primary(self) -> KeyVersion:
        """The key that wraps new data keys."""
        return self._keys[self._order[-1]]

    @property
    def key_ids(self) -> list[str]:
        """Every key id, oldest first (the last is the primary)."""
        return list(self._order)

    def needs_rotation(self, now: datetime | None = None) -> bool:
        """True when the primary key is older than ``max_age``."""
        return self.primary.age(now) > self.max_age

    def __repr__(self) -> str:
        return (f"Keyset(domain={self.domain!r}, keys={len(self._order)}, "
                f"primary={self.primary.key_id!r})")

    # -- operations ----------------------------------------------------------------
    def rotate(self, *, now: datetime | None = None) -> KeyVersion:
        """Make a new primary key; older keys stay for unwrapping. Returns the new key."""
        key = self._new_key(self.domain, self.source, _utc(now), len(self._order) + 1)
        self._keys[key.key_id] = key
        self._order.append(key.key_id)
        return key

    def _aad(self, key_id: str, context: bytes) -> bytes:
        return b"meshkit wrap v1|" + self.domain.encode() + b"|" + key_id.encode() + b"|" + context

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        """Encrypt ``data_key`` under the primary key, bound to ``context``."""
        primary = self.primary
        nonce = os.urandom(12)
        ct = AESGCM(primary.material).encrypt(nonce, bytes(data_key),
                                               self._aad(primary.key_id, context))
        return WrappedKey(domain=self.domain, key_id=primary.key_id, nonce=nonce, ciphertext=ct)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes, where: str | None = None) -> bytes:
        """Decrypt a wrapped data key; :class:`IntegrityError` if it was altered or moved."""
        where = where or f"domain {self.domain!r}"
        if wrapped.domain != self.domain:
            raise IntegrityError("data key wrapped for another domain", where=where,
                                 expected=self.domain, found=wrapped.domain)
        key = self._keys.get(wrapped.key_id)
        if key is None:
            raise IntegrityError("data key wrapped under a key this keyset does not hold",
                                 where=where, expected=f"one of {self._order}",
                                 found=wrapped.key_id)
        try:
            return AESGCM(key.material).decrypt(wrapped.nonce, wrapped.ciphertext,
                                                self._aad(wrapped.key_id, context))
        except InvalidTag:
            raise IntegrityError("wrapped data key failed authentication (altered, or bound to "
                                 "another product/version)", where=where,
                                 expected="a key wrapped for this context",
                                 found="authentication tag mismatch") from None

    def rewrap(self, wrapped: WrappedKey, *, context: bytes) -> WrappedKey:
        """Unwrap with whichever key wrapped it and wrap again under the primary."""
        return self.wrap(self.unwrap(wrapped, context=context), context=context)

    def retire(self, key_id: str) -> None:
        """Forget an old key (after every data key it wrapped has been re-wrapped)."""
        if key_id == self.primary.key_id:
            raise SecurityError("cannot retire the primary key", where=f"domain {self.domain!r}",
                                expected="an older key id", found=key_id)
        if key_id not in self._keys:
            raise SecurityError("unknown key id", where=f"domain {self.domain!r}",
                                expected=f"one of {self._order}", found=key_id)
        del self._keys[key_id]
        self._order.remove(key_id)

    # -- persistence ---------------------------------------------------------------
    def seal(self, master_key: bytes) -> dict:
        """The keyset as a JSON-ready dict, its secrets encrypted (AES-256-GCM) under
        ``master_key`` (32 bytes, e.g. from a KMS or HSM; never stored next to it).

        Examples
        --------
        >>> ks = Keyset.generate("crm")
        >>> master = bytes(32)
        >>> Keyset.unseal(ks.seal(master), master).key_ids == ks.key_ids
        True
        """
        if not isinstance(master_key, (bytes, bytearray)) or len(master_key) != 32:
            size = len(master_key) if hasattr(master_key, "__len__") else None
            raise SecurityError("master key must be 32 bytes", where=f"domain {self.domain!r}",
                                expected="32 bytes",
                                found=f"{size} bytes" if size is not None
                                else type(master_key).__name__)
        secrets_ = {"join_secret": self._join_secret.hex(),
                    "keys": {k: self._keys[k].material.hex() for k in self._order}}
        keys = [{"key_id": k, "created": self._keys[k].created.isoformat()} for k in self._order]
        max_age_days = self.max_age / timedelta(days=1)
        nonce = os.urandom(12)
        sealed = AESGCM(bytes(master_key)).encrypt(
            nonce, json.dumps(secrets_).encode(), _seal_aad(self.domain, keys, max_age_days))
        return {"format": "meshkit-keyset-v1", "domain": self.domain,
                "max_age_days": max_age_days, "keys": keys,
                "nonce": base64.b64encode(nonce).decode(),
                "sealed": base64.b64encode(sealed).decode()}

    @classmethod
    def unseal(cls, d: dict, master_key: bytes, *, source: KeySource | None = None,
               where: str = "keyset") -> "Keyset":
        """Rebuild a keyset from :meth:`seal`; :class:`IntegrityError` for a wrong master key
        or an altered document."""
        try:
            domain = d["domain"]
            keys = [{"key_id": k["key_id"], "created": k["created"]} for k in d["keys"]]
            order = [k["key_id"] for k in keys]
            created = {k["key_id"]: datetime.fromisoformat(k["created"]) for k in keys}
            nonce = base64.b64decode(d["nonce"], validate=True)
            sealed = base64.b64decode(d["sealed"], validate=True)
            max_age_days = float(d["max_age_days"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError("malformed sealed keyset", where=where,
                                 expected="format meshkit-keyset-v1", found=repr(exc)) from None
        try:
            plain = json.loads(AESGCM(bytes(master_key)).decrypt(
                nonce, sealed, _seal_aad(domain, keys, max_age_days)))
        except (InvalidTag, ValueError, TypeError):
            raise IntegrityError("sealed keyset does not open (wrong master key, or altered)",
                                 where=where, expected="the master key it was sealed with",
                                 found="authentication failure") from None
        versions = [KeyVersion(k, created[k], bytes.fromhex(plain["keys"][k])) for k in order]
        return cls(domain, versions, join_secret=bytes.fromhex(plain["join_secret"]),
                   source=source, max_age=timedelta(days=max_age_days))

    def join_key(self, column: str) -> bytes:
        """The 64-byte AES-SIV key for deterministic protection of ``column`` in this domain."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"meshkit column join key v1",
                    info=f"{self.domain}|{column}".encode())
        return hkdf.derive(self._join_secret)


def _seal_aad(domain: str, keys: list[dict], max_age_days: float) -> bytes:
    """Associated data of a sealed keyset: everything stored in clear next to the secrets
    (domain, key ids and creation times, rotation age), so none of it can be altered."""
    return b"meshkit keyset seal v1|" + json.dumps([domain, keys, max_age_days],
                                                   separators=(",", ":")).encode()
