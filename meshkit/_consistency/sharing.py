"""What a domain's profiles may reveal: its sharing policy, applied when a profile is built.

A profile is itself data leaving its domain. :class:`SharingPolicy` says what it may hold:

- ``min_count``: every released count of a category (or of a numeric value, for columns of
  at most 5 values) is at least this; rarer ones are folded into one ``"(other)"`` count, or
  suppressed (``small="suppress"``), and a fold still below the minimum is suppressed too;
- ``clip``: numeric values are clipped to these quantiles of the column before sketching, so
  the profile holds no exact minimum or maximum (the KLL sketch keeps its extreme values
  exactly otherwise);
- ``epsilon``: differential privacy on the counts (row count, null counts, category and value
  counts): two-sided geometric (discrete Laplace) noise drawn from the OS's CSPRNG
  (``secrets.SystemRandom``), the budget split evenly over the released counting queries (one
  row changes each by at most 1); ``spent`` records the ε of every profile released under the
  policy. What no count can protect (the KLL sketches, the moments, the key sketch) is withheld
  in this mode: numeric columns of many values and the keys layer are not compared.

The error each policy adds is stated in the released profile (``Profile.policy_errors``) and
carried into every report made from it.

Examples
--------
>>> import polars as pl
>>> from meshkit._consistency.sketches import profile
>>> d = pl.DataFrame({"id": range(100), "c": ["a"] * 95 + ["b"] * 5})
>>> p = profile(d, "id", policy=SharingPolicy(min_count=10, clip=None))
>>> p.categorical["c"].rows()
[('a', 95)]
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from meshkit._errors import ConsistencyError

__all__ = ["SharingPolicy", "OTHER"]

#: the category that holds the folded rare categories.
OTHER = "(other)"


@dataclass
class SharingPolicy:
    """A domain's rules for what its profiles reveal.

    Parameters
    ----------
    min_count : int
        Smallest count released per category or value (default 10).
    small : {"fold", "suppress"}
        What becomes of rarer ones.
    clip : (float, float) or None
        Quantiles numeric values are clipped to (default 1 % and 99 %); None keeps the exact
        extremes.
    epsilon : float or None
        Differential privacy budget per released profile; None: no noise.
    """

    min_count: int = 10
    small: str = "fold"
    clip: tuple[float, float] | None = (0.01, 0.99)
    epsilon: float | None = None
    spent: list = field(default_factory=list)

    def __post_init__(self):
        if not (isinstance(self.min_count, int) and self.min_count >= 1):
            raise ConsistencyError("bad minimum count", where="SharingPolicy.min_count",
                                   expected="an integer >= 1", found=repr(self.min_count))
        if self.small not in ("fold", "suppress"):
            raise ConsistencyError("bad rare-category rule", where="SharingPolicy.small",
                                   expected="'fold' or 'suppress'", found=repr(self.small))
        if self.clip is not None:
            lo, hi = self.clip
            if not 0 <= lo < hi <= 1:
                raise ConsistencyError("bad clipping quantiles", where="SharingPolicy.clip",
                                       expected="0 <= low < high <= 1", found=repr(self.clip))
        if self.epsilon is not None and not (np.isfinite(self.epsilon) and self.epsilon > 0):
            raise ConsistencyError("bad privacy budget", where="SharingPolicy.epsilon",
                                   expected="a finite number > 0", found=repr(self.epsilon))

    @property
    def epsilon_spent(self) -> float:
        """Total ε of the profiles released under this policy (basic composition)."""
        return float(sum(self.spent))


def geometric_noise(size: int, epsilon: float) -> np.ndarray:
    """Two-sided geometric noise, ``P(k) ∝ exp(-epsilon |k|)``, from the OS's CSPRNG.

    The difference of two geometric variables of ratio ``q = exp(-epsilon)``, each drawn by
    inversion from uniforms of ``secrets.SystemRandom`` (``os.urandom``); never seeded.
    """
    rng = secrets.SystemRandom()
    log_q = -float(epsilon)

    def geometric() -> int:
        return int(math.floor(math.log(1.0 - rng.random()) / log_q))

    return np.array([geometric() - geometric() for _ in range(size)], dtype=np.int64)


def noise_bound(epsilon: float, confidence: float = 0.95) -> int:
    """The ``t`` with ``P(|noise| <= t) >= confidence`` for :func:`geometric_noise`.

    ``P(|X| > t) = 2 q^(t + 1) / (1 + q)`` with ``q = exp(-epsilon)``.

    Examples
    --------
    >>> noise_bound(1.0)
    3
    """
    q = math.exp(-epsilon)
    t = math.log((1 - confidence) * (1 + q) / 2) / math.log(q) - 1
    return max(0, math.ceil(t - 1e-12))


def limit_counts(counts: pl.DataFrame, policy: SharingPolicy) -> tuple[pl.DataFrame, int, int]:
    """Fold or suppress the counts below ``min_count``; returns ``(counts, folded, dropped)``.

    ``counts`` has columns ``value`` and ``n``; ``folded`` is the number of categories folded
    into :data:`OTHER`, ``dropped`` the rows no released count holds.
    """
    small = counts.filter(pl.col("n") < policy.min_count)
    kept = counts.filter(pl.col("n") >= policy.min_count)
    if not small.height:
        return counts, 0, 0
    total = int(small["n"].sum())
    if policy.small == "fold" and total >= policy.min_count:
        other = kept.filter(pl.col("value") == OTHER)
        kept = kept.filter(pl.col("value") != OTHER)
        total += int(other["n"].sum()) if other.height else 0
        row = pl.DataFrame({"value": [OTHER], "n": [total]}, schema=counts.schema)
        return pl.concat([kept, row]).sort("value"), small.height, 0
    return kept, 0, total
