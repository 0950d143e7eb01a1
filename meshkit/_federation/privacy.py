"""Differential privacy for federated rounds: clip, average, add Gaussian noise; account with RDP.

:class:`DPFedAvg` is central DP with fixed clipping (the scheme of McMahan et al. 2018, as in
Flower's ``DifferentialPrivacyServerSideFixedClipping``): each domain's update
``theta_i - theta`` is clipped to L2 norm ``clip_norm``, the clipped updates are averaged
*without* example weights (weights would leak), and Gaussian noise of standard deviation
``noise_multiplier * clip_norm / m`` is added for ``m`` answering domains. :func:`dp_epsilon`
gives the (epsilon, delta) spent, from the RDP accountant of ``dp-accounting``.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.strategies import Strategy

__all__ = ["DPFedAvg", "clip_updates", "dp_epsilon"]

#: integer Renyi orders (fractional orders make the accountant warn for large sampling rates)
_ORDERS = tuple(range(2, 257))


def clip_updates(updates: list[list[np.ndarray]], clip_norm: float) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """Scale each domain's update so that its L2 norm (over all arrays) is at most ``clip_norm``.

    Returns the clipped updates and the original norms.

    Examples
    --------
    >>> clipped, norms = clip_updates([[np.array([3.0, 4.0])], [np.array([0.3, 0.4])]], 1.0)
    >>> clipped[0][0], norms
    (array([0.6, 0.8]), array([5. , 0.5]))
    """
    norms = np.array([np.sqrt(sum(float(np.vdot(a, a)) for a in u)) for u in updates])
    scale = np.minimum(1.0, clip_norm / np.maximum(norms, 1e-300))
    return [[a * s for a in u] for u, s in zip(updates, scale)], norms


def dp_epsilon(noise_multiplier: float, sample_rate: float, rounds: int, delta: float = 1e-5) -> float:
    """Epsilon of ``rounds`` Poisson-sampled Gaussian mechanisms, from the RDP accountant.

    Domain-level DP: neighbouring datasets differ by one whole domain. A round that samples a
    fixed fraction of domains is accounted as Poisson sampling at that rate (the usual
    approximation); ``sample_rate=1`` means no amplification by sampling.

    Examples
    --------
    >>> dp_epsilon(2.0, 1.0, 10) > dp_epsilon(4.0, 1.0, 10)
    True
    """
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    if not noise_multiplier > 0:
        return float("inf")
    if not 0 < sample_rate <= 1 or not 0 < delta < 1:
        raise FederationError("bad accounting parameters", where="dp_epsilon",
                              expected="0 < sample_rate <= 1 and 0 < delta < 1",
                              found=f"sample_rate={sample_rate!r}, delta={delta!r}")
    event = dp_event.GaussianDpEvent(noise_multiplier)
    if sample_rate < 1:
        event = dp_event.PoissonSampledDpEvent(sample_rate, event)
    accountant = rdp_privacy_accountant.RdpAccountant(orders=list(_ORDERS))
    accountant.compose(event, int(rounds))
    return float(accountant.get_epsilon(delta))


class DPFedAvg(Strategy):
    """FedAvg of clipped updates with Gaussian noise (central, domain-level DP).

    Parameters
    ----------
    noise_multiplier : float, default 1.0
        Noise standard deviation in units of ``clip_norm`` (per unit of the sum).
    clip_norm : float, default 1.0
        Largest L2 norm of one domain's update.
    seed : int, default 0
        Seed of the noise (round ``t`` draws from ``(seed, t)``).

    Examples
    --------
    >>> s = DPFedAvg(noise_multiplier=0.0, clip_norm=1.0)
    >>> s.aggregate_fit(1, [np.zeros(2)], [([np.array([3.0, 4.0])], 10), ([np.zeros(2)], 1)])
    [array([0.3, 0.4])]
    """

    _fields = ("noise_multiplier", "clip_norm")

    def __init__(self, *, noise_multiplier: float = 1.0, clip_norm: float = 1.0, seed: int = 0) -> None:
        if not noise_multiplier >= 0 or not clip_norm > 0:
            raise FederationError("bad DP parameters", where="DPFedAvg",
                                  expected="noise_multiplier >= 0 and clip_norm > 0",
                                  found=f"noise_multiplier={noise_multiplier!r}, clip_norm={clip_norm!r}")
        self.noise_multiplier, self.clip_norm, self.seed = noise_multiplier, clip_norm, seed
        self.reset()

    def reset(self):
        self.rounds_ = 0
        self.norms_ = []

    def aggregate_fit(self, server_round, current, results, *, names=None):
        from meshkit._federation.aggregation import aggregate

        updates = [[np.asarray(p, dtype=np.float64) - c for p, c in zip(params, current)] for params, _ in results]
        clipped, norms = clip_updates(updates, self.clip_norm)
        mean = aggregate(dict(zip(names, clipped)) if names else clipped, method="mean")
        rng = np.random.default_rng([self.seed, server_round])
        std = self.noise_multiplier * self.clip_norm / len(results)
        self.rounds_ += 1
        self.norms_.append(norms)
        return [c + m + rng.normal(0.0, std, m.shape) for c, m in zip(current, mean)]

    def epsilon(self, sample_rate: float, delta: float = 1e-5) -> float:
        """Epsilon spent over the rounds aggregated so far."""
        return dp_epsilon(self.noise_multiplier, sample_rate, self.rounds_, delta)
