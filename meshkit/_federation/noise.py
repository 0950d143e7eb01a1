"""Gaussian noise for differential privacy, drawn from the operating system's CSPRNG.

Privacy noise that someone can regenerate can be subtracted, so by default every draw takes
a fresh 256-bit key and nonce from :func:`os.urandom` (the kernel's cryptographically secure
generator), expands them with the ChaCha20 stream cipher (``cryptography``; the same
construction the kernel's ``getrandom`` uses, and about four times faster than reading every
byte from the kernel) and turns the bytes into standard normal values by the Box-Muller
transform. The key lives only inside one call; nothing about a draw is kept or exposed. A ``seed`` gives reproducible noise for tests only: such noise is **not
private**, and every object that uses it says so (its repr, its report, the History).

Known limit, as in every floating-point DP library: the Gaussian is sampled in double
precision (53-bit uniforms; tails cut at about 8.6 standard deviations), not by an exact
discrete sampler.
"""

from __future__ import annotations

import math
import os

import numpy as np

from meshkit._errors import FederationError

__all__ = ["NOT_PRIVATE", "gaussian_noise", "noise_source", "check_seed"]

#: the label every seeded (reproducible) privacy mechanism carries wherever it is shown
NOT_PRIVATE = "NOT PRIVATE: seeded noise, for tests only"

_TWO_PI = 2.0 * np.pi


def check_seed(seed, where: str) -> None:
    """Refuse a seed that is neither ``None`` (private noise) nor a non-negative int."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FederationError("bad noise seed", where=where,
                              expected="None (noise from the OS CSPRNG) or an int >= 0 (tests only, not private)",
                              found=repr(seed))


def noise_source(seed) -> str:
    """How the noise is drawn, as shown in reprs and reports."""
    return "os.urandom + ChaCha20 (CSPRNG)" if seed is None else f"seed={seed!r} ({NOT_PRIVATE})"


def _csprng_bytes(n: int) -> bytes:
    """``n`` bytes of ChaCha20 keystream under a fresh key and nonce from ``os.urandom``."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    encryptor = Cipher(algorithms.ChaCha20(os.urandom(32), os.urandom(16)), mode=None).encryptor()
    return encryptor.update(bytes(n))


def _urandom_uniform(n: int) -> np.ndarray:
    """``n`` uniforms in ``(0, 1]`` from 53 random bits each, from the CSPRNG."""
    words = np.frombuffer(_csprng_bytes(8 * n), dtype=np.uint64)
    return ((words >> np.uint64(11)).astype(np.float64) + 1.0) * (1.0 / 2.0**53)


def _urandom_normal(n: int) -> np.ndarray:
    """``n`` standard normal values by the Box-Muller transform of CSPRNG uniforms."""
    half = (n + 1) // 2
    u = _urandom_uniform(2 * half)
    radius, angle = u[:half], u[half:]
    np.log(radius, out=radius)
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle *= _TWO_PI
    out = np.empty(2 * half)
    np.cos(angle, out=out[:half])
    np.sin(angle, out=out[half:])
    out[:half] *= radius
    out[half:] *= radius
    return out[:n]


def gaussian_noise(shape, std: float, *, seed=None, stream=()) -> np.ndarray:
    """Normal noise of standard deviation ``std`` and the given ``shape``.

    Parameters
    ----------
    shape : int or tuple of int
    std : float
        Standard deviation (``>= 0``, finite).
    seed : int or None, default None
        ``None``: fresh bytes from the OS CSPRNG for this draw (private). An int: a
        reproducible draw from ``numpy.random.default_rng([seed, *stream])`` -- **not private**.
    stream : tuple of int, default ()
        Distinguishes the draws of one seeded run (e.g. the round and the array index).

    Examples
    --------
    >>> gaussian_noise(3, 0.0).tolist()
    [0.0, 0.0, 0.0]
    >>> bool((gaussian_noise(4, 1.0, seed=7) == gaussian_noise(4, 1.0, seed=7)).all())
    True
    >>> bool((gaussian_noise(4, 1.0) == gaussian_noise(4, 1.0)).all())
    False
    """
    if not (np.isfinite(std) and std >= 0):
        raise FederationError("bad noise standard deviation", where="gaussian_noise",
                              expected="a finite number >= 0", found=repr(std))
    if seed is not None:
        check_seed(seed, "gaussian_noise")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(k) for k in shape)
    size = math.prod(shape)
    if std == 0:
        return np.zeros(shape)
    if seed is None:
        return (std * _urandom_normal(size)).reshape(shape)
    return np.random.default_rng([int(seed), *map(int, stream)]).normal(0.0, std, shape)
