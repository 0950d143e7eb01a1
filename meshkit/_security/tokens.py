"""Principals, their Ed25519 keys, and signed tokens (JWT via joserfc, algorithm pinned).

A :class:`Principal` is a person, a service or a domain. An :class:`Identity` is a principal
with its Ed25519 private key; it signs its own short-lived token (a JWT, ``alg: Ed25519`` per
RFC 9864, ``kid`` = principal name). A :class:`Directory` holds the principals and their
*public* keys; :class:`TokenVerifier` checks a token against it: signature with the pinned
algorithm only (``none``, HS256 and the rest are refused), and ``exp``, ``iat``, ``aud``,
``iss`` and ``sub`` all required (``iss`` = ``sub`` = ``kid``).

A token may carry a ``purpose`` claim, bound when it is issued: the security model takes
the purpose of a read from it (never from the caller's arguments) and checks it against the
grant. Times are explicit when issuing: pass ``now`` (epoch seconds or an aware datetime)
for reproducible tokens. A verifier checks against its own ``clock`` (the model passes its
own); a directory refuses a second key for a known principal unless :meth:`Directory.rotate`
says so.

Examples
--------
>>> from meshkit._security.keys import SeededKeySource
>>> alice = Identity.generate(Principal("alice", "person", domain="sales"),
...                           source=SeededKeySource(1))
>>> directory = Directory([alice.public()])
>>> token = alice.issue_token(audience="meshkit", now=1_800_000_000, ttl=600)
>>> verifier = TokenVerifier(directory, audience="meshkit", clock=lambda: 1_800_000_100)
>>> verifier.verify(token).principal.name
'alice'
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import OKPKey
from joserfc.jws import extract_compact

from meshkit._errors import AuthenticationError, PolicyError, SecurityError
from meshkit._time import epoch_seconds

__all__ = ["ALGORITHM", "KINDS", "Principal", "PublicIdentity", "Identity", "Directory",
           "VerifiedToken", "TokenVerifier", "to_epoch", "public_key_from_bytes",
           "principals_from_specs"]

#: The one signature algorithm meshkit accepts (RFC 9864 fully-specified Ed25519).
ALGORITHM = "Ed25519"
KINDS = ("person", "service", "domain")


def to_epoch(now: float | datetime | str | None) -> int:
    """Epoch seconds from ``None`` (the clock) or any time :func:`meshkit._time.to_utc` reads."""
    if now is None:
        return int(time.time())
    return epoch_seconds(now, error=SecurityError, where="now")


@dataclass(frozen=True)
class Principal:
    """Who acts: a ``person``, a ``service`` or a ``domain``, with roles and a home domain.

    Examples
    --------
    >>> Principal("etl", "service", domain="sales", roles=("writer",)).roles
    ('writer',)
    """

    name: str
    kind: str = "person"
    domain: str | None = None
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise PolicyError("a principal needs a non-empty name", where="principal.name",
                              expected="a non-empty string", found=repr(self.name))
        if self.kind not in KINDS:
            raise PolicyError("unknown principal kind", where=f"principal {self.name!r}.kind",
                              expected=" or ".join(KINDS), found=repr(self.kind))
        object.__setattr__(self, "roles", tuple(self.roles))


def public_key_from_bytes(raw: bytes, *, where: str = "public key") -> Ed25519PublicKey:
    """An Ed25519 public key from 32 raw bytes; :class:`AuthenticationError` otherwise."""
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
        raise AuthenticationError("malformed Ed25519 public key", where=where,
                                  expected="32 raw bytes",
                                  found=f"{type(raw).__name__} of length "
                                        f"{len(raw) if hasattr(raw, '__len__') else '?'}")
    try:
        return Ed25519PublicKey.from_public_bytes(bytes(raw))
    except ValueError as exc:
        raise AuthenticationError("malformed Ed25519 public key", where=where,
                                  expected="a valid Ed25519 point", found=str(exc)) from None


@dataclass(frozen=True)
class PublicIdentity:
    """A principal and its Ed25519 public key: what a directory stores."""

    principal: Principal
    public_key: Ed25519PublicKey = field(repr=False)

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)


class Identity:
    """A principal with its Ed25519 private key; issues its own signed tokens.

    Use :meth:`generate` (``os.urandom`` by default; a ``SeededKeySource`` for demos).
    """

    def __init__(self, principal: Principal, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise AuthenticationError("an identity needs an Ed25519 private key",
                                      where=f"principal {principal.name!r}",
                                      expected="Ed25519PrivateKey",
                                      found=type(private_key).__name__)
        self.principal = principal
        self._key = private_key

    @classmethod
    def generate(cls, principal: Principal, *, source=None) -> "Identity":
        """A new Ed25519 key for ``principal`` (seeded only when ``source`` is given)."""
        if source is None:
            return cls(principal, Ed25519PrivateKey.generate())
        seed = source.bytes(32, f"ed25519/{principal.name}")
        return cls(principal, Ed25519PrivateKey.from_private_bytes(seed))

    def __repr__(self) -> str:
        return f"Identity({self.principal.name!r}, kind={self.principal.kind!r})"

    def public(self) -> PublicIdentity:
        return PublicIdentity(self.principal, self._key.public_key())

    def sign(self, message: bytes) -> bytes:
        """Raw Ed25519 signature over ``message`` (used for audit checkpoints)."""
        return self._key.sign(message)

    def issue_token(self, *, audience: str, now: float | datetime | None = None,
                    ttl: int = 900, purpose: str | None = None) -> str:
        """A compact JWS token: ``iss`` = ``sub`` = name, ``aud``, ``iat`` = now, ``exp``, and
        the ``purpose`` the holder states (what a grant with a purpose is checked against)."""
        iat = to_epoch(now)
        if purpose is not None and (not isinstance(purpose, str) or not purpose):
            raise AuthenticationError("a token purpose must be a non-empty string",
                                      where=f"token of {self.principal.name!r}.purpose",
                                      expected="e.g. 'fraud-detection'", found=repr(purpose))
        claims = {"iss": self.principal.name, "sub": self.principal.name, "aud": audience,
                  "iat": iat, "exp": iat + int(ttl)}
        if purpose is not None:
            claims["purpose"] = purpose
        header = {"alg": ALGORITHM, "kid": self.principal.name}
        return jwt.encode(header, claims, OKPKey.import_key(self._key), algorithms=[ALGORITHM])


class Directory:
    """The principals the mesh knows, with their public keys.

    Examples
    --------
    >>> d = Directory()
    >>> "bob" in d
    False
    """

    def __init__(self, identities=()) -> None:
        self._entries: dict[str, PublicIdentity] = {}
        for ident in identities:
            self.add(ident)

    def add(self, identity) -> None:
        """Register a :class:`PublicIdentity` (or an :class:`Identity`'s public half).

        Adding a principal already known is a no-op when it is the same principal with the
        same key; with another key or other attributes (kind, domain, roles) it is an
        :class:`AuthenticationError`: a new key is a :meth:`rotate`, never a silent
        replacement (whoever holds the new key would become the principal).
        """
        identity = _public(identity)
        name = identity.principal.name
        known = self._entries.get(name)
        if known is not None:
            if known.public_bytes != identity.public_bytes:
                raise AuthenticationError("principal already known with another key",
                                          where=f"directory[{name!r}]",
                                          expected="the same public key, or an explicit "
                                                   "Directory.rotate()",
                                          found=f"key {identity.public_bytes.hex()[:16]}... "
                                                f"for key {known.public_bytes.hex()[:16]}...")
            if known.principal != identity.principal:
                raise AuthenticationError("principal already known with other attributes",
                                          where=f"directory[{name!r}]",
                                          expected=repr(known.principal),
                                          found=repr(identity.principal))
            return
        self._entries[name] = identity

    def rotate(self, identity) -> None:
        """Replace the key of a known principal (an explicit key rotation).

        The principal (kind, domain, roles) must be the one already known; tokens signed by
        the old key stop verifying.
        """
        identity = _public(identity)
        name = identity.principal.name
        known = self._entries.get(name)
        if known is None:
            raise AuthenticationError("cannot rotate the key of an unknown principal",
                                      where=f"directory[{name!r}]",
                                      expected="a principal in the directory", found="none")
        if known.principal != identity.principal:
            raise AuthenticationError("a key rotation cannot change the principal",
                                      where=f"directory[{name!r}]",
                                      expected=repr(known.principal),
                                      found=repr(identity.principal))
        self._entries[name] = identity

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> PublicIdentity | None:
        return self._entries.get(name)

    def principal(self, name: str) -> Principal | None:
        entry = self._entries.get(name)
        return entry.principal if entry else None

    def __repr__(self) -> str:
        return f"Directory({len(self)} principals)"


def _public(identity) -> PublicIdentity:
    if isinstance(identity, Identity):
        return identity.public()
    if not isinstance(identity, PublicIdentity):
        raise AuthenticationError("a directory holds identities", where="directory",
                                  expected="an Identity or a PublicIdentity",
                                  found=type(identity).__name__)
    return identity


@dataclass(frozen=True)
class VerifiedToken:
    """The result of a successful verification: who, and the checked claims."""

    principal: Principal
    claims: dict


class TokenVerifier:
    """Checks tokens against a :class:`Directory`: pinned algorithm, required claims.

    Parameters
    ----------
    directory : Directory
    audience : str
        The only accepted ``aud``.
    leeway : int
        Seconds of clock skew tolerated on ``exp`` and ``iat``.
    max_ttl : int
        Longest accepted ``exp - iat`` in seconds.
    clock : callable, optional
        Returns epoch seconds (default ``time.time``): the time tokens are checked at.
    """

    def __init__(self, directory: Directory, *, audience: str, leeway: int = 0,
                 max_ttl: int = 24 * 3600, clock=None) -> None:
        self.directory = directory
        self.clock = clock or time.time
        self.audience = audience
        self.leeway = int(leeway)
        self.max_ttl = int(max_ttl)

    def __repr__(self) -> str:
        return f"TokenVerifier(audience={self.audience!r}, algorithm={ALGORITHM!r})"

    def verify(self, token: str, *, now: float | datetime | None = None) -> VerifiedToken:
        """Return the verified principal; :class:`AuthenticationError` with the reason otherwise.

        ``now`` defaults to the verifier's clock (the security model always passes its own
        clock's time; a reader never chooses it).
        """
        if isinstance(token, bytes):
            token = token.decode("ascii", "replace")
        if not isinstance(token, str) or token.count(".") != 2:
            raise AuthenticationError("malformed token", where="token",
                                      expected="a compact JWS 'header.payload.signature'",
                                      found=f"{type(token).__name__} with "
                                            f"{str(token).count('.') + 1} part(s)")
        try:
            obj = extract_compact(token.encode())
            alg = obj.protected.get("alg")
            kid = obj.protected.get("kid")
        except (jose_errors.JoseError, ValueError, UnicodeDecodeError) as exc:
            raise AuthenticationError("malformed token", where="token.header",
                                      expected="base64url JSON header", found=str(exc)) from None
        if alg != ALGORITHM:
            raise AuthenticationError("token algorithm not allowed", where="token.header.alg",
                                      expected=ALGORITHM, found=repr(alg))
        entry = self.directory.get(kid) if isinstance(kid, str) else None
        if entry is None:
            raise AuthenticationError("token signed by an unknown principal",
                                      where="token.header.kid",
                                      expected="a principal in the directory", found=repr(kid))
        key = OKPKey.import_key(entry.public_key)
        try:
            decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        except jose_errors.BadSignatureError:
            raise AuthenticationError("token signature does not verify (forged or altered)",
                                      where="token.signature",
                                      expected=f"an Ed25519 signature by {kid!r}",
                                      found="invalid signature") from None
        except (jose_errors.JoseError, ValueError) as exc:
            raise AuthenticationError("malformed token", where="token",
                                      expected="a signed JWT", found=str(exc)) from None
        claims = dict(decoded.claims)
        t = to_epoch(now) if now is not None else int(self.clock())
        registry = jwt.JWTClaimsRegistry(
            now=t, leeway=self.leeway,
            exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
            iss={"essential": True, "value": kid}, aud={"essential": True, "value": self.audience})
        try:
            registry.validate(claims)
        except jose_errors.ExpiredTokenError:
            raise AuthenticationError("token expired", where="token.exp",
                                      expected=f"exp > now ({t})",
                                      found=f"exp = {claims.get('exp')}") from None
        except jose_errors.MissingClaimError as exc:
            raise AuthenticationError("token lacks a required claim", where="token.claims",
                                      expected="exp, iat, aud, iss and sub",
                                      found=str(exc)) from None
        except jose_errors.InvalidClaimError as exc:
            claim = getattr(exc, "claim", None) or str(exc)
            expected = {"aud": self.audience, "iss": kid}.get(claim, "a valid value")
            raise AuthenticationError("token claim rejected", where=f"token.{claim}",
                                      expected=expected, found=repr(claims.get(claim))) from None
        except jose_errors.JoseError as exc:
            raise AuthenticationError("token claims rejected", where="token.claims",
                                      expected="valid claims", found=str(exc)) from None
        if claims.get("sub") != kid:
            raise AuthenticationError("token subject differs from its signer", where="token.sub",
                                      expected=repr(kid), found=repr(claims.get("sub")))
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise AuthenticationError("token times must be integers", where="token.iat",
                                      expected="epoch seconds", found=f"{iat!r}, {exp!r}")
        if iat > t + self.leeway:
            raise AuthenticationError("token issued in the future", where="token.iat",
                                      expected=f"iat <= now ({t})", found=f"iat = {iat}")
        if exp - iat > self.max_ttl:
            raise AuthenticationError("token lifetime too long", where="token.exp",
                                      expected=f"exp - iat <= {self.max_ttl} s",
                                      found=f"{exp - iat} s")
        purpose = claims.get("purpose")
        if purpose is not None and (not isinstance(purpose, str) or not purpose):
            raise AuthenticationError("token purpose must be a non-empty string",
                                      where="token.purpose", expected="a string",
                                      found=repr(purpose))
        return VerifiedToken(entry.principal, claims)


_SPEC_FIELDS = {"name", "kind", "domain", "roles"}


def principals_from_specs(specs, *, where: str = "principals") -> list[Principal]:
    """Principals from plain dicts (notebook parameters, YAML): ``name``, ``kind``,
    ``domain``, ``roles``. Unknown fields are a :class:`PolicyError` naming the field.

    Examples
    --------
    >>> principals_from_specs([{"name": "ana", "roles": ["analyst"]}])[0].roles
    ('analyst',)
    """
    out = []
    for i, spec in enumerate(specs or []):
        here = f"{where}[{i}]"
        if not isinstance(spec, dict):
            raise PolicyError("a principal must be a mapping", where=here,
                              expected="{name, kind, domain, roles}", found=type(spec).__name__)
        unknown = sorted(set(spec) - _SPEC_FIELDS)
        if unknown:
            raise PolicyError("unknown field in principal", where=f"{here}.{unknown[0]}",
                              expected=f"one of {sorted(_SPEC_FIELDS)}", found=repr(unknown[0]))
        roles = spec.get("roles") or ()
        if isinstance(roles, str) or not all(isinstance(r, str) for r in roles):
            raise PolicyError("roles must be a list of names", where=f"{here}.roles",
                              expected="a list of strings", found=repr(roles))
        out.append(Principal(spec.get("name"), spec.get("kind", "person"), spec.get("domain"),
                             tuple(roles)))
    return out
