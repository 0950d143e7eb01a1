"""Privacy accounting: ε from the RDP accountant of ``dp-accounting``, with its default orders.

Every ε meshkit reports is what ``dp_accounting.rdp.RdpAccountant()`` computes for the same
events, with the accountant's own default Rényi orders (:data:`RDP_ORDERS`:
1.1, 1.2, ..., 10.9, then 11, 12, ..., 63, then 128, 256, 512, 1024) and its default
neighbouring relation (add or remove one: one domain for domain-level DP, one record for
DP-SGD). One round (or one DP-SGD step) is one Poisson-sampled Gaussian mechanism at the
sampling rate ``q``; ``q = 1`` is a plain Gaussian mechanism. Sampling a fixed number of
domains (or a shuffled fixed-size batch) is accounted as Poisson sampling at the same rate,
the usual approximation (McMahan et al. 2018; Abadi et al. 2016).

For large sampling rates the accountant cannot evaluate some fractional orders; it leaves
them out of the minimum itself and logs a warning through ``absl`` for each. meshkit keeps
those warnings out of notebooks (they change nothing in the result).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from meshkit._errors import FederationError

__all__ = ["RDP_ORDERS", "dp_epsilon", "rounds_within_budget"]


def _default_orders() -> tuple[float, ...]:
    from dp_accounting.rdp.rdp_privacy_accountant import DEFAULT_RDP_ORDERS

    return tuple(float(o) for o in DEFAULT_RDP_ORDERS)


@contextmanager
def _quiet_absl():
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check(noise_multiplier, sample_rate, steps, delta, where):
    problems = []
    if not (isinstance(noise_multiplier, (int, float, np.number)) and np.isfinite(noise_multiplier)
            and noise_multiplier >= 0):
        problems.append(("noise_multiplier", "a finite number >= 0", noise_multiplier))
    if not (isinstance(sample_rate, (int, float, np.number)) and 0 < sample_rate <= 1):
        problems.append(("sample_rate", "0 < sample_rate <= 1", sample_rate))
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        problems.append(("steps", "an int >= 0", steps))
    if not (isinstance(delta, (int, float, np.number)) and 0 < delta < 1):
        problems.append(("delta", "0 < delta < 1", delta))
    if problems:
        name, expected, found = problems[0]
        raise FederationError("bad accounting parameters", where=f"{where}: {name}",
                              expected=expected, found=repr(found))


def dp_epsilon(noise_multiplier: float, sample_rate: float, rounds: int, delta: float = 1e-5) -> float:
    """ε after ``rounds`` Poisson-sampled Gaussian mechanisms, from dp-accounting's RDP accountant.

    Parameters
    ----------
    noise_multiplier : float
        Noise standard deviation over the sensitivity (``0``: no noise, ε is infinite).
    sample_rate : float
        Probability that one domain (or record) takes part in a round (or step).
    rounds : int
        Number of mechanisms composed (``0``: nothing released, ε = 0).
    delta : float, default 1e-5

    Examples
    --------
    >>> dp_epsilon(2.0, 1.0, 10) > dp_epsilon(4.0, 1.0, 10)
    True
    >>> dp_epsilon(1.0, 0.5, 0), dp_epsilon(0.0, 0.5, 3)
    (0.0, inf)
    """
    _check(noise_multiplier, sample_rate, rounds, delta, "dp_epsilon")
    if rounds == 0:
        return 0.0
    if noise_multiplier == 0:
        return float("inf")
    return _epsilon(float(noise_multiplier), float(sample_rate), int(rounds), float(delta))


@lru_cache(maxsize=4096)
def _epsilon(noise_multiplier: float, sample_rate: float, rounds: int, delta: float) -> float:
    """dp-accounting's ε (cached: a budget check asks for the same values each round)."""
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    event = dp_event.GaussianDpEvent(noise_multiplier)
    if sample_rate < 1:
        event = dp_event.PoissonSampledDpEvent(sample_rate, event)
    accountant = rdp_privacy_accountant.RdpAccountant()
    with _quiet_absl():
        accountant.compose(event, rounds)
        return float(accountant.get_epsilon(delta))


def rounds_within_budget(noise_multiplier: float, sample_rate: float, max_epsilon: float,
                         delta: float = 1e-5, *, limit: int = 100_000) -> int:
    """The largest number of rounds whose ε stays at or below ``max_epsilon`` (capped at ``limit``).

    Examples
    --------
    >>> r = rounds_within_budget(1.0, 0.5, 8.0)
    >>> dp_epsilon(1.0, 0.5, r) <= 8.0 < dp_epsilon(1.0, 0.5, r + 1)
    True
    """
    if not (np.isfinite(max_epsilon) and max_epsilon > 0):
        raise FederationError("bad privacy budget", where="max_epsilon",
                              expected="a finite number > 0", found=repr(max_epsilon))
    lo, hi = 0, 1
    while hi <= limit and dp_epsilon(noise_multiplier, sample_rate, hi, delta) <= max_epsilon:
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:  # invariant: eps(lo) <= budget < eps(hi)
        mid = (lo + hi) // 2
        if dp_epsilon(noise_multiplier, sample_rate, mid, delta) <= max_epsilon:
            lo = mid
        else:
            hi = mid
    return lo


RDP_ORDERS: tuple[float, ...]


def __getattr__(name):
    if name == "RDP_ORDERS":
        return _default_orders()
    raise AttributeError(name)
