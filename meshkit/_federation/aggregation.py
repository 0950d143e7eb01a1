"""``theta = aggregate(theta_1, ..., theta_n)``: one round's aggregation, by rule name.

:func:`aggregate` is the one-shot form of the stateless strategies: it looks ``method`` up in
the one registry (``STRATEGIES``), builds that strategy from the options and applies it. The
rules themselves live in :mod:`~meshkit._federation.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._params import check_weights
from meshkit._federation.secagg.strategy import with_secure
from meshkit._federation.strategies import STRATEGIES, strategy_class

__all__ = ["aggregate"]


def aggregate(thetas, weights=None, method: str = "fedavg", *, secure=False, **options) -> list[np.ndarray]:
    r"""Aggregate the domains' parameters into one global parameter list.

    Parameters
    ----------
    thetas : sequence of list of ndarray, or mapping name -> list of ndarray
        One list of arrays per domain (same count and shapes everywhere). With a mapping,
        error messages name the domains.
    weights : array_like or mapping, optional
        One positive weight per domain, usually its number of training examples. ``None``
        means equal weights. Used by ``fedavg`` and ``multikrum`` only; the robust
        rules are unweighted, as in Flower. Weights are normalised after division by the
        largest, so counts up to the largest float are safe.
    method : str, default "fedavg"
        A stateless rule of the registry ``STRATEGIES``, with the semantics of Flower's
        ``flwr.server.strategy.aggregate``:

        ``"fedavg"`` (:class:`FedAvg`, also ``"fedprox"`` on the server)
            :math:`\theta = \sum_i w_i \theta_i / \sum_i w_i` (McMahan et al. 2017).
        ``"mean"`` (:class:`FedMean`)
            the plain mean, i.e. FedAvg with equal weights.
        ``"median"`` (:class:`FedMedian`)
            coordinate-wise median, unweighted (Yin et al. 2018).
        ``"trimmed_mean"`` (:class:`FedTrimmedAvg`)
            coordinate-wise mean after cutting ``floor(beta * n)`` values from each tail;
            option ``beta`` in ``[0, 0.5)``, default ``0.2`` (as Flower's ``FedTrimmedAvg``).
        ``"krum"`` (:class:`Krum`)
            the one domain whose parameters minimise the sum of squared distances to their
            ``n - f - 2`` nearest neighbours (Blanchard et al. 2017); option ``f`` (number
            of Byzantine domains tolerated, default ``0``) with ``n >= 2f + 3``.
        ``"multikrum"`` (:class:`MultiKrum`)
            the ``weights``-weighted mean of the ``m`` domains with the best Krum scores;
            options ``f`` and ``m`` (default ``n - f``).
        ``"bulyan"`` (:class:`Bulyan`)
            select ``n - 2f`` domains by repeated Krum, then average coordinate-wise the
            ``n - 4f`` values closest to their median (El Mhamdi et al. 2018); needs
            ``n >= 4f + 3``.

        Krum, Multi-Krum and Bulyan compute distances in float64 and never choose a
        domain whose score is not finite (a domain sending 1e200 is infinitely far).
    secure : bool or SecureAggregation, default False
        ``True`` runs the rule under secure aggregation
        (:class:`~meshkit._federation.secagg.SecureAggregation` with its defaults; pass an
        instance to choose its parameters): the aggregator learns only the weighted sum,
        equal to the plain rule within the fixed-point bound. Only ``"fedavg"`` and
        ``"mean"`` (rules of the sum) can run this way.
    **options
        The rule's parameters listed above; others are refused.

    Returns
    -------
    list of ndarray
        The aggregated arrays, shaped and typed like the inputs (floating).

    Raises
    ------
    FederationError
        Empty input, different array counts or shapes between domains, NaN or infinite
        parameters, zero/negative weights, unknown methods or options, stateful server
        optimizers (they need the current model: use them in ``run_federated``), ``f`` too
        large, a robust rule with ``secure``.

    Examples
    --------
    >>> a = [np.array([1.0, 2.0]), np.array([0.0])]
    >>> b = [np.array([3.0, 6.0]), np.array([4.0])]
    >>> aggregate([a, b], weights=[1, 3])
    [array([2.5, 5. ]), array([3.])]
    >>> aggregate([a, b, b], method="median")[0]
    array([3., 6.])
    >>> np.round(aggregate([a, b], weights=[1, 3], secure=True)[0], 9)
    array([2.5, 5. ])
    """
    cls = strategy_class(method)
    if cls.stateful:
        stateless = [k for k, v in STRATEGIES.items() if not isinstance(v, str) and not v.stateful]
        raise FederationError("a server optimizer needs the current global model", where="method",
                              expected=f"one of {', '.join(stateless)}", found=repr(method))
    allowed = cls._param_names()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise FederationError(f"unknown option for method {method!r}", where=unknown[0],
                              expected=", ".join(allowed) or "no options", found=repr(unknown[0]))
    names = None
    if isinstance(thetas, Mapping):
        names = [str(k) for k in thetas]
        if isinstance(weights, Mapping):
            missing = [n for n in thetas if n not in weights]
            if missing:
                raise FederationError("a weight is missing", where=f"weights[{missing[0]!r}]",
                                      expected="one weight per domain", found="no weight")
            weights = [weights[n] for n in thetas]
        thetas = list(thetas.values())
    if thetas is None or len(thetas) == 0:
        raise FederationError("nothing to aggregate", where="thetas",
                              expected="parameters from at least one domain", found="0 domains")
    weights = check_weights(weights, len(thetas), names=names)  # refused for every rule alike
    strategy = cls(**options)
    strategy = with_secure(strategy, secure)
    return strategy.aggregate_fit(0, None, list(zip(thetas, weights)), names=names)
