"""Record-level privacy inside a domain: DP-SGD (Abadi et al. 2016) for the numpy models.

Domain-level DP (:mod:`meshkit._federation.privacy`) hides whether a whole domain took part;
with a handful of domains it needs more noise than a model tolerates. DP-SGD hides whether
one *record* (a patient, a customer) was in a domain's training data: each mini-batch step

1. computes every example's gradient (vectorized over the batch: the models' gradients are
   sums of outer products, so each example's norm and the clipped sum come from two matrix
   products, without materializing per-example gradients),
2. clips each example's gradient to L2 norm ``clip_norm`` (over all parameter arrays),
3. sums them, adds Gaussian noise of standard deviation ``noise_multiplier * clip_norm``
   (from the OS CSPRNG unless a test seed is given), and divides by the batch size
   ``batch_size`` (the expected batch size, also for a smaller last batch).

ε per domain comes from dp-accounting's RDP accountant (default orders) for the steps taken,
each a Gaussian mechanism sampled at ``batch_size / n_train``. Batches are a shuffled
partition of the data, accounted as Poisson sampling at that rate -- the approximation
TensorFlow Privacy and Opacus make too. Regularization and FedProx's proximal term do not
read the data and are added after the noise.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._base import Params
from meshkit._federation.accounting import dp_epsilon
from meshkit._federation.noise import NOT_PRIVATE, check_seed, gaussian_noise, noise_source

__all__ = ["DPSGD", "per_example_clipped_sum", "ledger_epsilon"]


def _row_sq(a: np.ndarray) -> np.ndarray:
    """Squared L2 norm of each row (all axes but the first)."""
    a = a.reshape(len(a), -1)
    return np.einsum("ij,ij->i", a, a)


def per_example_clipped_sum(factors, clip_norm: float):
    """Clip every example's gradient to ``clip_norm`` and sum them, vectorized over the batch.

    Parameters
    ----------
    factors : list of (ndarray or None, ndarray)
        One pair ``(A, E)`` per parameter array: example ``i``'s gradient of that array is
        ``outer(A[i], E[i])`` (``A`` of shape ``(B, d)``, ``E`` of shape ``(B, ...)``), or
        ``E[i]`` when ``A`` is ``None`` (a bias).
    clip_norm : float

    Returns
    -------
    sums : list of ndarray
        The clipped gradients summed over the batch, one per parameter array.
    norms : ndarray
        Each example's gradient norm before clipping.

    Examples
    --------
    >>> A = np.array([[3.0], [0.3]]); E = np.array([[1.0], [1.0]])  # gradients [3] and [0.3]
    >>> sums, norms = per_example_clipped_sum([(A, E)], 1.0)
    >>> sums[0].tolist(), norms.tolist()
    ([[1.3]], [3.0, 0.3])
    """
    sq, cache = 0.0, {}

    def row_sq(a):  # a bias shares its E with the weight before it: square it once
        if id(a) not in cache:
            cache[id(a)] = _row_sq(a)
        return cache[id(a)]

    for A, E in factors:
        sq = sq + (row_sq(A) if A is not None else 1.0) * row_sq(E)
    norms = np.sqrt(sq)
    scale = np.minimum(1.0, clip_norm / np.maximum(norms, 1e-300))
    sums = []
    for A, E in factors:
        Es = E * scale.reshape((-1,) + (1,) * (E.ndim - 1))
        sums.append(_contract(A, Es) if A is not None else Es.sum(axis=0))
    return sums, norms


def _contract(A: np.ndarray, E: np.ndarray) -> np.ndarray:
    """``sum_i outer(A[i], E[i])``: ``A.T @ E`` for the models' 2-D inputs."""
    return A.T @ E if A.ndim == 2 and E.ndim <= 2 else np.tensordot(A, E, axes=(0, 0))


def ledger_epsilon(ledger, delta: float) -> float:
    """ε of a sequence of DP-SGD runs ``[(noise_multiplier, sample_rate, steps), ...]`` composed.

    Runs that share ``(noise_multiplier, sample_rate)`` are one event repeated; different
    ones are composed by the same RDP accountant.

    Examples
    --------
    >>> ledger_epsilon([(1.0, 0.01, 100), (1.0, 0.01, 100)], 1e-5) == dp_epsilon(1.0, 0.01, 200)
    True
    """
    merged: dict[tuple[float, float], int] = {}
    for z, q, steps in ledger:
        merged[(float(z), float(q))] = merged.get((float(z), float(q)), 0) + int(steps)
    merged = {k: v for k, v in merged.items() if v > 0}
    if not merged:
        return 0.0
    if len(merged) == 1:
        (z, q), steps = next(iter(merged.items()))
        return dp_epsilon(z, q, steps, delta)
    if any(z == 0 for z, _ in merged):
        return float("inf")
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    from meshkit._federation.accounting import _quiet_absl

    accountant = rdp_privacy_accountant.RdpAccountant()
    with _quiet_absl():
        for (z, q), steps in merged.items():
            event = dp_event.GaussianDpEvent(z)
            accountant.compose(dp_event.PoissonSampledDpEvent(q, event) if q < 1 else event, steps)
        return float(accountant.get_epsilon(delta))


class DPSGD(Params):
    """How a model trains with DP-SGD: per-example clipping and Gaussian noise.

    Give it to a model as ``dp=DPSGD(...)``; the model then reports ``epsilon()``.

    Parameters
    ----------
    clip_norm : float, default 1.0
        Largest L2 norm of one example's gradient (finite, > 0).
    noise_multiplier : float, default 1.0
        Noise standard deviation on the summed clipped gradients, in units of ``clip_norm``.
    delta : float, default 1e-5
        The δ at which ε is reported (choose it below 1 / n_train).
    seed : int or None, default None
        ``None``: noise from the OS CSPRNG. An int: reproducible noise, **not private**.

    Examples
    --------
    >>> DPSGD(noise_multiplier=1.1, seed=0)
    DPSGD(clip_norm=1.0, noise_multiplier=1.1, delta=1e-05, seed=0) [NOT PRIVATE: seeded noise, for tests only]
    """

    def __init__(self, *, clip_norm: float = 1.0, noise_multiplier: float = 1.0, delta: float = 1e-5,
                 seed: int | None = None) -> None:
        self.clip_norm, self.noise_multiplier, self.delta, self.seed = clip_norm, noise_multiplier, delta, seed

    def validate(self, where: str = "DPSGD") -> None:
        """Refuse nonsense (``clip_norm=inf``, a negative multiplier...) with a :class:`FederationError`."""
        def number(x):
            return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)

        checks = (("clip_norm", number(self.clip_norm) and np.isfinite(self.clip_norm) and self.clip_norm > 0,
                   "a finite number > 0"),
                  ("noise_multiplier", number(self.noise_multiplier) and np.isfinite(self.noise_multiplier)
                   and self.noise_multiplier >= 0, "a finite number >= 0"),
                  ("delta", number(self.delta) and 0 < self.delta < 1, "0 < delta < 1"))
        for name, ok, expected in checks:
            if not ok:
                raise FederationError("bad DP-SGD parameter", where=f"{where}: dp.{name}",
                                      expected=expected, found=repr(getattr(self, name)))
        check_seed(self.seed, f"{where}: dp.seed")

    def privatize(self, factors, batch_size: int, stream=(), noise: np.ndarray | None = None) -> list[np.ndarray]:
        """The private mean gradient of one batch from its per-example factors.

        One noise vector covers every parameter array (split in order): ``noise`` if given
        (a slice of :meth:`step_noise`), else one draw for this step.
        """
        sums, _ = per_example_clipped_sum(factors, self.clip_norm)
        if noise is None:
            noise = gaussian_noise(sum(s.size for s in sums), self.noise_multiplier * self.clip_norm,
                                   seed=self.seed, stream=stream)
        out, start = [], 0
        for s in sums:
            out.append((s + noise[start:start + s.size].reshape(s.shape)) / batch_size)
            start += s.size
        return out

    def step_noise(self, size: int, steps: int, first_step: int = 0, *, chunk: int = 1 << 22):
        """Yield the noise of ``steps`` successive steps, ``size`` values each.

        The CSPRNG is read in chunks of up to ``chunk`` values (many steps at once: one key
        and one Box-Muller pass per chunk instead of per step); every value is used once and
        the chunk is dropped when spent. A seeded chunk draws from stream ``(first step,)``.
        """
        std = self.noise_multiplier * self.clip_norm
        per_chunk = max(1, chunk // max(size, 1))
        done = 0
        while done < steps:
            k = min(per_chunk, steps - done)
            block = gaussian_noise(k * size, std, seed=self.seed, stream=(first_step + done,))
            for j in range(k):
                yield block[j * size:(j + 1) * size]
            done += k

    @property
    def noise(self) -> str:
        """Where the noise comes from (CSPRNG, or a labelled test seed)."""
        return noise_source(self.seed)

    def __repr__(self) -> str:
        text = super().__repr__()
        return text if self.seed is None else f"{text} [{NOT_PRIVATE}]"
