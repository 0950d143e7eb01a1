"""Ed25519 identities and JWTs: pinned algorithm, required claims, clear errors."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.jwk import OctKey, OKPKey

from meshkit import AuthenticationError, PolicyError
from meshkit._security.keys import SeededKeySource
from meshkit._security.tokens import (Directory, Identity, Principal, TokenVerifier,
                                     public_key_from_bytes)

T0 = 1_800_000_000


@pytest.fixture()
def signers():
    src = SeededKeySource(11)
    alice = Identity.generate(Principal("alice", "person", domain="sales"), source=src)
    etl = Identity.generate(Principal("etl", "service", domain="sales"), source=src)
    verifier = TokenVerifier(Directory([alice, etl]), audience="meshkit")
    return alice, etl, verifier


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_valid_token_names_the_principal(signers):
    alice, etl, verifier = signers
    for ident in (alice, etl):
        token = ident.issue_token(audience="meshkit", now=T0, ttl=300, purpose="reporting")
        v = verifier.verify(token, now=T0 + 299)
        assert v.principal == ident.principal
        assert v.claims["purpose"] == "reporting"
        assert {"exp", "iat", "aud", "iss", "sub"} <= set(v.claims)


def test_forged_token_signed_by_another_key(signers):
    alice, _, verifier = signers
    mallory = Identity.generate(Principal("alice"), source=SeededKeySource(999))
    with pytest.raises(AuthenticationError, match="signature does not verify") as err:
        verifier.verify(mallory.issue_token(audience="meshkit", now=T0), now=T0)
    assert err.value.where == "token.signature"


def test_altered_payload_fails(signers):
    alice, _, verifier = signers
    h, p, s = alice.issue_token(audience="meshkit", now=T0).split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    claims["sub"] = "etl"
    with pytest.raises(AuthenticationError):
        verifier.verify(".".join([h, _b64(claims), s]), now=T0)


def test_expired_token(signers):
    alice, _, verifier = signers
    token = alice.issue_token(audience="meshkit", now=T0, ttl=60)
    with pytest.raises(AuthenticationError, match="expired") as err:
        verifier.verify(token, now=T0 + 61)
    assert err.value.where == "token.exp"


def test_other_audience(signers):
    alice, _, verifier = signers
    with pytest.raises(AuthenticationError) as err:
        verifier.verify(alice.issue_token(audience="billing-api", now=T0), now=T0)
    assert err.value.where == "token.aud" and "billing-api" in str(err.value)


def test_future_token_and_overlong_lifetime(signers):
    alice, _, verifier = signers
    with pytest.raises(AuthenticationError):
        verifier.verify(alice.issue_token(audience="meshkit", now=T0 + 3600), now=T0)
    with pytest.raises(AuthenticationError, match="lifetime too long"):
        verifier.verify(alice.issue_token(audience="meshkit", now=T0, ttl=10 * 86400), now=T0)


def test_alg_none_is_refused(signers):
    _, _, verifier = signers
    token = _b64({"alg": "none", "kid": "alice"}) + "." + _b64(
        {"sub": "alice", "iss": "alice", "aud": "meshkit", "iat": T0, "exp": T0 + 60}) + "."
    with pytest.raises(AuthenticationError, match="algorithm not allowed") as err:
        verifier.verify(token, now=T0)
    assert err.value.where == "token.header.alg"


def test_hs256_with_public_key_as_secret_is_refused(signers):
    alice, _, verifier = signers
    secret = OctKey.import_key(alice.public().public_bytes)
    token = jwt.encode({"alg": "HS256", "kid": "alice"},
                       {"sub": "alice", "iss": "alice", "aud": "meshkit", "iat": T0,
                        "exp": T0 + 60}, secret, algorithms=["HS256"])
    with pytest.raises(AuthenticationError, match="algorithm not allowed"):
        verifier.verify(token, now=T0)


@pytest.mark.parametrize("missing", ["exp", "iat", "aud", "iss", "sub"])
def test_every_required_claim(signers, missing):
    alice, _, verifier = signers
    claims = {"sub": "alice", "iss": "alice", "aud": "meshkit", "iat": T0, "exp": T0 + 60}
    del claims[missing]
    key = OKPKey.import_key(alice._key)
    token = jwt.encode({"alg": "Ed25519", "kid": "alice"}, claims, key, algorithms=["Ed25519"])
    with pytest.raises(AuthenticationError):
        verifier.verify(token, now=T0)


def test_unknown_signer_and_subject_mismatch(signers):
    alice, _, verifier = signers
    stranger = Identity.generate(Principal("stranger"))
    with pytest.raises(AuthenticationError, match="unknown principal"):
        verifier.verify(stranger.issue_token(audience="meshkit", now=T0), now=T0)
    key = OKPKey.import_key(alice._key)
    token = jwt.encode({"alg": "Ed25519", "kid": "alice"},
                       {"sub": "etl", "iss": "alice", "aud": "meshkit", "iat": T0,
                        "exp": T0 + 60}, key, algorithms=["Ed25519"])
    with pytest.raises(AuthenticationError, match="subject differs"):
        verifier.verify(token, now=T0)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "####.####.####", 42, None,
                                   "eyJhbGciOiJFZDI1NTE5In0.e30.AAAA"])
def test_malformed_tokens(signers, token):
    _, _, verifier = signers
    with pytest.raises(AuthenticationError):
        verifier.verify(token, now=T0)


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x01" * 33, "not bytes", None])
def test_malformed_public_keys(raw):
    with pytest.raises(AuthenticationError, match="malformed Ed25519 public key"):
        public_key_from_bytes(raw)


def test_identity_requires_ed25519_and_principal_is_checked():
    with pytest.raises(AuthenticationError, match="Ed25519"):
        Identity(Principal("x"), "not a key")
    with pytest.raises(PolicyError, match="unknown principal kind"):
        Principal("x", kind="robot")
    with pytest.raises(PolicyError):
        Principal("")
    ident = Identity(Principal("x"), Ed25519PrivateKey.generate())
    assert "x" in repr(ident) and "PRIVATE" not in repr(ident).upper()


def test_purpose_is_a_signed_claim_and_time_is_the_verifiers_clock(signers):
    alice, etl, verifier = signers
    token = alice.issue_token(audience="meshkit", now=T0, ttl=300, purpose="fraud")
    clocked = TokenVerifier(verifier.directory, audience="meshkit", clock=lambda: T0 + 10)
    assert clocked.verify(token).claims["purpose"] == "fraud"
    late = TokenVerifier(verifier.directory, audience="meshkit", clock=lambda: T0 + 301)
    with pytest.raises(AuthenticationError, match="expired"):
        late.verify(token)
    with pytest.raises(AuthenticationError, match="purpose"):
        alice.issue_token(audience="meshkit", now=T0, purpose="")
    # a purpose that is not a string, signed by the holder, is refused
    key = OKPKey.import_key(alice._key)
    odd = jwt.encode({"alg": "Ed25519", "kid": "alice"},
                     {"iss": "alice", "sub": "alice", "aud": "meshkit", "iat": T0,
                      "exp": T0 + 60, "purpose": ["fraud", "marketing"]}, key,
                     algorithms=["Ed25519"])
    with pytest.raises(AuthenticationError, match="purpose"):
        clocked.verify(odd)


def test_directory_refuses_a_second_key_for_a_known_principal(signers):
    alice, etl, verifier = signers
    directory = verifier.directory
    other = Identity.generate(alice.principal, source=SeededKeySource(12))
    with pytest.raises(AuthenticationError, match="another key") as err:
        directory.add(other)
    assert err.value.where == "directory['alice']"
    directory.add(alice.public())  # the same entry again: nothing changes
    assert directory.get("alice").public_bytes == alice.public().public_bytes
    directory.rotate(other)
    assert directory.get("alice").public_bytes == other.public().public_bytes
    with pytest.raises(AuthenticationError, match="cannot change the principal"):
        directory.rotate(Identity.generate(Principal("alice", "service")))
