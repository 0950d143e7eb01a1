"""Accuracy against ε: federated runs whose domains train with DP-SGD at several noise levels.

What notebook 03 shows: for every noise multiplier, the model the federation reaches and the
record-level ε each domain spent (from dp-accounting, for its own sampling rate and steps).
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._base import clone
from meshkit._federation.dpsgd import DPSGD
from meshkit._federation.models import Model
from meshkit._federation.rounds import DomainClient, run_federated

__all__ = ["accuracy_against_epsilon"]


def accuracy_against_epsilon(model: Model, datasets, noise_multipliers, *, clip_norm: float = 1.0,
                             delta: float = 1e-5, strategy=None, rounds: int = 10, local_epochs: int = 1,
                             fraction: float = 1.0, seed: int = 0, dp_seed: int | None = None,
                             progress: bool = False) -> list[dict]:
    """One row per noise multiplier: the federated model's final metrics and the ε spent.

    Each domain trains its own clone of ``model`` with ``dp=DPSGD(clip_norm=clip_norm,
    noise_multiplier=z, delta=delta)``; a record's privacy is that of its domain, so a row
    gives the largest and smallest ε over domains. ``z = 0`` (or ``None``) is the run
    without DP-SGD (ε infinite), for reference.

    Parameters
    ----------
    model : Model
        A prototype supporting DP-SGD (logistic, mlp, linear).
    datasets : dict of str to DomainData
    noise_multipliers : sequence of float
    clip_norm, delta : float
        Of DP-SGD.
    strategy : Strategy, optional
        The server strategy (default FedAvg); each run starts it afresh (``reset``).
    rounds, local_epochs, fraction, seed, progress
        As for :func:`~meshkit.run_federated` (the same ``seed``: the same sampling and
        batch order in every row, so rows differ by their privacy only).
    dp_seed : int or None, default None
        ``None``: DP-SGD noise from the OS CSPRNG. An int: reproducible, **not private**
        (the rows then say so in ``noise``).

    Returns
    -------
    list of dict
        ``noise_multiplier``, ``epsilon_max``, ``epsilon_min``, ``delta``, ``noise``, then
        the final weighted metrics (e.g. ``accuracy``).

    Examples
    --------
    >>> from meshkit._federation import LogisticRegression, from_arrays
    >>> rng = np.random.default_rng(0)
    >>> data = from_arrays([(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(3, 200, 2))])
    >>> rows = accuracy_against_epsilon(LogisticRegression(lr=0.5), data, [0.0, 1.0], rounds=3)
    >>> [r["noise_multiplier"] for r in rows], rows[0]["epsilon_max"], rows[1]["epsilon_max"] < 100
    ([0.0, 1.0], inf, True)
    """
    if not isinstance(model, Model):
        raise FederationError("a model is needed", where="accuracy_against_epsilon: model",
                              expected="a meshkit Model", found=type(model).__name__)
    if not datasets:
        raise FederationError("no domains to train", where="accuracy_against_epsilon: datasets",
                              expected="at least one domain", found="0")
    rows = []
    for z in noise_multipliers:
        z = 0.0 if z is None else z
        dp = DPSGD(clip_norm=clip_norm, noise_multiplier=z, delta=delta, seed=dp_seed) if z else None
        if dp is not None:
            dp.validate("accuracy_against_epsilon")
        clients = {}
        for i, (name, data) in enumerate(datasets.items()):
            local = clone(model).set_params(dp=clone(dp) if dp is not None else None)
            local.seed = int(np.random.default_rng([seed, i]).integers(2**31))
            clients[name] = DomainClient(data, local)
        history = run_federated(clone(model), datasets, strategy, rounds=rounds, fraction=fraction,
                                local_epochs=local_epochs, seed=seed, progress=progress, clients=clients)
        eps = [c.model.epsilon() for c in clients.values()] if dp is not None else [float("inf")]
        rows.append({"noise_multiplier": float(z), "epsilon_max": float(max(eps)), "epsilon_min": float(min(eps)),
                     "delta": delta, "noise": dp.noise if dp is not None else "none",
                     **history.final})
    return rows
