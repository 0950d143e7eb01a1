"""Secure aggregation: the server learns the sum of the domains' updates, not the updates.

* :mod:`.encoding` -- fixed-point encoding in the ring Z_2^k and its quantization bound;
* :mod:`.crypto` -- X25519 agreement, the ChaCha20 PRG, AEAD-encrypted shares, Shamir sharing;
* :mod:`.graph` -- the SecAgg+ neighbour graph (``O(log n)`` neighbours per domain);
* :mod:`.messages` and :mod:`.protocol` -- the two parties as explicit message steps, and
  :func:`secure_sum`, one round in this process;
* :mod:`.strategy` -- :class:`SecureAggregation`, the wrapper strategy used by
  :func:`meshkit.aggregate` (``secure=True``) and the round loop.
"""

from meshkit._federation.secagg.encoding import FixedPoint
from meshkit._federation.secagg.graph import default_degree, neighbour_graph
from meshkit._federation.secagg.protocol import SecAggDomain, SecAggResult, SecAggServer, secure_sum
from meshkit._federation.secagg.strategy import SecureAggregation

__all__ = ["SecureAggregation", "FixedPoint", "SecAggDomain", "SecAggServer", "SecAggResult", "secure_sum",
           "neighbour_graph", "default_degree"]
