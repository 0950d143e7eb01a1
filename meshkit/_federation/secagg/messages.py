"""The messages of one secure-aggregation round, in the order they are sent.

Every message carries the round id (16 random bytes the server draws for the round); a
domain or the server refuses a message whose round id is not the current one. Shares travel
encrypted end to end between domains (the server only routes ciphertexts it cannot read).
A transport (the local driver, or Flower's Message API) only has to move these objects.

====  ======================  =================  ==========================================
step  message                 direction          content
====  ======================  =================  ==========================================
0     :class:`Setup`          server -> domain   neighbours, threshold, encoding, weight
1     :class:`KeyAdvert`      domain -> server   two X25519 public keys (masks, shares)
1'    :class:`NeighbourKeys`  server -> domain   the neighbours' public keys
2     :class:`ShareBundle`    domain -> server   AEAD-encrypted Shamir shares, one per holder
2'    :class:`ForwardedShares` server -> domain  the shares addressed to that domain
3     :class:`MaskedInput`    domain -> server   the encoded input plus all its masks
3'    :class:`UnmaskRequest`  server -> domain   who survived, who dropped after sharing
4     :class:`UnmaskShares`   domain -> server   self-mask shares of survivors, key shares
                                                 of dropped domains (never both for one)
====  ======================  =================  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Setup", "KeyAdvert", "NeighbourKeys", "ShareBundle", "ForwardedShares", "MaskedInput",
           "UnmaskRequest", "UnmaskShares"]


@dataclass(frozen=True)
class Setup:
    """Server -> domain: the round's parameters for ``recipient``."""

    round_id: bytes
    server_round: int
    recipient: str
    neighbours: tuple[str, ...]
    threshold: int
    size: int
    scale: float
    ring_bits: int
    frac_bits: int
    clip_range: float


@dataclass(frozen=True)
class KeyAdvert:
    """Domain -> server: public keys for pairwise masks and for share encryption."""

    round_id: bytes
    sender: str
    mask_key: bytes
    share_key: bytes


@dataclass(frozen=True)
class NeighbourKeys:
    """Server -> domain: ``{neighbour: (mask_key, share_key)}`` of the neighbours that advertised."""

    round_id: bytes
    recipient: str
    keys: dict


@dataclass(frozen=True)
class ShareBundle:
    """Domain -> server: ``{holder: ciphertext}``, one encrypted share pair per holder."""

    round_id: bytes
    sender: str
    ciphertexts: dict


@dataclass(frozen=True)
class ForwardedShares:
    """Server -> domain: ``{owner: ciphertext}``, the shares other domains made for ``recipient``."""

    round_id: bytes
    recipient: str
    ciphertexts: dict


@dataclass(frozen=True)
class MaskedInput:
    """Domain -> server: the encoded, masked input (ring elements)."""

    round_id: bytes
    sender: str
    masked: np.ndarray


@dataclass(frozen=True)
class UnmaskRequest:
    """Server -> domain: the domains whose input arrived and those that dropped after sharing."""

    round_id: bytes
    recipient: str
    survivors: tuple[str, ...]
    dropped: tuple[str, ...]


@dataclass(frozen=True)
class UnmaskShares:
    """Domain -> server: ``{owner: (holder index, share)}`` of self-mask seeds and of mask keys."""

    round_id: bytes
    sender: str
    seed_shares: dict
    key_shares: dict
