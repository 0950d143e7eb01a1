"""Streaming authenticated encryption of files with Cobblestone-128 (cryptography >= 50).

Memory stays flat: data moves through one fixed buffer (``chunk_size`` bytes), whatever the
file size. Decryption writes to a temporary file and only renames it into place after
``finalize`` succeeds, so a tampered or truncated ciphertext never leaves plaintext behind.

Examples
--------
>>> from cryptography.cobblestone import Cobblestone128Encryptor
>>> key = Cobblestone128Encryptor.generate_key()
>>> ct = encrypt_bytes(b"hello", key, b"ctx")
>>> decrypt_bytes(ct, key, b"ctx")
b'hello'
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from cryptography.cobblestone import Cobblestone128Decryptor, Cobblestone128Encryptor
from cryptography.exceptions import AlreadyFinalized, InvalidTag

from meshkit._errors import IntegrityError

__all__ = ["CHUNK_SIZE", "new_data_key", "encrypt_stream", "decrypt_stream",
           "encrypt_file", "decrypt_file", "encrypt_bytes", "decrypt_bytes"]

#: Bytes read per step; peak memory is a small multiple of this.
CHUNK_SIZE = 1 << 20


def new_data_key(source=None) -> bytes:
    """A fresh 16-byte Cobblestone-128 data key (``source``: a KeySource, for demos)."""
    if source is None:
        return Cobblestone128Encryptor.generate_key()
    return source.bytes(16, "data key")


def _pump(src: BinaryIO, dst: BinaryIO, cipher, chunk_size: int, slack: int) -> int:
    """Feed ``src`` through ``cipher`` into ``dst`` via two fixed buffers; returns bytes written.

    ``slack``: how much more than its input one ``update_into`` may emit (Cobblestone holds
    back up to one 16 KiB chunk, and the encryptor adds a header and a tag per chunk).
    """
    inbuf = bytearray(chunk_size)
    inview = memoryview(inbuf)
    outbuf = bytearray(chunk_size + slack)
    outview = memoryview(outbuf)
    written = 0
    while n := src.readinto(inbuf):
        m = cipher.update_into(inview[:n], outbuf)
        dst.write(outview[:m])
        written += m
    tail = cipher.finalize()
    dst.write(tail)
    return written + len(tail)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, context: bytes, *,
                   chunk_size: int = CHUNK_SIZE) -> int:
    """Encrypt everything readable from ``src`` into ``dst``; returns ciphertext bytes written."""
    return _pump(src, dst, Cobblestone128Encryptor(key, context), chunk_size,
                 slack=chunk_size // 1024 + 16456)


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, context: bytes, *,
                   chunk_size: int = CHUNK_SIZE, where: str = "ciphertext") -> int:
    """Decrypt ``src`` into ``dst``; :class:`IntegrityError` on any tampering or wrong context.

    Bytes already written to ``dst`` before an error must be discarded by the caller
    (:func:`decrypt_file` does that for you).
    """
    try:
        return _pump(src, dst, Cobblestone128Decryptor(key, context), chunk_size, slack=16400)
    except (InvalidTag, AlreadyFinalized):
        raise IntegrityError(
            "ciphertext failed authentication: tampered, truncated, extended, or encrypted "
            "under another key or context (domain|product|version|schema)",
            where=where, expected="an intact ciphertext for this context",
            found="authentication failure") from None


def encrypt_file(src: str | os.PathLike, dst: str | os.PathLike, key: bytes, context: bytes, *,
                 chunk_size: int = CHUNK_SIZE) -> int:
    """Encrypt file ``src`` to ``dst`` (written atomically); returns ciphertext size."""
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".partial")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            size = encrypt_stream(fin, fout, key, context, chunk_size=chunk_size)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def decrypt_file(src: str | os.PathLike, dst: str | os.PathLike, key: bytes, context: bytes, *,
                 chunk_size: int = CHUNK_SIZE, where: str | None = None) -> int:
    """Decrypt file ``src`` to ``dst``; nothing is left at ``dst`` if authentication fails."""
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".partial")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            size = decrypt_stream(fin, fout, key, context, chunk_size=chunk_size,
                                  where=where or Path(src).name)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def encrypt_bytes(data: bytes, key: bytes, context: bytes) -> bytes:
    """Encrypt a small in-memory message (same format as the file functions)."""
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key, context)
    return out.getvalue()


def decrypt_bytes(data: bytes, key: bytes, context: bytes, *, where: str = "ciphertext") -> bytes:
    """Decrypt a small in-memory message; :class:`IntegrityError` when it does not authenticate."""
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(data), out, key, context, where=where)
    return out.getvalue()
