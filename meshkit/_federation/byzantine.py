"""Byzantine domains: attacks a round loop can simulate, and the table of rules against attacks.

An :class:`Attack` changes what the attacked domains send (model poisoning: sign flip,
scaling, Gaussian noise, the overflow attack, a colluding minority) or what they train on
(data poisoning: label flipping). ``run_federated(..., attack=SignFlip(), attacked=["d3"])``
applies it; :func:`robustness_table` runs every robust rule against every attack.

The attacks follow the literature's standard threat models: sign flipping and scaling
(Blanchard et al. 2017; Bagdasaryan et al. 2020), Gaussian noise (Blanchard et al. 2017),
label flipping (Fang et al. 2020), the overflow attack (a domain sending 1e200, whose
distances to the others overflow float64), and a colluding minority that agrees on one identical reflected update, so
that its members are each other's nearest neighbours (the case Krum's ``f`` is meant for).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._base import Params, clone
from meshkit._federation.data import DomainData
from meshkit._federation.rounds import run_federated
from meshkit._federation.strategies import Bulyan, FedAvg, FedMedian, FedTrimmedAvg, Krum, MultiKrum

__all__ = ["Attack", "SignFlip", "Scaling", "GaussianNoise", "LabelFlip", "Overflow", "Collude",
           "ATTACKS", "robustness_table"]


class Attack(Params):
    """What a set of Byzantine domains does; the default does nothing.

    :meth:`corrupt` rewrites the updates the attacked domains send in one round;
    :meth:`poison` rewrites an attacked domain's training data once, before the run.
    """

    def corrupt(self, updates: list[list[np.ndarray]], current: list[np.ndarray],
                rng: np.random.Generator) -> list[list[np.ndarray]]:
        """The parameters the attacked domains send instead of their honest ``updates``."""
        return updates

    def poison(self, data: DomainData, *, n_classes: int | None) -> DomainData:
        """The training data an attacked domain uses instead of ``data``."""
        return data


def _delta(update, current):
    return [np.asarray(u, dtype=np.float64) - c for u, c in zip(update, current)]


class SignFlip(Attack):
    """Send ``current - scale * (honest - current)``: the honest step, reversed and scaled.

    Examples
    --------
    >>> SignFlip(scale=2.0).corrupt([[np.array([3.0])]], [np.array([1.0])], None)
    [[array([-3.])]]
    """

    def __init__(self, *, scale: float = 1.0) -> None:
        self.scale = scale

    def corrupt(self, updates, current, rng):
        return [[c - self.scale * d for c, d in zip(current, _delta(u, current))] for u in updates]


class Scaling(Attack):
    """Send ``current + factor * (honest - current)``: the honest step, boosted.

    Examples
    --------
    >>> Scaling(factor=10.0).corrupt([[np.array([2.0])]], [np.array([1.0])], None)
    [[array([11.])]]
    """

    def __init__(self, *, factor: float = 10.0) -> None:
        self.factor = factor

    def corrupt(self, updates, current, rng):
        return [[c + self.factor * d for c, d in zip(current, _delta(u, current))] for u in updates]


class GaussianNoise(Attack):
    """Send the honest parameters plus ``N(0, sigma^2)`` noise on every coordinate."""

    def __init__(self, *, sigma: float = 1.0) -> None:
        self.sigma = sigma

    def corrupt(self, updates, current, rng):
        return [[np.asarray(a, dtype=np.float64) + rng.normal(0.0, self.sigma, np.shape(a)) for a in u]
                for u in updates]


class Overflow(Attack):
    """Send every parameter equal to ``value`` (default 1e200), the overflow attack.

    Distances to such a domain overflow float64: robust rules must treat it as infinitely far.
    """

    def __init__(self, *, value: float = 1e200) -> None:
        self.value = value

    def corrupt(self, updates, current, rng):
        return [[np.full(np.shape(a), self.value, dtype=np.float64) for a in u] for u in updates]


class LabelFlip(Attack):
    """Train on flipped labels: class ``y`` becomes ``n_classes - 1 - y``; regression targets
    are negated. Needs labels (not the recommender's interaction pairs).

    Examples
    --------
    >>> d = DomainData("a", np.zeros((3, 1)), np.array([0, 1, 2]), np.zeros((1, 1)), np.array([0]))
    >>> LabelFlip().poison(d, n_classes=3).y_train
    array([2, 1, 0])
    """

    def poison(self, data, *, n_classes):
        y = np.asarray(data.y_train)
        if y.ndim != 1 or len(y) != data.n_train:
            raise FederationError("label flipping needs one label per training row",
                                  where=f"domain {data.name!r}", expected="y_train of shape (n,)",
                                  found=f"shape {y.shape}")
        if np.issubdtype(y.dtype, np.integer) and n_classes is not None:
            return replace(data, y_train=(n_classes - 1) - y)
        if np.issubdtype(y.dtype, np.floating):
            return replace(data, y_train=-y)
        raise FederationError("label flipping needs class labels with a known class count, or "
                              "regression targets", where=f"domain {data.name!r}",
                              expected="integer classes and n_classes, or float targets",
                              found=f"{y.dtype}, n_classes={n_classes}")


class Collude(Attack):
    """A colluding minority: every attacked domain sends the same update, the mean of their
    honest steps reversed and scaled (``current - scale * mean(honest - current)``), so the
    colluders sit together, each other's nearest neighbours.

    Examples
    --------
    >>> Collude(scale=1.0).corrupt([[np.array([2.0])], [np.array([4.0])]], [np.array([0.0])], None)
    [[array([-3.])], [array([-3.])]]
    """

    def __init__(self, *, scale: float = 3.0) -> None:
        self.scale = scale

    def corrupt(self, updates, current, rng):
        deltas = [_delta(u, current) for u in updates]
        mean = [np.mean([d[k] for d in deltas], axis=0) for k in range(len(current))]
        shared = [c - self.scale * m for c, m in zip(current, mean)]
        return [[a.copy() for a in shared] for _ in updates]


#: name -> a default instance of every attack (for tables and notebook parameters)
ATTACKS = {
    "sign_flip": SignFlip(scale=4.0), "scaling": Scaling(factor=10.0),
    "gaussian_noise": GaussianNoise(sigma=3.0), "label_flip": LabelFlip(),
    "overflow": Overflow(value=1e200), "collude": Collude(scale=3.0),
}


def robustness_table(model, datasets, *, attacked, rules=None, attacks=None, f: int | None = None,
                     rounds: int = 10, local_epochs: int = 1, metric: str = "accuracy", seed: int = 0,
                     progress: bool = False):
    """Every rule against every attack: the ``metric`` each reaches after ``rounds`` rounds.

    Parameters
    ----------
    model : Model
        Prototype model (cloned).
    datasets : dict of str to DomainData
    attacked : sequence of str
        The Byzantine domains (the same ones under every attack).
    rules : dict of str to Strategy, optional
        Default: FedAvg (the non-robust reference), median, trimmed mean (``beta`` covering
        the attacked share), Krum, Multi-Krum and Bulyan with ``f`` Byzantine domains
        tolerated.
    f : int, optional
        ``f`` of the default Krum, Multi-Krum and Bulyan; default ``len(attacked)``, their
        guarantee. A smaller ``f`` lets them run on fewer domains (Krum needs
        ``n >= 2f + 3``) without that guarantee.
    attacks : dict of str to Attack, optional
        Default :data:`ATTACKS`. The column ``"none"`` (no attack) is always first.
    rounds, local_epochs, seed, progress
        As in :func:`~meshkit._federation.rounds.run_federated` (``progress`` adds a
        ``tqdm.auto`` bar over the rules).

    Returns
    -------
    polars.DataFrame
        One row per rule (``rule``), one column per attack holding the final weighted
        ``metric``; a rule that cannot run on this many domains (e.g. Bulyan needs
        ``n >= 4f + 3``) holds null, and the ``note`` column says why.
    """
    import polars as pl

    attacked = list(attacked)
    unknown = [a for a in attacked if a not in datasets]
    if unknown or not attacked:
        raise FederationError("attacked domains must be domains of the mesh", where="attacked",
                              expected=f"a non-empty subset of {', '.join(datasets)}",
                              found=repr(unknown or attacked))
    f = len(attacked) if f is None else f
    n = len(datasets)
    if rules is None:
        rules = {"fedavg": FedAvg(), "median": FedMedian(),
                 "trimmed_mean": FedTrimmedAvg(beta=min(0.49, (len(attacked) + 0.5) / n)),
                 "krum": Krum(f=f), "multikrum": MultiKrum(f=f), "bulyan": Bulyan(f=f)}
    attacks = dict(ATTACKS if attacks is None else attacks)
    from tqdm.auto import tqdm

    rows = []
    for rule_name, rule in tqdm(rules.items(), desc="rules", total=len(rules), disable=not progress):
        row, notes = {"rule": rule_name, "strategy": repr(rule)}, []
        for attack_name, attack in [("none", None), *attacks.items()]:
            try:
                history = run_federated(model, datasets, clone(rule), rounds=rounds,
                                        local_epochs=local_epochs, seed=seed, progress=progress,
                                        attack=attack, attacked=attacked if attack is not None else ())
                row[attack_name] = float(history.final[metric])
            except FederationError as exc:
                row[attack_name] = None
                if exc.message not in notes:
                    notes.append(exc.message)
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pl.DataFrame(rows)
