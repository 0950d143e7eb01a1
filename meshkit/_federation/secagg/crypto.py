"""The cryptographic pieces of secure aggregation, all from maintained libraries.

* key agreement: X25519 (``cryptography``), one key pair for masks and one for share
  encryption per domain and round; shared secrets go through HKDF-SHA256 whose ``info``
  names the purpose and the round, so keys never serve two purposes or two rounds;
* the pseudo-random generator: the ChaCha20 keystream (``cryptography``) under such a key,
  read as ring elements;
* share encryption: ChaCha20-Poly1305 (AEAD) under the pairwise share key, with the round id,
  the sender and the recipient as associated data: a tampered share, or one replayed from
  another round or between other domains, fails authentication;
* t-of-n secret sharing: Shamir's scheme over GF(2^128) of pycryptodome
  (``Crypto.Protocol.SecretSharing.Shamir``, as Flower's SecAgg+ uses), which shares 16-byte
  secrets. So that each secret is one block, a domain's mask key pair is derived from a
  16-byte seed (:func:`mask_key_from_seed`, HKDF-SHA256): 128 bits of entropy, X25519's own
  security level.
"""

from __future__ import annotations

import os

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshkit._errors import IntegrityError

__all__ = ["KeyPair", "derive_key", "prg", "encrypt_share", "decrypt_share", "split_secret",
           "combine_secret", "mask_key_from_seed", "agree"]

_RAW = serialization.Encoding.Raw


class KeyPair:
    """A fresh X25519 key pair (private key from the OS CSPRNG, as ``cryptography`` draws it)."""

    def __init__(self) -> None:
        self.private = X25519PrivateKey.generate()
        self.public = self.public_of(self.private)

    @staticmethod
    def public_of(private: X25519PrivateKey) -> bytes:
        """The 32 raw bytes of ``private``'s public key."""
        return private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)


def mask_key_from_seed(seed: bytes) -> X25519PrivateKey:
    """The X25519 private key derived from a 16-byte seed (HKDF-SHA256, purpose-bound)."""
    return X25519PrivateKey.from_private_bytes(derive_key(seed, b"mask key pair", b""))


def derive_key(secret: bytes, purpose: bytes, round_id: bytes) -> bytes:
    """A 32-byte key for ``purpose`` in this round, by HKDF-SHA256 from ``secret``."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"meshkit secagg|" + purpose + b"|" + round_id).derive(secret)


def agree(private: X25519PrivateKey, peer_public: bytes, purpose: bytes, round_id: bytes) -> bytes:
    """The key two domains share for ``purpose``: X25519, then :func:`derive_key`."""
    return derive_key(private.exchange(X25519PublicKey.from_public_bytes(peer_public)), purpose, round_id)


_ZEROS = [b""]


def _zeros(nbytes: int) -> memoryview:
    """A read-only buffer of ``nbytes`` zero bytes (one shared buffer, grown as needed)."""
    if len(_ZEROS[0]) < nbytes:
        _ZEROS[0] = bytes(nbytes)
    return memoryview(_ZEROS[0])[:nbytes]


def prg(key: bytes, size: int, dtype) -> np.ndarray:
    """``size`` ring elements of the ChaCha20 keystream under ``key`` (nonce zero: each key is
    derived for one round and one purpose, so it is used once)."""
    nbytes = size * np.dtype(dtype).itemsize
    out = np.empty(nbytes + 64, dtype=np.uint8)
    Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update_into(_zeros(nbytes), out)
    return out[:nbytes].view(dtype)


def _associated(round_id: bytes, sender: str, recipient: str) -> bytes:
    return b"meshkit secagg share|" + round_id + b"|" + sender.encode() + b"\x00" + recipient.encode()


def encrypt_share(key: bytes, round_id: bytes, sender: str, recipient: str, plaintext: bytes) -> bytes:
    """``nonce || ChaCha20-Poly1305(plaintext)`` bound to the round, the sender and the recipient."""
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, _associated(round_id, sender, recipient))


def decrypt_share(key: bytes, round_id: bytes, sender: str, recipient: str, ciphertext: bytes) -> bytes:
    """Decrypt and authenticate a share; :class:`IntegrityError` when it was tampered with,
    comes from another round, or was not sent by ``sender`` to ``recipient``."""
    try:
        return ChaCha20Poly1305(key).decrypt(ciphertext[:12], ciphertext[12:],
                                             _associated(round_id, sender, recipient))
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError("a secret share failed authentication: tampered with, or not from this round",
                             where=f"share from {sender!r} to {recipient!r}",
                             expected="a share encrypted for this round, sender and recipient",
                             found=type(exc).__name__) from None


def split_secret(secret: bytes, threshold: int, holders: int) -> list[bytes]:
    """Shamir shares of a 16- or 32-byte secret: ``holders`` shares, any ``threshold`` recover it.

    Share ``i`` (0-based) is for holder ``i``; each is 16 bytes per 16-byte block of the secret.
    """
    from Crypto.Protocol.SecretSharing import Shamir

    blocks = [secret[i:i + 16] for i in range(0, len(secret), 16)]
    per_block = [Shamir.split(threshold, holders, block) for block in blocks]
    return [b"".join(shares[h][1] for shares in per_block) for h in range(holders)]


def combine_secret(shares: dict[int, bytes]) -> bytes:
    """The secret from ``{holder index (0-based): share}`` (at least the threshold of them)."""
    from Crypto.Protocol.SecretSharing import Shamir

    length = len(next(iter(shares.values())))
    out = b""
    for start in range(0, length, 16):
        out += Shamir.combine([(h + 1, s[start:start + 16]) for h, s in shares.items()])
    return out
