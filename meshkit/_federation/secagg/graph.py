"""The sparse neighbour graph of SecAgg+ (Bell et al. 2020).

Each domain masks with, and shares its secrets among, only its ``k`` neighbours, ``k = O(log n)``,
instead of all ``n - 1`` other domains (Bonawitz et al. 2017), so a round costs
``O(n log n)`` mask expansions instead of ``O(n^2)``. The graph is a Harary graph on a random
ordering of the domains (Bell et al.'s construction): the domains sit on a ring in random
order and each is joined to the ``k / 2`` nearest on either side, which makes every domain's
degree exactly ``k`` (``k`` even; ``k = n - 1`` is the complete graph of Bonawitz et al.).
The ordering is drawn from a fresh 128-bit seed per round (the OS CSPRNG), chosen by the
server and sent to the domains, so nobody can steer who neighbours whom across rounds.
"""

from __future__ import annotations

import math
import os

import numpy as np

from meshkit._errors import FederationError

__all__ = ["default_degree", "neighbour_graph"]


def default_degree(n: int) -> int:
    """``k = 2 * ceil(log2 n) + 2`` (even, O(log n)), or ``n - 1`` when that is smaller.

    Examples
    --------
    >>> default_degree(5), default_degree(10), default_degree(100), default_degree(1000)
    (4, 9, 16, 22)
    """
    return min(n - 1, 2 * math.ceil(math.log2(max(n, 2))) + 2)


def neighbour_graph(names: list[str], degree: int | None = None, seed: bytes | None = None) -> dict[str, list[str]]:
    """Each domain's neighbours: a ``degree``-regular Harary graph on a random ordering.

    Parameters
    ----------
    names : list of str
        The domains (at least two).
    degree : int or None
        ``k``; ``None`` gives :func:`default_degree`; ``n - 1`` or more gives the complete graph.
        An odd ``k < n - 1`` is raised to the next even number.
    seed : bytes or None
        The ordering's seed; ``None`` draws 16 bytes from ``os.urandom``.

    Examples
    --------
    >>> g = neighbour_graph([f"d{i}" for i in range(8)], 4, seed=bytes(16))
    >>> sorted(len(v) for v in g.values()) == [4] * 8, all(a in g[b] for a in g for b in g[a])
    (True, True)
    """
    n = len(names)
    if n < 2:
        raise FederationError("secure aggregation needs at least two domains", where="domains",
                              expected="2 or more", found=str(n))
    if degree is None:
        degree = default_degree(n)
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise FederationError("bad neighbour count", where="neighbours", expected="None or an int >= 1",
                              found=repr(degree))
    if degree >= n - 1:
        return {a: [b for b in names if b != a] for a in names}
    degree += degree % 2
    seed = os.urandom(16) if seed is None else seed
    order = np.random.default_rng(int.from_bytes(seed, "big")).permutation(n)
    ring = [names[i] for i in order]
    position = {name: p for p, name in enumerate(ring)}
    out = {}
    for name in names:
        p = position[name]
        near = {ring[(p + d) % n] for d in range(1, degree // 2 + 1)} | \
               {ring[(p - d) % n] for d in range(1, degree // 2 + 1)}
        out[name] = [b for b in names if b in near]
    return out
