"""Central, domain-level differential privacy as a wrapper over any strategy.

One private round (McMahan et al. 2018, "Learning Differentially Private Recurrent Language
Models"):

1. each answering domain's update ``Delta_i = theta_i - theta`` is clipped to L2 norm ``C``
   (over all its arrays together);
2. the clipped updates are **summed without example weights** (weights would leak) and
   Gaussian noise of standard deviation ``z * C`` is added to the sum;
3. the noisy sum is divided by ``num_sampled``, the *expected* number of domains sampled per
   round -- not by the number that answered, which would itself depend on who took part.
   The noise on the mean therefore has standard deviation ``z * C / num_sampled``;
4. the wrapped strategy receives that one private mean update (as ``theta + mean``) and does
   what it always does with it (FedAvg adopts it, FedAvgM / FedAdam / FedYogi / FedAdagrad
   take a server-optimizer step on it).

Deliberate difference from Flower's ``DifferentialPrivacyServerSide*Clipping``: Flower hands
the clipped per-domain models to the wrapped strategy and adds the noise to *its output*,
which is private only when that strategy is an unweighted mean over exactly
``num_sampled_clients`` answers. meshkit adds the noise *before* the wrapped strategy (as
TensorFlow Federated's DP aggregators do), so whatever the strategy does next is
post-processing and the guarantee holds for every strategy. Rules that compare domains
(median, trimmed mean, Krum, Bulyan) then see one private mean: DP and robust rules do not
combine this way; clipping already bounds what one domain can do.

ε comes from dp-accounting's RDP accountant with its default orders
(:mod:`meshkit._federation.accounting`): each round is a Gaussian mechanism of noise
multiplier ``z`` (with adaptive clipping, the ``z`` that the update and count noises make
together), Poisson-sampled at ``num_sampled / num_domains``. ``max_epsilon`` stops a run
with :class:`~meshkit.PrivacyBudgetError` *before* a round whose release would exceed it.
The noise comes from the OS CSPRNG (:mod:`meshkit._federation.noise`); ``seed`` is for tests
and is labelled "not private" in the repr (hence in the History) and in
:meth:`privacy_spent`. ε is per run: :meth:`reset` (called when a run starts) starts over.
"""

from __future__ import annotations

import math

import numpy as np

from meshkit._errors import FederationError, PrivacyBudgetError
from meshkit._federation._base import Params
from meshkit._federation._params import check_finite, check_structure
from meshkit._federation.accounting import dp_epsilon
from meshkit._federation.noise import NOT_PRIVATE, check_seed, gaussian_noise, noise_source
from meshkit._federation.strategies import FedAvg, Strategy

__all__ = ["DPFixedClipping", "DPAdaptiveClipping", "DPFedAvg", "clip_updates"]


def clip_updates(updates: list[list[np.ndarray]], clip_norm: float) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """Scale each domain's update so that its L2 norm (over all arrays) is at most ``clip_norm``.

    Returns the clipped updates and the original norms. Norms are computed on values scaled
    by their largest magnitude, so a huge update (1e200) is clipped, not overflowed.

    Examples
    --------
    >>> clipped, norms = clip_updates([[np.array([3.0, 4.0])], [np.array([0.3, 0.4])]], 1.0)
    >>> clipped[0][0], norms
    (array([0.6, 0.8]), array([5. , 0.5]))
    """
    if not (np.isfinite(clip_norm) and clip_norm > 0):
        raise FederationError("bad clipping norm", where="clip_norm",
                              expected="a finite number > 0", found=repr(clip_norm))
    clipped, norms = [], []
    for update in updates:
        arrays = [np.asarray(a, dtype=np.float64) for a in update]
        peak = max((float(np.abs(a).max()) if a.size else 0.0) for a in arrays)
        if peak == 0:
            norm = 0.0
        else:
            norm = peak * math.sqrt(sum(float(np.vdot(a / peak, a / peak)) for a in arrays))
        scale = min(1.0, clip_norm / norm) if norm > 0 else 1.0
        clipped.append([a * scale for a in arrays])
        norms.append(norm)
    return clipped, np.array(norms)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _is_count(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


class _DPWrapper(Strategy, Params):
    """What the fixed and adaptive wrappers share: validation, noise, accounting, the budget."""

    #: how this wrapper is described in reports
    _clipping = ""

    def _inner(self) -> Strategy:
        return self.strategy

    # -- validation (at use, as in scikit-learn) -------------------------------------
    def _problems(self) -> list[tuple[str, str, object]]:
        p = []
        if not isinstance(self._inner(), Strategy):
            p.append(("strategy", "a meshkit Strategy", type(self._inner()).__name__))
        if not (_is_number(self.noise_multiplier) and np.isfinite(self.noise_multiplier)
                and self.noise_multiplier >= 0):
            p.append(("noise_multiplier", "a finite number >= 0", self.noise_multiplier))
        if not (_is_count(self.num_sampled) and self.num_sampled >= 1):
            p.append(("num_sampled", "the expected number of domains sampled per round, an int >= 1 "
                      "(the noise denominator, McMahan et al. 2018)", self.num_sampled))
        elif self.num_domains is not None and not (_is_count(self.num_domains)
                                                   and self.num_domains >= self.num_sampled):
            p.append(("num_domains", f"None or an int >= num_sampled={self.num_sampled}", self.num_domains))
        if not (_is_number(self.delta) and 0 < self.delta < 1):
            p.append(("delta", "0 < delta < 1", self.delta))
        if self.max_epsilon is not None and not (_is_number(self.max_epsilon)
                                                 and np.isfinite(self.max_epsilon) and self.max_epsilon > 0):
            p.append(("max_epsilon", "None or a finite number > 0", self.max_epsilon))
        return p

    def _validate(self) -> None:
        problems = self._problems()
        if problems:
            name, expected, found = problems[0]
            raise FederationError("bad differential-privacy parameter", where=f"{type(self).__name__}: {name}",
                                  expected=expected, found=repr(found))
        check_seed(self.seed, f"{type(self).__name__}: seed")

    # -- accounting ------------------------------------------------------------------
    @property
    def sample_rate(self) -> float:
        """Probability that a domain takes part in a round: ``num_sampled / num_domains``."""
        return 1.0 if self.num_domains is None else self.num_sampled / self.num_domains

    def _accounted_multiplier(self) -> float:
        return float(self.noise_multiplier)

    def _epsilon_after(self, rounds: int) -> float:
        return dp_epsilon(self._accounted_multiplier(), self.sample_rate, rounds, self.delta)

    @property
    def epsilon_(self) -> float:
        """ε spent by the rounds released so far (at ``delta``)."""
        return self._epsilon_after(getattr(self, "rounds_", 0))

    def epsilon(self, delta: float | None = None) -> float:
        """ε spent by the rounds released so far, at ``delta`` (default: the wrapper's)."""
        self._validate()
        return dp_epsilon(self._accounted_multiplier(), self.sample_rate, getattr(self, "rounds_", 0),
                          self.delta if delta is None else delta)

    def _check_budget(self) -> None:
        if self.max_epsilon is None:
            return
        done = getattr(self, "rounds_", 0)
        spent, nxt = self._epsilon_after(done), self._epsilon_after(done + 1)
        if nxt > self.max_epsilon:
            raise PrivacyBudgetError(
                f"privacy budget reached: round {done + 1} would spend more than max_epsilon",
                where=type(self).__name__, expected=f"epsilon <= {self.max_epsilon} at delta={self.delta}",
                found=f"epsilon {spent:.4g} after {done} round(s), {nxt:.4g} after one more",
                epsilon_spent=spent, epsilon_next=nxt, max_epsilon=self.max_epsilon, rounds=done)

    def privacy_spent(self) -> dict:
        """What was spent and how it was accounted, for reports and the provenance log.

        Examples
        --------
        >>> s = DPFixedClipping(FedAvg(), noise_multiplier=1.0, num_sampled=4, num_domains=8, seed=1)
        >>> r = s.privacy_spent(); r["epsilon"], r["private"], r["noise"]
        (0.0, False, 'seed=1 (NOT PRIVATE: seeded noise, for tests only)')
        """
        self._validate()
        return {"epsilon": self.epsilon_, "delta": self.delta, "rounds": getattr(self, "rounds_", 0),
                "noise_multiplier": self._accounted_multiplier(), "sample_rate": self.sample_rate,
                "num_sampled": self.num_sampled, "max_epsilon": self.max_epsilon,
                "clipping": self._clipping,
                "accountant": "dp-accounting RdpAccountant, default orders (1.1..10.9, 11..63, 128, 256, 512, 1024)",
                "noise": noise_source(self.seed),
                "private": self.seed is None and self._accounted_multiplier() > 0}

    # -- the strategy interface ------------------------------------------------------
    def reset(self) -> None:
        self.rounds_ = 0
        self.norms_ = []
        self.clip_norms_ = []
        if isinstance(self._inner(), Strategy):
            self._inner().reset()

    def configure_fit(self, server_round: int) -> dict:
        """Checked before the domains train: bad parameters, or a round past the budget, stop here."""
        self._validate()
        self._check_budget()
        return self._inner().configure_fit(server_round)

    def _current_clip_norm(self) -> float:
        raise NotImplementedError

    def _update_noise_multiplier(self) -> float:
        return float(self.noise_multiplier)

    def _after_round(self, server_round: int, norms: np.ndarray, clip_norm: float) -> None:
        """Adaptive clipping moves its norm here."""

    def aggregate_fit(self, server_round, current, results, *, names=None):
        self._validate()
        self._check_budget()
        if not hasattr(self, "rounds_"):
            self.reset()
        current = [np.asarray(c, dtype=np.float64) for c in current]
        thetas = [params for params, _ in results]
        check_structure([current, *thetas], names=None if names is None else ["global", *names])
        check_finite(thetas, names=names)
        clip_norm = self._current_clip_norm()
        updates = [[np.asarray(p, dtype=np.float64) - c for p, c in zip(params, current)] for params in thetas]
        clipped, norms = clip_updates(updates, clip_norm)
        std = self._update_noise_multiplier() * clip_norm
        private_mean = []
        for k, c in enumerate(current):
            total = np.zeros_like(c)
            for u in clipped:
                total += u[k]
            total += gaussian_noise(c.shape, std, seed=self.seed, stream=(server_round, 0, k))
            private_mean.append(total / self.num_sampled)
        self.rounds_ += 1
        self.norms_.append(norms)
        self.clip_norms_.append(clip_norm)
        self._after_round(server_round, norms, clip_norm)
        released = [c + m for c, m in zip(current, private_mean)]
        return self._inner().aggregate_fit(server_round, current, [(released, self.num_sampled)])

    def __repr__(self) -> str:
        text = Params.__repr__(self)
        return text if self.seed is None else f"{text} [{NOT_PRIVATE}]"


class DPFixedClipping(_DPWrapper):
    """Central DP with server-side fixed clipping, over any strategy.

    Parameters
    ----------
    strategy : Strategy
        What to do with the private mean update (e.g. ``FedAvg()``, ``FedAdam()``).
    noise_multiplier : float, default 1.0
        ``z``: the noise on the sum of clipped updates has standard deviation ``z * clip_norm``.
    clip_norm : float, default 1.0
        ``C``: largest L2 norm of one domain's update (finite, > 0).
    num_sampled : int
        Expected number of domains sampled per round: the denominator of the mean.
    num_domains : int or None, default None
        Domains in the mesh, for the sampling rate ``num_sampled / num_domains`` of the
        accountant (``None``: every domain takes part, no amplification by sampling).
    delta : float, default 1e-5
    max_epsilon : float or None, default None
        Budget: a round whose release would take ε past it is not run
        (:class:`~meshkit.PrivacyBudgetError`).
    seed : int or None, default None
        ``None``: noise from the OS CSPRNG. An int: reproducible noise, **not private**.

    Attributes
    ----------
    rounds_ : int
        Private rounds released.
    norms_ : list of ndarray
        Each round's update norms, before clipping.
    clip_norms_ : list of float
        The clipping norm of each round.

    Examples
    --------
    >>> s = DPFixedClipping(FedAvg(), noise_multiplier=0.0, clip_norm=1.0, num_sampled=2)
    >>> s.aggregate_fit(1, [np.zeros(2)], [([np.array([3.0, 4.0])], 10), ([np.zeros(2)], 1)])
    [array([0.3, 0.4])]
    """

    _clipping = "fixed"

    def __init__(self, strategy: Strategy, *, noise_multiplier: float = 1.0, clip_norm: float = 1.0,
                 num_sampled: int | None = None, num_domains: int | None = None, delta: float = 1e-5,
                 max_epsilon: float | None = None, seed: int | None = None) -> None:
        self.strategy = strategy
        self.noise_multiplier, self.clip_norm = noise_multiplier, clip_norm
        self.num_sampled, self.num_domains, self.delta = num_sampled, num_domains, delta
        self.max_epsilon, self.seed = max_epsilon, seed

    def _problems(self):
        p = super()._problems()
        if not (_is_number(self.clip_norm) and np.isfinite(self.clip_norm) and self.clip_norm > 0):
            p.append(("clip_norm", "a finite number > 0", self.clip_norm))
        return p

    def _current_clip_norm(self):
        return float(self.clip_norm)


class DPFedAvg(DPFixedClipping):
    """FedAvg of clipped updates with Gaussian noise: :class:`DPFixedClipping` over ``FedAvg()``.

    Parameters are those of :class:`DPFixedClipping` but ``strategy``.

    Examples
    --------
    >>> DPFedAvg(num_sampled=4, seed=3)  # doctest: +NORMALIZE_WHITESPACE
    DPFedAvg(noise_multiplier=1.0, clip_norm=1.0, num_sampled=4, num_domains=None, delta=1e-05,
             max_epsilon=None, seed=3) [NOT PRIVATE: seeded noise, for tests only]
    """

    def __init__(self, *, noise_multiplier: float = 1.0, clip_norm: float = 1.0,
                 num_sampled: int | None = None, num_domains: int | None = None, delta: float = 1e-5,
                 max_epsilon: float | None = None, seed: int | None = None) -> None:
        super().__init__(FedAvg(), noise_multiplier=noise_multiplier, clip_norm=clip_norm,
                         num_sampled=num_sampled, num_domains=num_domains, delta=delta,
                         max_epsilon=max_epsilon, seed=seed)


class DPAdaptiveClipping(_DPWrapper):
    """Central DP with server-side adaptive clipping (Andrew et al. 2021), over any strategy.

    Each round clips at the current norm ``C``, then moves ``C`` towards the
    ``target_unclipped_quantile`` of the update norms from a noisy count: with
    ``b_i = 1`` when domain ``i``'s update was *not* clipped,
    ``b = (sum_i b_i + N(0, clipped_count_stddev**2)) / num_sampled`` and
    ``C <- C * exp(-clip_norm_lr * (b - target_unclipped_quantile))``. When most updates are
    clipped ``b`` is small and ``C`` rises; when few are, ``C`` falls. The count costs privacy
    too: the update noise uses ``z_update = (z**-2 - (2 * clipped_count_stddev)**-2) ** -0.5``
    so that both releases together are one Gaussian mechanism of multiplier ``z``, which is
    what the accountant composes.

    Deliberate differences from Flower 1.x's ``DifferentialPrivacyServerSideAdaptiveClipping``
    (see ``benchmarks/bench_privacy.py``): Flower counts the *clipped* updates and applies the
    same formula, so its norm moves the other way (it falls when most updates are clipped);
    Flower divides the count by the number that answered, meshkit by ``num_sampled``; Flower
    scales the noise with the norm *after* the update, meshkit with the norm the round
    clipped at.

    Parameters
    ----------
    strategy : Strategy
    noise_multiplier : float, default 1.0
        ``z``, the multiplier the accountant sees.
    num_sampled : int
        Expected number of domains sampled per round (the denominator of the mean and of ``b``).
    num_domains : int or None, default None
        As for :class:`DPFixedClipping`.
    initial_clip_norm : float, default 0.1
        Andrew et al.'s recommended start.
    target_unclipped_quantile : float, default 0.5
        ``gamma``: the fraction of updates that should fit under the norm.
    clip_norm_lr : float, default 0.2
        ``eta_C``, the geometric learning rate of the norm.
    clipped_count_stddev : float or None, default None
        ``sigma_b``; ``None``: ``num_sampled / 20`` (the paper's suggestion) when ``z > 0``,
        else ``0``. Must exceed ``z / 2`` when ``z > 0``.
    delta, max_epsilon, seed
        As for :class:`DPFixedClipping`.

    Attributes
    ----------
    clip_norm_ : float
        The norm the next round clips at.
    clip_norms_ : list of float
        The norm each round clipped at.
    unclipped_fractions_ : list of float
        The noisy fraction ``b`` of each round.
    rounds_, norms_
        As for :class:`DPFixedClipping`.
    """

    _clipping = "adaptive"

    def __init__(self, strategy: Strategy, *, noise_multiplier: float = 1.0, num_sampled: int | None = None,
                 num_domains: int | None = None, initial_clip_norm: float = 0.1,
                 target_unclipped_quantile: float = 0.5, clip_norm_lr: float = 0.2,
                 clipped_count_stddev: float | None = None, delta: float = 1e-5,
                 max_epsilon: float | None = None, seed: int | None = None) -> None:
        self.strategy = strategy
        self.noise_multiplier, self.num_sampled, self.num_domains = noise_multiplier, num_sampled, num_domains
        self.initial_clip_norm, self.target_unclipped_quantile = initial_clip_norm, target_unclipped_quantile
        self.clip_norm_lr, self.clipped_count_stddev = clip_norm_lr, clipped_count_stddev
        self.delta, self.max_epsilon, self.seed = delta, max_epsilon, seed

    @property
    def count_stddev(self) -> float:
        """``sigma_b`` as used: the given value, or ``num_sampled / 20`` when noise is on."""
        if self.clipped_count_stddev is not None:
            return float(self.clipped_count_stddev)
        return self.num_sampled / 20 if self.noise_multiplier > 0 else 0.0

    def _problems(self):
        p = super()._problems()
        if not (_is_number(self.initial_clip_norm) and np.isfinite(self.initial_clip_norm)
                and self.initial_clip_norm > 0):
            p.append(("initial_clip_norm", "a finite number > 0", self.initial_clip_norm))
        if not (_is_number(self.target_unclipped_quantile) and 0 <= self.target_unclipped_quantile <= 1):
            p.append(("target_unclipped_quantile", "a number in [0, 1]", self.target_unclipped_quantile))
        if not (_is_number(self.clip_norm_lr) and np.isfinite(self.clip_norm_lr) and self.clip_norm_lr > 0):
            p.append(("clip_norm_lr", "a finite number > 0", self.clip_norm_lr))
        if self.clipped_count_stddev is not None and not (
                _is_number(self.clipped_count_stddev) and np.isfinite(self.clipped_count_stddev)
                and self.clipped_count_stddev >= 0):
            p.append(("clipped_count_stddev", "None or a finite number >= 0", self.clipped_count_stddev))
        if not p and self.noise_multiplier > 0 and not self.noise_multiplier < 2 * self.count_stddev:
            p.append(("clipped_count_stddev",
                      f"more than noise_multiplier / 2 = {self.noise_multiplier / 2} (the count's noise must "
                      "leave room for the update's)", self.count_stddev))
        return p

    def _update_noise_multiplier(self):
        z = float(self.noise_multiplier)
        if z == 0:
            return 0.0
        return (z ** -2 - (2 * self.count_stddev) ** -2) ** -0.5

    @property
    def update_noise_multiplier(self) -> float:
        """``z_update``, the multiplier of the noise on the summed updates."""
        self._validate()
        return self._update_noise_multiplier()

    def reset(self):
        super().reset()
        self.clip_norm_ = float(self.initial_clip_norm)
        self.unclipped_fractions_ = []

    def _current_clip_norm(self):
        if not hasattr(self, "clip_norm_"):
            self.clip_norm_ = float(self.initial_clip_norm)
            self.unclipped_fractions_ = []
        return self.clip_norm_

    def _after_round(self, server_round, norms, clip_norm):
        unclipped = float(np.sum(norms <= clip_norm))
        noisy = unclipped + float(gaussian_noise((), self.count_stddev, seed=self.seed, stream=(server_round, 1)))
        fraction = noisy / self.num_sampled
        self.unclipped_fractions_.append(fraction)
        self.clip_norm_ = clip_norm * math.exp(-self.clip_norm_lr * (fraction - self.target_unclipped_quantile))
