"""``SecureAggregation``: any mean-based strategy, with the server seeing only the sum.

The wrapper runs one secure-aggregation round (:mod:`.protocol`) over the domains' answers
and hands the wrapped strategy what it would have computed from them:

* **FedAvg-like strategies** (``FedAvg``, ``FedMean``, ``FedProx``, and the server optimizers
  ``FedAvgM``, ``FedAdam``, ``FedYogi``, ``FedAdagrad``, which start from the FedAvg mean): each
  domain encodes ``p_i * theta_i`` with ``p_i = w_i / sum_j w_j`` (its example count over the
  round's total; ``FedMean``: ``1 / n``), the server decodes ``sum_i p_i theta_i`` and divides
  by ``sum_i p_i`` over the domains whose input arrived. That is plain FedAvg within
  ``n * 2**-(frac_bits + 1) / sum_i p_i`` per coordinate (``SecAggResult.error_bound``), as
  long as every parameter lies within ``[-clip_range, clip_range]`` (values beyond are
  clipped by the domain before encoding). The example counts stay visible to the server,
  as in the plain round loop and its provenance record; the parameters do not.
* **The DP wrapper** (a strategy with ``clip_norm`` and ``noise_multiplier`` parameters, such
  as ``DPFedAvg`` or ``DPFixedClipping``): the clipping that the wrapper would do on the
  server is done by each domain before masking -- ``Delta_i = theta_i - theta`` clipped to
  L2 norm ``clip_norm`` -- and the server learns only ``S = sum_i Delta_i``, unweighted, as
  DP needs. **The noise is central, added by the server after unmasking**: the DP wrapper
  receives ``S`` as ``m`` answers of ``theta + S / m`` (``m`` domains in the sum; each of
  norm at most ``clip_norm``, so its own clipping changes nothing) and adds its Gaussian
  noise to their sum, divides by its denominator and accounts ε exactly as without secure
  aggregation. Secure aggregation hides each domain's update from the server; DP hides each
  domain from whoever sees the model. The wrapper's record of update norms then holds the
  norm of ``S / m`` for every domain (the server never sees a domain's own norm), so
  adaptive clipping, which needs the count of unclipped updates, is refused.

Robust rules (median, trimmed mean, Krum, Multi-Krum, Bulyan) need each domain's parameters,
which is exactly what secure aggregation hides: they are refused.
"""

from __future__ import annotations

import math

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._base import clone
from meshkit._federation._params import check_structure
from meshkit._federation.secagg.protocol import secure_sum
from meshkit._federation.strategies import FedAdagrad, FedAdam, FedAvg, FedAvgM, FedMean, FedYogi, Strategy

__all__ = ["SecureAggregation", "with_secure"]

#: strategies that only need the (weighted) mean of the answers
_MEAN_BASED = (FedAvg, FedMean, FedAvgM, FedAdam, FedYogi, FedAdagrad)


def _is_dp(strategy) -> bool:
    names = set(type(strategy)._param_names()) if hasattr(type(strategy), "_param_names") else set()
    return "noise_multiplier" in names and ("clip_norm" in names or "initial_clip_norm" in names)


def _clip_update(update: np.ndarray, clip_norm: float) -> np.ndarray:
    """``update`` scaled to L2 norm at most ``clip_norm`` (norm computed without overflow)."""
    peak = float(np.abs(update).max()) if update.size else 0.0
    norm = peak * math.sqrt(float(np.vdot(update / peak, update / peak))) if peak > 0 else 0.0
    return update * (clip_norm / norm) if norm > clip_norm else update


def _flat(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def domain_input(flat_theta: np.ndarray, flat_current, clip_norm) -> np.ndarray:
    """What a domain feeds into the secure sum: its parameters, or with the DP wrapper its
    update against the current model clipped to ``clip_norm`` (done by the domain, before masking)."""
    if clip_norm is None:
        return flat_theta
    return _clip_update(flat_theta - flat_current, float(clip_norm))


class SecureAggregation(Strategy):
    """Secure aggregation (Bonawitz et al. 2017; SecAgg+, Bell et al. 2020) around a strategy.

    Parameters
    ----------
    strategy : Strategy or None, default None
        What to do with the securely summed answers: ``None`` means ``FedAvg()``; a
        FedAvg-like strategy, a server optimizer, or the fixed-clipping DP wrapper (see the
        module docstring for what each receives).
    neighbours : int or None, default None
        Degree of the SecAgg+ neighbour graph: ``None`` for ``2 * ceil(log2 n) + 2`` (the
        complete graph for up to 10 domains), ``n - 1`` or more for Bonawitz et al.'s
        complete graph.
    threshold : float, default 2/3
        Fraction of each domain's share holders (its neighbours and itself) that recover its
        secrets, ``t = ceil(threshold * holders)``, in ``(1/2, 1]``.
    ring_bits : {64, 32}, default 64
        Arithmetic modulo ``2**ring_bits``.
    frac_bits : int or None, default None
        Fixed-point fractional bits; ``None`` takes the most that cannot overflow the ring.
    clip_range : float, default 65536.0
        Each parameter is clipped to ``[-clip_range, clip_range]`` before encoding (with the
        DP wrapper the range is its ``clip_norm``).

    Attributes
    ----------
    reports_ : list of dict
        One per round: survivors, dropped domains, the error bound, the encoding, the graph
        degree and threshold (:meth:`SecAggResult.to_dict`).

    Examples
    --------
    >>> s = SecureAggregation(FedAvg())
    >>> results = [([np.array([1.0, 2.0])], 1), ([np.array([3.0, 6.0])], 3), ([np.array([0.0, 0.0])], 4)]
    >>> np.round(s.aggregate_fit(1, None, results)[0], 9)
    array([1.25, 2.5 ])
    >>> s.reports_[0]["survivors"]
    ['domain 0', 'domain 1', 'domain 2']
    """

    def __init__(self, strategy: Strategy | None = None, *, neighbours: int | None = None,
                 threshold: float = 2 / 3, ring_bits: int = 64, frac_bits: int | None = None,
                 clip_range: float = 2.0 ** 16) -> None:
        self.strategy = strategy
        self.neighbours, self.threshold = neighbours, threshold
        self.ring_bits, self.frac_bits, self.clip_range = ring_bits, frac_bits, clip_range

    def _inner(self) -> Strategy:
        inner = FedAvg() if self.strategy is None else self.strategy
        if _is_dp(inner):
            if "clip_norm" not in type(inner)._param_names():
                raise FederationError("adaptive clipping cannot run under secure aggregation",
                                      where="SecureAggregation: strategy",
                                      expected="fixed clipping (the server never sees a domain's norm, so it "
                                               "cannot count the unclipped updates)",
                                      found=type(inner).__name__)
            return inner
        if not isinstance(inner, _MEAN_BASED):
            raise FederationError("secure aggregation reveals only the sum of the answers",
                                  where="SecureAggregation: strategy",
                                  expected="FedAvg, FedMean, FedProx, FedAvgM, FedAdam, FedYogi, FedAdagrad or a "
                                           "fixed-clipping DP wrapper (robust rules need each domain's parameters)",
                                  found=type(inner).__name__)
        return inner

    @property
    def epsilon_(self):
        """The wrapped DP strategy's ε spent so far (``None`` without DP), for the provenance log."""
        return getattr(self._inner(), "epsilon_", None)

    def reset(self) -> None:
        self.reports_ = []
        self._inner().reset()

    def configure_fit(self, server_round: int) -> dict:
        return self._inner().configure_fit(server_round)

    def aggregate_fit(self, server_round, current, results, *, names=None):
        inner = self._inner()
        if len(results) < 2:
            raise FederationError("secure aggregation needs at least two domains", where="SecureAggregation",
                                  expected="2 or more answers (with DP, wrap the DP strategy: "
                                           "SecureAggregation(DPFedAvg(...)), not the other way round)",
                                  found=f"{len(results)}")
        thetas = [params for params, _ in results]
        weights = [n for _, n in results]
        names = [f"domain {i}" for i in range(len(results))] if names is None else [str(n) for n in names]
        shapes, dtypes = check_structure(thetas, names=names)
        scales, clip_range, clip_norm = self.plan(names, weights, current)
        flat_current = None if clip_norm is None else _flat(current)
        inputs = {n: domain_input(_flat(t), flat_current, clip_norm) for n, t in zip(names, thetas)}
        result = secure_sum(inputs, scales, neighbours=self.neighbours, threshold=self.threshold,
                            ring_bits=self.ring_bits, frac_bits=self.frac_bits, clip_range=clip_range,
                            server_round=server_round)
        return self.conclude(server_round, current, result, names, weights, shapes, dtypes)

    def plan(self, names, weights, current):
        """``(scales, clip_range, clip_norm)`` for one round: the inputs' scales (``None`` with
        DP: the sum is unweighted), the encoding's range, and the DP wrapper's clip norm (``None``
        without DP: each domain's input is its parameters)."""
        inner = self._inner()
        weights = np.asarray(weights, dtype=np.float64)
        if _is_dp(inner):
            if current is None:
                raise FederationError("the DP wrapper clips updates against the current model",
                                      where="SecureAggregation", expected="the current global parameters",
                                      found="None")
            clip_norm = float(inner.clip_norm)
            return None, clip_norm, clip_norm
        if not (np.isfinite(weights).all() and (weights > 0).all()):
            raise FederationError("bad example counts", where="SecureAggregation",
                                  expected="positive finite weights", found=repr(weights.tolist()))
        if isinstance(inner, FedMean):
            weights = np.ones_like(weights)
        p = weights / weights.max()
        p = p / p.sum()
        return dict(zip(names, p.tolist())), self.clip_range, None

    def conclude(self, server_round, current, result, names, weights, shapes, dtypes):
        """The wrapped strategy's answer from what the server learned (``result``)."""
        inner = self._inner()
        if not hasattr(self, "reports_"):
            self.reports_ = []
        report = result.to_dict()
        report["round"] = server_round
        self.reports_.append(report)
        if _is_dp(inner):
            m = len(result.survivors)
            mean_update = result.total / m
            answer = self._unflatten(_flat(current) + mean_update, shapes, dtypes)
            return inner.aggregate_fit(server_round, current, [(answer, 1)] * m, names=list(result.survivors))
        mean = self._unflatten(result.total / result.scale_sum, shapes, dtypes)
        total_weight = float(sum(w for n, w in zip(names, weights) if n in set(result.survivors)))
        return inner.aggregate_fit(server_round, current, [(mean, total_weight)], names=None)

    @staticmethod
    def _unflatten(flat: np.ndarray, shapes, dtypes) -> list[np.ndarray]:
        out, start = [], 0
        for shape, dtype in zip(shapes, dtypes):
            size = math.prod(shape)
            out.append(flat[start:start + size].reshape(shape).astype(dtype, copy=False))
            start += size
        return out


def with_secure(strategy: Strategy, secure) -> Strategy:
    """``strategy`` as the ``secure=`` option of :func:`aggregate` and the round loop asks.

    ``False`` leaves it as it is; ``True`` wraps it in a :class:`SecureAggregation` with its
    defaults; a :class:`SecureAggregation` is cloned around ``strategy`` (its settings kept).
    """
    if secure is False:
        return strategy
    if secure is True:
        return SecureAggregation(strategy)
    if isinstance(secure, SecureAggregation):
        return clone(secure).set_params(strategy=strategy)
    raise FederationError("bad secure option", where="secure",
                          expected="False, True or a SecureAggregation", found=repr(secure))
