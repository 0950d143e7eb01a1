"""Secure aggregation (Bonawitz et al. 2017) on the sparse graph of SecAgg+ (Bell et al. 2020).

The aggregator learns the sum of the domains' inputs and nothing else about any one of them
(honest-but-curious server and domains; see "What it does not do" below). Each domain ``i``
sends ``y_i = x_i + PRG(b_i) + sum_{j in N(i)} ±PRG(s_ij) mod 2^k`` where ``x_i`` is its
fixed-point encoded input (:mod:`.encoding`), ``b_i`` a fresh self-mask seed, ``s_ij`` the
key it agrees with neighbour ``j`` by X25519 (``+`` when ``i < j``, ``-`` otherwise, so the
pair's masks cancel in the sum). Before masking, ``i`` splits ``b_i`` and the 16-byte seed
of its mask private key into ``t``-of-``h`` Shamir shares for its ``h`` holders (its neighbours and itself) and
sends them encrypted and authenticated under pairwise keys. When the inputs are in, each
surviving domain hands the server the shares of the survivors' ``b`` and of the dropped
domains' mask keys -- never both for one domain -- and the server removes the self masks
and the dangling pairwise masks. A round completes as long as, for every domain whose
secret is needed, ``t`` of its holders answer the last step: with the complete graph
(``neighbours >= n - 1``), up to ``n - t`` domains may drop out after sending their keys.
On the SecAgg+ graph each domain has ``k = O(log n)`` neighbours, so a round costs
``O(n log n)`` mask expansions and shares instead of ``O(n^2)``; the drop-outs it tolerates
are then counted per neighbourhood (``t`` of each needed domain's ``k + 1`` holders).

:class:`SecAggDomain` and :class:`SecAggServer` are the two parties as explicit message
steps (:mod:`.messages`), so that any transport can carry them; :func:`secure_sum` runs
them in one process, with simulated drop-outs for tests.

What it does not do (Bonawitz et al.'s semi-honest variant): no signatures on the
advertised keys (a malicious server could stand in the middle of the key exchange) and no
consistency-check round; the masked inputs themselves are not authenticated (a stale
masked vector carries its round id and is refused, but one with a forged round id would
only make the sum wrong, it would not reveal anything).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field

import numpy as np

from meshkit._errors import FederationError, IntegrityError, NotEnoughDomainsError
from meshkit._federation.secagg import crypto
from meshkit._federation.secagg.encoding import FixedPoint
from meshkit._federation.secagg.graph import neighbour_graph
from meshkit._federation.secagg.messages import (ForwardedShares, KeyAdvert, MaskedInput, NeighbourKeys, Setup,
                                                ShareBundle, UnmaskRequest, UnmaskShares)

__all__ = ["SecAggDomain", "SecAggServer", "SecAggResult", "secure_sum", "STAGES"]

#: the steps a domain answers, in order (a drop-out "at" a stage sends nothing from it on)
STAGES = ("keys", "shares", "masked", "unmask")

_MASK, _SHARE, _SELF = b"pairwise mask", b"share encryption", b"self mask"


def _check_round(message, round_id: bytes, where: str) -> None:
    if message.round_id != round_id:
        raise IntegrityError("a message from another round was refused", where=where,
                             expected=f"round id {round_id.hex()}", found=f"round id {message.round_id.hex()}")


def _holders(name: str, neighbours) -> list[str]:
    """A domain's share holders in share-index order: its neighbours and itself, sorted."""
    return sorted({*neighbours, name})


class SecAggDomain:
    """One domain's side of the protocol; it never reveals its input or its secrets.

    Examples
    --------
    >>> result = secure_sum({"a": np.array([1.0, 2.0]), "b": np.array([0.5, -1.0]), "c": np.zeros(2)})
    >>> result.total
    array([1.5, 1. ])
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _check(self, message, step: str) -> None:
        recipient = getattr(message, "recipient", self.name)
        if recipient != self.name:
            raise IntegrityError("a message for another domain was refused", where=f"domain {self.name!r}, {step}",
                                 expected=self.name, found=recipient)
        _check_round(message, self.setup_.round_id, f"domain {self.name!r}, {step}")

    # step 1 ------------------------------------------------------------------------------
    def advertise_keys(self, setup: Setup) -> KeyAdvert:
        """Take the round's parameters; answer with two fresh X25519 public keys."""
        if setup.recipient != self.name:
            raise IntegrityError("a set-up for another domain was refused", where=f"domain {self.name!r}",
                                 expected=self.name, found=setup.recipient)
        self.setup_ = setup
        self.encoding_ = FixedPoint(setup.ring_bits, setup.frac_bits, setup.clip_range)
        self._mask_seed = os.urandom(16)
        self._mask_key = crypto.mask_key_from_seed(self._mask_seed)
        self._share_pair = crypto.KeyPair()
        return KeyAdvert(setup.round_id, self.name, crypto.KeyPair.public_of(self._mask_key), self._share_pair.public)

    # step 2 ------------------------------------------------------------------------------
    def share_keys(self, message: NeighbourKeys) -> ShareBundle:
        """Split the self-mask seed and the mask key among the holders; encrypt each share for its holder."""
        self._check(message, "share keys")
        keys = {j: k for j, k in message.keys.items() if j in self.setup_.neighbours}
        holders = _holders(self.name, keys)
        if len(holders) < self.setup_.threshold:
            raise NotEnoughDomainsError("too few neighbours advertised keys to share secrets",
                                        where=f"domain {self.name!r}, round {self.setup_.server_round}",
                                        expected=f"at least {self.setup_.threshold} holders",
                                        found=f"{len(holders)}")
        self._neighbour_keys = keys
        self._seed = os.urandom(16)
        seed_shares = crypto.split_secret(self._seed, self.setup_.threshold, len(holders))
        key_shares = crypto.split_secret(self._mask_seed, self.setup_.threshold, len(holders))
        ciphertexts, rid = {}, self.setup_.round_id
        for index, holder in enumerate(holders):
            plaintext = struct.pack(">H", index) + seed_shares[index] + key_shares[index]
            if holder == self.name:
                self._own_share = plaintext
                continue
            key = crypto.agree(self._share_pair.private, keys[holder][1], _SHARE, rid)
            ciphertexts[holder] = crypto.encrypt_share(key, rid, self.name, holder, plaintext)
        return ShareBundle(rid, self.name, ciphertexts)

    # step 3 ------------------------------------------------------------------------------
    def masked_input(self, message: ForwardedShares, x: np.ndarray) -> MaskedInput:
        """Encode ``scale * x`` and add the self mask and one pairwise mask per neighbour that shared."""
        self._check(message, "masked input")
        setup = self.setup_
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.size != setup.size:
            raise FederationError("input size differs from the round's", where=f"domain {self.name!r}",
                                  expected=f"{setup.size} values", found=f"{x.size}")
        if not np.isfinite(x).all():
            raise FederationError("non-finite input cannot be encoded", where=f"domain {self.name!r}",
                                  expected="finite values", found="NaN or infinity")
        self._received = {j: c for j, c in message.ciphertexts.items() if j in self._neighbour_keys}
        dtype = self.encoding_.dtype
        y = self.encoding_.encode(x * setup.scale)
        y += crypto.prg(crypto.derive_key(self._seed, _SELF, setup.round_id), setup.size, dtype)
        for j in self._received:
            mask = crypto.prg(crypto.agree(self._mask_key, self._neighbour_keys[j][0], _MASK,
                                           setup.round_id), setup.size, dtype)
            if self.name < j:
                y += mask
            else:
                y -= mask
        return MaskedInput(setup.round_id, self.name, y)

    # step 4 ------------------------------------------------------------------------------
    def unmask(self, message: UnmaskRequest) -> UnmaskShares:
        """Hand over the shares the server needs: self-mask seeds of survivors, mask keys of the dropped.

        Refuses (:class:`IntegrityError`) to reveal both secrets of one domain, and
        (:class:`NotEnoughDomainsError`) to answer when fewer than ``t`` of its own holders
        survived; refuses any share that fails authentication.
        """
        self._check(message, "unmask")
        survivors, dropped = set(message.survivors), set(message.dropped)
        both = sorted(survivors & dropped)
        if both:
            raise IntegrityError("asked for both secrets of a domain", where=f"domain {self.name!r}, unmask",
                                 expected="each domain either survived or dropped", found=both[0])
        alive = [h for h in _holders(self.name, self._neighbour_keys) if h in survivors]
        if len(alive) < self.setup_.threshold:
            raise NotEnoughDomainsError("too few domains survived to unmask safely",
                                        where=f"domain {self.name!r}, round {self.setup_.server_round}",
                                        expected=f"at least t={self.setup_.threshold} surviving holders",
                                        found=f"{len(alive)}")
        seed_shares, key_shares = {}, {}
        owners = {**self._received, self.name: None}
        for owner, ciphertext in owners.items():
            if owner not in survivors and owner not in dropped:
                continue
            if ciphertext is None:
                plaintext = self._own_share
            else:
                key = crypto.agree(self._share_pair.private, self._neighbour_keys[owner][1], _SHARE,
                                   self.setup_.round_id)
                plaintext = crypto.decrypt_share(key, self.setup_.round_id, owner, self.name, ciphertext)
            index = struct.unpack(">H", plaintext[:2])[0]
            if owner in survivors:
                seed_shares[owner] = (index, plaintext[2:18])
            else:
                key_shares[owner] = (index, plaintext[18:34])
        return UnmaskShares(self.setup_.round_id, self.name, seed_shares, key_shares)


@dataclass
class SecAggResult:
    """What the server learns from one round: the sum, and who took part.

    Attributes
    ----------
    total : ndarray
        ``sum_{i in survivors} scale_i * clip(x_i)``, decoded (float64).
    scale_sum : float
        ``sum_{i in survivors} scale_i`` (public: the scales are the server's).
    survivors : list of str
        Domains whose input is in the sum.
    dropped : list of str
        Domains that dropped out after sharing their keys (their masks were removed).
    absent : list of str
        Domains that never finished sharing keys (not in the sum, nothing to remove).
    error_bound : float
        Largest per-coordinate difference between ``total`` and the exact sum of the
        clipped, scaled inputs: ``len(survivors) * 2**-(frac_bits + 1)``.
    encoding : FixedPoint
    neighbours : dict of str to list of str
    threshold : dict of str to int
        ``t`` per domain (``ceil(threshold * holders)``).
    """

    total: np.ndarray
    scale_sum: float
    survivors: list
    dropped: list
    absent: list
    error_bound: float
    encoding: FixedPoint
    neighbours: dict = field(repr=False)
    threshold: dict = field(repr=False)

    def to_dict(self) -> dict:
        """A JSON-friendly summary (no values of the sum)."""
        return {"survivors": list(self.survivors), "dropped": list(self.dropped), "absent": list(self.absent),
                "error_bound": self.error_bound, "ring_bits": self.encoding.ring_bits,
                "frac_bits": self.encoding.frac_bits, "clip_range": self.encoding.clip_range,
                "degree": max(len(v) for v in self.neighbours.values()),
                "threshold": max(self.threshold.values())}


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not 0.5 < threshold <= 1:
        raise FederationError("bad reconstruction threshold", where="threshold",
                              expected="a fraction of each domain's share holders in (0.5, 1]",
                              found=repr(threshold))
    return float(threshold)


class SecAggServer:
    """The aggregator's side: routes keys and ciphertexts, sums masked inputs, removes masks.

    Parameters
    ----------
    names : list of str
        The domains taking part (at least two).
    size : int
        Length of each domain's input vector.
    scales : dict of str to float, optional
        ``scale_i``, each domain's input is multiplied by it before encoding (FedAvg's
        normalised weight); default 1. Public: the server chooses them.
    neighbours : int or None
        Degree of the SecAgg+ graph (:func:`~.graph.neighbour_graph`); ``None`` for
        ``O(log n)``, ``n - 1`` or more for Bonawitz et al.'s complete graph.
    threshold : float, default 2/3
        Fraction of a domain's holders (its neighbours and itself) whose shares recover its
        secrets: ``t = ceil(threshold * holders)``. Must exceed 1/2.
    ring_bits, frac_bits, clip_range
        The fixed-point encoding (:meth:`~.encoding.FixedPoint.for_sum`).
    server_round : int
    graph_seed : bytes, optional
        Seed of the neighbour ordering; default 16 bytes from ``os.urandom``.
    """

    def __init__(self, names, size: int, *, scales=None, neighbours=None, threshold: float = 2 / 3,
                 ring_bits: int = 64, frac_bits: int | None = None, clip_range: float = 2.0 ** 16,
                 server_round: int = 0, graph_seed: bytes | None = None) -> None:
        self.names = [str(n) for n in names]
        if len(set(self.names)) != len(self.names):
            raise FederationError("domain names must be distinct", where="names", expected="distinct names",
                                  found=", ".join(self.names))
        threshold = _check_threshold(threshold)
        self.scales = {n: 1.0 for n in self.names} if scales is None else {n: float(scales[n]) for n in self.names}
        if not all(math.isfinite(s) and s > 0 for s in self.scales.values()):
            raise FederationError("bad input scale", where="scales", expected="finite numbers > 0",
                                  found=repr(self.scales))
        self.size = int(size)
        self.server_round = int(server_round)
        self.round_id = os.urandom(16)
        self.graph = neighbour_graph(self.names, neighbours, graph_seed)
        self.encoding = FixedPoint.for_sum(ring_bits, clip_range, sum(self.scales.values()), len(self.names),
                                           frac_bits)
        self.thresholds = {n: max(1, math.ceil(threshold * (len(v) + 1))) for n, v in self.graph.items()}

    def _accept(self, messages, step: str, allowed) -> dict:
        out = {}
        for m in messages:
            _check_round(m, self.round_id, f"server, {step}")
            if m.sender not in allowed or m.sender in out:
                raise IntegrityError("an unexpected or repeated sender was refused", where=f"server, {step}",
                                     expected="one message from each domain still in the round", found=m.sender)
            out[m.sender] = m
        return out

    # step 0 ------------------------------------------------------------------------------
    def setup(self) -> dict[str, Setup]:
        """One set-up message per domain."""
        e = self.encoding
        return {n: Setup(self.round_id, self.server_round, n, tuple(self.graph[n]), self.thresholds[n], self.size,
                         self.scales[n], e.ring_bits, e.frac_bits, e.clip_range) for n in self.names}

    # step 1' -----------------------------------------------------------------------------
    def route_keys(self, adverts) -> dict[str, NeighbourKeys]:
        """Collect the public keys; send each advertiser its neighbours' keys."""
        self.adverts_ = self._accept(adverts, "keys", self.names)
        keys = {n: (m.mask_key, m.share_key) for n, m in self.adverts_.items()}
        return {n: NeighbourKeys(self.round_id, n, {j: keys[j] for j in self.graph[n] if j in keys})
                for n in self.adverts_}

    # step 2' -----------------------------------------------------------------------------
    def route_shares(self, bundles) -> dict[str, ForwardedShares]:
        """Collect the encrypted shares; forward to each sharer the ciphertexts addressed to it."""
        self.shared_ = self._accept(bundles, "shares", self.adverts_)
        inbox = {n: {} for n in self.shared_}
        for sender, bundle in self.shared_.items():
            for recipient, ciphertext in bundle.ciphertexts.items():
                if recipient in inbox:
                    inbox[recipient][sender] = ciphertext
        return {n: ForwardedShares(self.round_id, n, box) for n, box in inbox.items()}

    # step 3' -----------------------------------------------------------------------------
    def collect_masked(self, inputs) -> dict[str, UnmaskRequest]:
        """Sum the masked inputs; ask the survivors for the shares that remove the masks."""
        masked = self._accept(inputs, "masked input", self.shared_)
        dtype = self.encoding.dtype
        total = np.zeros(self.size, dtype=dtype)
        for sender, m in masked.items():
            y = np.asarray(m.masked)
            if y.dtype != dtype or y.shape != (self.size,):
                raise FederationError("a masked input of the wrong type or size", where=f"domain {sender!r}",
                                      expected=f"{self.size} values of {np.dtype(dtype).name}",
                                      found=f"{y.shape} of {y.dtype}")
            total += y
        self.total_ = total
        self.survivors_ = [n for n in self.names if n in masked]
        self.dropped_ = [n for n in self.names if n in self.shared_ and n not in masked]
        return {n: UnmaskRequest(self.round_id, n, tuple(self.survivors_), tuple(self.dropped_))
                for n in self.survivors_}

    # step 4' -----------------------------------------------------------------------------
    def finish(self, responses) -> SecAggResult:
        """Reconstruct the secrets, remove every mask, decode the sum.

        Raises
        ------
        NotEnoughDomainsError
            Fewer than ``t`` holders answered for a domain whose secret is needed.
        IntegrityError
            A reconstructed mask key does not match the public key its owner advertised.
        """
        answers = self._accept(responses, "unmask", self.survivors_)
        if not self.survivors_:
            raise NotEnoughDomainsError("no domain's input arrived", where=f"round {self.server_round}",
                                        expected="at least one masked input", found="0")
        dtype, rid = self.encoding.dtype, self.round_id
        total = self.total_.copy()

        def recover(owner: str, kind: str) -> bytes:
            shares = {}
            for a in answers.values():
                got = (a.seed_shares if kind == "seed" else a.key_shares).get(owner)
                if got is not None:
                    shares[got[0]] = got[1]
            t = self.thresholds[owner]
            if len(shares) < t:
                what = "self-mask seed" if kind == "seed" else "mask key"
                raise NotEnoughDomainsError(
                    f"round {self.server_round}: too few domains answered to remove the masks",
                    where=f"the {what} of domain {owner!r}",
                    expected=f"shares from at least t={t} of its holders",
                    found=f"{len(shares)}; survivors {len(self.survivors_)} of {len(self.names)}, "
                          f"dropped after sharing keys: {', '.join(self.dropped_) or 'none'}")
            return crypto.combine_secret(dict(list(shares.items())[:t]))

        for owner in self.survivors_:
            seed = recover(owner, "seed")
            total -= crypto.prg(crypto.derive_key(seed, _SELF, rid), self.size, dtype)
        for owner in self.dropped_:
            private = crypto.mask_key_from_seed(recover(owner, "key"))
            if crypto.KeyPair.public_of(private) != self.adverts_[owner].mask_key:
                raise IntegrityError("a reconstructed mask key does not match the advertised one",
                                     where=f"domain {owner!r}", expected="shares of its mask key",
                                     found="shares of something else")
            for j in self.graph[owner]:
                if j in self.survivors_:
                    mask = crypto.prg(crypto.agree(private, self.adverts_[j].mask_key, _MASK, rid), self.size, dtype)
                    if j < owner:   # j added +mask; take it out
                        total -= mask
                    else:
                        total += mask
        return SecAggResult(total=self.encoding.decode(total),
                            scale_sum=float(sum(self.scales[n] for n in self.survivors_)),
                            survivors=list(self.survivors_), dropped=list(self.dropped_),
                            absent=[n for n in self.names if n not in self.shared_],
                            error_bound=self.encoding.error_bound(len(self.survivors_)),
                            encoding=self.encoding, neighbours=self.graph, threshold=dict(self.thresholds))


def secure_sum(inputs, scales=None, *, neighbours=None, threshold: float = 2 / 3, ring_bits: int = 64,
               frac_bits: int | None = None, clip_range: float = 2.0 ** 16, server_round: int = 0,
               drop=None, graph_seed: bytes | None = None) -> SecAggResult:
    """Run one secure-aggregation round in this process and return what the server learns.

    Parameters
    ----------
    inputs : dict of str to ndarray
        Each domain's input vector (same length everywhere).
    scales, neighbours, threshold, ring_bits, frac_bits, clip_range, server_round, graph_seed
        As for :class:`SecAggServer`.
    drop : dict of str to str, optional
        Simulated drop-outs: domain -> the first stage it does not answer, one of
        ``"keys"``, ``"shares"``, ``"masked"`` (dropped *after* sending its keys and shares),
        ``"unmask"`` (its input is in, but it sends no shares).

    Returns
    -------
    SecAggResult

    Raises
    ------
    NotEnoughDomainsError
        More domains dropped out than the threshold allows.

    Examples
    --------
    >>> x = {f"d{i}": np.full(3, float(i)) for i in range(5)}
    >>> r = secure_sum(x, drop={"d4": "masked"})
    >>> r.total, r.survivors, r.dropped
    (array([6., 6., 6.]), ['d0', 'd1', 'd2', 'd3'], ['d4'])
    """
    drop = dict(drop or {})
    bad = {d: s for d, s in drop.items() if d not in inputs or s not in STAGES}
    if bad:
        raise FederationError("bad drop-out simulation", where="drop",
                              expected=f"domain -> one of {', '.join(STAGES)}", found=repr(bad))
    names = list(inputs)
    sizes = {np.asarray(v).size for v in inputs.values()}
    if len(sizes) != 1:
        raise FederationError("inputs of different lengths", where="inputs", expected="one length",
                              found=sorted(sizes))
    server = SecAggServer(names, sizes.pop(), scales=scales, neighbours=neighbours, threshold=threshold,
                          ring_bits=ring_bits, frac_bits=frac_bits, clip_range=clip_range,
                          server_round=server_round, graph_seed=graph_seed)
    domains = {n: SecAggDomain(n) for n in names}

    def answering(stage):
        return [n for n in names if n not in drop or STAGES.index(drop[n]) > STAGES.index(stage)]

    setups = server.setup()
    adverts = [domains[n].advertise_keys(setups[n]) for n in answering("keys")]
    keys = server.route_keys(adverts)
    bundles = [domains[n].share_keys(keys[n]) for n in answering("shares") if n in keys]
    forwarded = server.route_shares(bundles)
    masked = [domains[n].masked_input(forwarded[n], inputs[n]) for n in answering("masked") if n in forwarded]
    requests = server.collect_masked(masked)
    replies = [domains[n].unmask(requests[n]) for n in answering("unmask") if n in requests]
    return server.finish(replies)
