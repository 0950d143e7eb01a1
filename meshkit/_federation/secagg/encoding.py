"""Fixed-point encoding of real vectors in the ring Z_2^k (k = 32 or 64).

A value ``x`` is clipped to ``[-clip_range, clip_range]``, scaled by ``2**frac_bits``, rounded
to the nearest integer and stored modulo ``2**k`` (two's complement in ``uint32`` / ``uint64``,
so numpy's wrapping arithmetic *is* the ring's). Sums of encodings decode exactly to the
rounded sum as long as it stays inside ``(-2**(k-1), 2**(k-1))``; :class:`FixedPoint` checks
that before a round and states the quantization bound.

The bound: each encoded value is off by at most ``2**-(frac_bits + 1)`` (rounding to nearest),
so a sum of ``m`` encodings decodes to within ``m * 2**-(frac_bits + 1)`` of the sum of the
clipped values, per coordinate, plus the one rounding of the decoded integer to float64
(relative ``2**-53``).
"""

from __future__ import annotations

import math

import numpy as np

from meshkit._errors import FederationError

__all__ = ["FixedPoint", "RING_DTYPES"]

#: ring size in bits -> the unsigned dtype whose wrapping arithmetic is that ring's
RING_DTYPES = {32: np.uint32, 64: np.uint64}
_SIGNED = {32: np.int32, 64: np.int64}


class FixedPoint:
    """Encode real vectors into Z_2^k and decode ring sums back.

    Parameters
    ----------
    ring_bits : {32, 64}
        ``k``: arithmetic is modulo ``2**k``.
    frac_bits : int
        Fractional bits: the encoding of ``x`` is ``round(x * 2**frac_bits) mod 2**k``.
    clip_range : float
        Values are clipped to ``[-clip_range, clip_range]`` before encoding.

    Examples
    --------
    >>> fp = FixedPoint(64, 20, 100.0)
    >>> total = fp.encode(np.array([1.5, -2.25])) + fp.encode(np.array([0.25, 1.0]))
    >>> fp.decode(total)
    array([ 1.75, -1.25])
    """

    def __init__(self, ring_bits: int, frac_bits: int, clip_range: float) -> None:
        self.ring_bits, self.frac_bits, self.clip_range = ring_bits, frac_bits, clip_range

    @classmethod
    def for_sum(cls, ring_bits: int, clip_range: float, total_scale: float, count: int,
                frac_bits: int | None = None) -> FixedPoint:
        """The encoding for a sum of ``count`` vectors scaled by factors summing to ``total_scale``.

        The largest possible |sum| is ``total_scale * clip_range * 2**frac_bits + count / 2``;
        it must stay below ``2**(ring_bits - 1)``. ``frac_bits=None`` takes the most fractional
        bits that fit (capped at 52, a double's mantissa).

        Raises
        ------
        FederationError
            A ring size other than 32 or 64, a non-positive or non-finite ``clip_range``, or a
            ``frac_bits`` with which the sum could wrap around the ring.
        """
        if ring_bits not in RING_DTYPES:
            raise FederationError("unsupported ring for secure aggregation", where="ring_bits",
                                  expected="32 or 64", found=repr(ring_bits))
        if isinstance(clip_range, bool) or not isinstance(clip_range, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(clip_range) and clip_range > 0):
            raise FederationError("bad clipping range for secure aggregation", where="clip_range",
                                  expected="a finite number > 0", found=repr(clip_range))
        headroom = 2.0 ** (ring_bits - 1) - count
        largest = math.floor(math.log2(headroom / (total_scale * clip_range))) if headroom > 0 else -1
        if frac_bits is None:
            frac_bits = min(52, largest)
            if frac_bits < 0:
                raise FederationError("the ring is too small for this clipping range", where="clip_range",
                                      expected=f"total_scale * clip_range < 2**{ring_bits - 1}",
                                      found=f"{total_scale * clip_range:.4g}")
        elif isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)) \
                or not 0 <= frac_bits <= largest:
            raise FederationError("fractional bits would let the sum wrap around the ring", where="frac_bits",
                                  expected=f"an int in [0, {largest}] for a {ring_bits}-bit ring, clip_range "
                                           f"{clip_range:g} and {count} domains", found=repr(frac_bits))
        return cls(ring_bits, int(frac_bits), float(clip_range))

    @property
    def dtype(self):
        """The unsigned dtype holding ring elements."""
        return RING_DTYPES[self.ring_bits]

    def error_bound(self, count: int) -> float:
        """Largest per-coordinate error of a decoded sum of ``count`` encodings (clipping aside;
        plus the float64 rounding of the result, relative ``2**-53``)."""
        return count * 2.0 ** -(self.frac_bits + 1)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``round(clip(x) * 2**frac_bits) mod 2**k`` as the ring's unsigned dtype."""
        scaled = np.clip(np.asarray(x, dtype=np.float64), -self.clip_range, self.clip_range)
        scaled *= 2.0 ** self.frac_bits
        q = np.rint(scaled).astype(np.int64)
        return q.astype(self.dtype) if self.ring_bits == 64 else (q & 0xFFFFFFFF).astype(self.dtype)

    def decode(self, total: np.ndarray) -> np.ndarray:
        """The real value of a ring element (or a sum of them), read as signed."""
        signed = np.asarray(total, dtype=self.dtype).view(_SIGNED[self.ring_bits])
        return signed.astype(np.float64) * 2.0 ** -self.frac_bits

    def __repr__(self) -> str:
        return f"FixedPoint(ring_bits={self.ring_bits}, frac_bits={self.frac_bits}, clip_range={self.clip_range:g})"
