"""Server-side strategies: how a round's client results become the next global model.

Like Flower's strategies: one small abstract base (:class:`Strategy`). Like scikit-learn's
estimators: keyword-only hyper-parameters stored unchanged by ``__init__`` and validated when
the strategy is used; ``get_params`` / ``set_params`` / :func:`~meshkit._federation._base.clone`
and the ``repr`` read the constructor's signature; state learned across rounds ends in ``_``.
Stateful server optimizers (FedAvgM, FedAdam, FedYogi, FedAdagrad) keep their moments across
rounds; call :meth:`Strategy.reset` to start over.

``STRATEGIES`` is the one registry of aggregation rules: :func:`get_strategy` and
:func:`meshkit.aggregate` both read it, and nothing adds to it at run time.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from types import MappingProxyType

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation import rules
from meshkit._federation._base import Params

__all__ = [
    "Strategy", "FedAvg", "FedMean", "FedProx", "FedMedian", "FedTrimmedAvg", "Krum", "MultiKrum", "Bulyan",
    "FedAvgM", "FedAdam", "FedYogi", "FedAdagrad", "STRATEGIES", "get_strategy",
]


class Strategy(Params, ABC):
    """Turn the results of one round into new global parameters.

    Subclasses implement :meth:`aggregate_fit`; :meth:`configure_fit` says what clients get
    with the parameters (e.g. FedProx's ``mu``). ``stateful`` strategies (server
    optimizers) need the current global model and keep state across rounds, so they cannot
    serve the one-shot :func:`meshkit.aggregate`.
    """

    #: True when aggregate_fit reads ``current`` or keeps state across rounds
    stateful: bool = False

    def configure_fit(self, server_round: int) -> dict:
        """Options sent to each client with the global parameters (default: none)."""
        return {}

    @abstractmethod
    def aggregate_fit(self, server_round: int, current: list[np.ndarray],
                      results: list[tuple[list[np.ndarray], int]], *, names=None) -> list[np.ndarray]:
        """Aggregate ``results`` (one ``(parameters, num_examples)`` per domain)."""

    def reset(self) -> None:
        """Forget any state kept across rounds."""


def _split(results):
    return [p for p, _ in results], [n for _, n in results]


class FedAvg(Strategy):
    """Federated averaging (McMahan et al. 2017): the example-weighted mean.

    Examples
    --------
    >>> FedAvg().aggregate_fit(1, [np.zeros(1)], [([np.ones(1)], 1), ([np.full(1, 3.0)], 3)])
    [array([2.5])]
    """

    def aggregate_fit(self, server_round, current, results, *, names=None):
        thetas, weights = _split(results)
        return rules.fedavg(thetas, weights, names=names)


class FedMean(Strategy):
    """The plain mean of the domains' parameters: FedAvg with equal weights.

    Examples
    --------
    >>> FedMean().aggregate_fit(1, None, [([np.ones(1)], 1), ([np.full(1, 3.0)], 3)])
    [array([2.])]
    """

    def aggregate_fit(self, server_round, current, results, *, names=None):
        return rules.fedavg(_split(results)[0], None, names=names)


class FedProx(FedAvg):
    """FedAvg plus the client-side proximal term ``mu/2 * ||w - w_t||^2`` (Li et al. 2020).

    The server aggregates as FedAvg; clients receive ``mu`` and add the term to their local
    loss, which keeps local models near the global one on heterogeneous data.

    Parameters
    ----------
    mu : float, default 0.01
        Proximal strength; ``0`` gives FedAvg.

    Examples
    --------
    >>> FedProx(mu=1.0).configure_fit(1)
    {'mu': 1.0}
    """

    def __init__(self, *, mu: float = 0.01) -> None:
        self.mu = mu

    def configure_fit(self, server_round):
        if isinstance(self.mu, bool) or not isinstance(self.mu, (int, float, np.floating)) or not self.mu >= 0:
            raise FederationError("mu must be >= 0", where="FedProx: mu", expected="a number >= 0",
                                  found=repr(self.mu))
        return {"mu": self.mu}


class FedMedian(Strategy):
    """Coordinate-wise median of the domains' parameters (unweighted)."""

    def aggregate_fit(self, server_round, current, results, *, names=None):
        return rules.median(_split(results)[0], names=names)


class FedTrimmedAvg(Strategy):
    """Coordinate-wise trimmed mean.

    Parameters
    ----------
    beta : float, default 0.2
        Fraction cut from each tail (``floor(beta * n)`` values per tail), as in Flower.
    """

    def __init__(self, *, beta: float = 0.2) -> None:
        self.beta = beta

    def aggregate_fit(self, server_round, current, results, *, names=None):
        return rules.trimmed_mean(_split(results)[0], self.beta, names=names)


class Krum(Strategy):
    """Krum, or Multi-Krum when ``m`` is given (Blanchard et al. 2017).

    Parameters
    ----------
    f : int, default 0
        Byzantine domains tolerated; a round needs ``n >= 2f + 3`` answers.
    m : int or None, default None
        ``None``: keep the single best domain (Krum); otherwise the example-weighted mean
        of the ``m`` best (Multi-Krum).
    """

    def __init__(self, *, f: int = 0, m: int | None = None) -> None:
        self.f, self.m = f, m

    def aggregate_fit(self, server_round, current, results, *, names=None):
        thetas, weights = _split(results)
        if self.m is None:
            return rules.krum(thetas, self.f, names=names)
        return rules.multikrum(thetas, weights, self.f, self.m, names=names)


class MultiKrum(Krum):
    """Multi-Krum: the example-weighted mean of the ``m`` domains with the best Krum scores.

    Parameters
    ----------
    f : int, default 0
        Byzantine domains tolerated; a round needs ``n >= 2f + 3`` answers.
    m : int or None, default None
        Domains averaged; ``None`` means ``n - f``.
    """

    def aggregate_fit(self, server_round, current, results, *, names=None):
        thetas, weights = _split(results)
        return rules.multikrum(thetas, weights, self.f, self.m, names=names)


class Bulyan(Strategy):
    """Bulyan over Krum (El Mhamdi et al. 2018).

    Parameters
    ----------
    f : int, default 0
        Byzantine domains tolerated; a round needs ``n >= 4f + 3`` answers.
    """

    def __init__(self, *, f: int = 0) -> None:
        self.f = f

    def aggregate_fit(self, server_round, current, results, *, names=None):
        return rules.bulyan(_split(results)[0], self.f, names=names)


class FedAvgM(Strategy):
    """FedAvg with server momentum (Hsu et al. 2019).

    With pseudo-gradient :math:`g_t = x_t - \\mathrm{avg}_t`:
    :math:`m_t = \\beta m_{t-1} + g_t`, :math:`x_{t+1} = x_t - \\eta m_t`.

    Parameters
    ----------
    server_lr : float, default 1.0
        Server learning rate :math:`\\eta`.
    momentum : float, default 0.9
        Server momentum :math:`\\beta`; ``0`` with ``server_lr=1`` is FedAvg.
    """

    stateful = True

    def __init__(self, *, server_lr: float = 1.0, momentum: float = 0.9) -> None:
        self.server_lr, self.momentum = server_lr, momentum
        self.reset()

    def reset(self):
        self.momentum_ = None

    def aggregate_fit(self, server_round, current, results, *, names=None):
        avg = rules.fedavg(*_split(results), names=names)
        grad = [x - a for x, a in zip(current, avg)]
        if self.momentum_ is None:
            self.momentum_ = grad
        else:
            self.momentum_ = [self.momentum * m + g for m, g in zip(self.momentum_, grad)]
        return [x - self.server_lr * m for x, m in zip(current, self.momentum_)]


class _FedOpt(Strategy):
    r"""Adaptive server optimizers of Reddi et al. (2021), "Adaptive Federated Optimization".

    With :math:`\Delta_t = \mathrm{avg}_t - x_t` (the example-weighted mean of the clients'
    models minus the current global model):

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\Delta_t, \qquad
        x_{t+1} = x_t + \eta\, m_t / (\sqrt{v_t} + \tau)

    where :math:`v_t` follows each subclass's rule, with :math:`v_{-1} = \tau^2` and
    :math:`m_{-1} = 0` as in the paper (no bias correction).
    """

    stateful = True

    def __init__(self, *, eta: float, beta_1: float, beta_2: float, tau: float) -> None:
        self.eta, self.beta_1, self.beta_2, self.tau = eta, beta_1, beta_2, tau
        self.reset()

    def reset(self):
        self.m_ = None
        self.v_ = None

    @abstractmethod
    def _second_moment(self, v: np.ndarray, d2: np.ndarray) -> np.ndarray:
        """The v update from the previous v and the squared pseudo-gradient."""

    def aggregate_fit(self, server_round, current, results, *, names=None):
        avg = rules.fedavg(*_split(results), names=names)
        delta = [a - x for a, x in zip(avg, current)]
        if self.m_ is None:
            self.m_ = [np.zeros_like(d) for d in delta]
            self.v_ = [np.full_like(d, self.tau ** 2) for d in delta]
        self.m_ = [self.beta_1 * m + (1 - self.beta_1) * d for m, d in zip(self.m_, delta)]
        self.v_ = [self._second_moment(v, d * d) for v, d in zip(self.v_, delta)]
        return [x + self.eta * m / (np.sqrt(v) + self.tau)
                for x, m, v in zip(current, self.m_, self.v_)]


class FedAdagrad(_FedOpt):
    r"""FedAdagrad: :math:`v_t = v_{t-1} + \Delta_t^2` (Reddi et al. 2021).

    Parameters
    ----------
    eta : float, default 0.1
        Server learning rate.
    beta_1 : float, default 0.0
        First-moment decay (``0``: no momentum, as in the paper's FedAdagrad).
    tau : float, default 1e-3
        Adaptivity (numerical floor of the denominator).
    """

    def __init__(self, *, eta: float = 0.1, beta_1: float = 0.0, tau: float = 1e-3) -> None:
        self.eta, self.beta_1, self.tau = eta, beta_1, tau
        self.beta_2 = 0.0  # unused by Adagrad's rule; not a parameter
        self.reset()

    def _second_moment(self, v, d2):
        return v + d2


class FedAdam(_FedOpt):
    r"""FedAdam: :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2)\Delta_t^2` (Reddi et al. 2021).

    Parameters
    ----------
    eta : float, default 0.1
        Server learning rate.
    beta_1 : float, default 0.9
        First-moment decay.
    beta_2 : float, default 0.99
        Second-moment decay.
    tau : float, default 1e-3
        Adaptivity.
    """

    def __init__(self, *, eta: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.99,
                 tau: float = 1e-3) -> None:
        super().__init__(eta=eta, beta_1=beta_1, beta_2=beta_2, tau=tau)

    def _second_moment(self, v, d2):
        return self.beta_2 * v + (1 - self.beta_2) * d2


class FedYogi(_FedOpt):
    r"""FedYogi: :math:`v_t = v_{t-1} - (1-\beta_2)\Delta_t^2\,\mathrm{sign}(v_{t-1} - \Delta_t^2)`.

    Parameters
    ----------
    eta : float, default 0.01
        Server learning rate.
    beta_1 : float, default 0.9
        First-moment decay.
    beta_2 : float, default 0.99
        Second-moment decay.
    tau : float, default 1e-3
        Adaptivity.
    """

    def __init__(self, *, eta: float = 0.01, beta_1: float = 0.9, beta_2: float = 0.99,
                 tau: float = 1e-3) -> None:
        super().__init__(eta=eta, beta_1=beta_1, beta_2=beta_2, tau=tau)

    def _second_moment(self, v, d2):
        return v - (1 - self.beta_2) * d2 * np.sign(v - d2)


#: The one registry of aggregation rules: name -> strategy class (or "module:Class" for a
#: strategy defined above this module). Read-only; names are matched without case, "_" or "-".
STRATEGIES = MappingProxyType({
    "fedavg": FedAvg, "mean": FedMean, "fedprox": FedProx,
    "median": FedMedian, "fedmedian": FedMedian,
    "trimmedmean": FedTrimmedAvg, "fedtrimmedavg": FedTrimmedAvg,
    "krum": Krum, "multikrum": MultiKrum, "bulyan": Bulyan,
    "fedavgm": FedAvgM, "fedadam": FedAdam, "fedyogi": FedYogi, "fedadagrad": FedAdagrad,
    "dpfedavg": "meshkit._federation.privacy:DPFedAvg",
})


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under ``name`` (case, ``_`` and ``-`` ignored).

    Examples
    --------
    >>> strategy_class("trimmed_mean").__name__
    'FedTrimmedAvg'
    """
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in STRATEGIES:
        raise FederationError("unknown strategy", where="strategy",
                              expected=f"one of {', '.join(STRATEGIES)}", found=repr(name))
    entry = STRATEGIES[key]
    if isinstance(entry, str):
        module, _, qualname = entry.partition(":")
        entry = getattr(importlib.import_module(module), qualname)
    return entry


def get_strategy(name: str, **options) -> Strategy:
    """Build a strategy by name (case-insensitive), e.g. ``get_strategy("fedprox", mu=1.0)``.

    Examples
    --------
    >>> get_strategy("FedAdam", eta=0.05)
    FedAdam(eta=0.05, beta_1=0.9, beta_2=0.99, tau=0.001)
    """
    cls = strategy_class(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise FederationError("bad strategy options", where=f"strategy {name!r}",
                              expected="the options documented for it", found=str(exc)) from None
