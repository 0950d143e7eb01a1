"""Secure aggregation: the sum within the quantization bound, drop-outs, refused shares and
replays, masks indistinguishable from uniform, the DP composition and the round loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from meshkit import FederationError, IntegrityError, NotEnoughDomainsError
from meshkit import (DPFedAvg, FedAvg, FedMean, LogisticRegression, SecAggDomain, SecAggServer, SecureAggregation,
                     aggregate, from_arrays, run_federated, secure_sum)
from meshkit._federation.secagg import FixedPoint, default_degree, neighbour_graph


def _inputs(n, d, seed=0, scale=10.0):
    rng = np.random.default_rng(seed)
    return {f"d{i:02d}": rng.uniform(-scale, scale, d) for i in range(n)}


def _exact_sum(vectors, scales=None):
    """The correctly rounded sum of fl(scale * x), coordinate by coordinate (math.fsum)."""
    rows = [np.asarray(v, dtype=np.float64) * (1.0 if scales is None else scales[k]) for k, v in vectors.items()]
    return np.array([math.fsum(col) for col in zip(*rows)])


def _assert_within_bound(result, exact):
    bound = result.error_bound + 2.0 ** -52 * np.abs(exact)
    assert (np.abs(result.total - exact) <= bound).all(), np.abs(result.total - exact).max()


# -- the sum, within the stated bound ------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), d=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-3, 1.0, 1e3, 6e4]), ring_bits=st.sampled_from([32, 64]))
def test_secure_sum_equals_the_plain_sum_within_the_bound(n, d, seed, scale, ring_bits):
    x = _inputs(n, d, seed, scale)
    clip = 2.0 ** 16 if ring_bits == 64 else 2.0 ** 17
    r = secure_sum(x, ring_bits=ring_bits, clip_range=clip)
    assert r.encoding.ring_bits == ring_bits and r.survivors == list(x)
    _assert_within_bound(r, _exact_sum(x))
    assert r.error_bound == n * 2.0 ** -(r.encoding.frac_bits + 1)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 6), d=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_secure_fedavg_equals_plain_fedavg_within_the_bound(n, d, seed):
    rng = np.random.default_rng(seed)
    thetas = [[rng.normal(0, 5, (d,)), rng.normal(0, 5, (2, 3))] for _ in range(n)]
    weights = rng.integers(1, 10_000, n).tolist()
    plain = aggregate(thetas, weights)
    strategy = SecureAggregation()
    secure = strategy.aggregate_fit(0, None, list(zip(thetas, weights)))
    report = strategy.reports_[0]
    # the mean is the decoded sum divided by sum(p_i) = 1: the sum's bound, plus float rounding
    for s, p in zip(secure, plain):
        assert s.shape == p.shape
        np.testing.assert_allclose(s, p, rtol=1e-12, atol=report["error_bound"])
    via_option = aggregate(thetas, weights, secure=True)
    for s, p in zip(via_option, plain):
        np.testing.assert_allclose(s, p, rtol=1e-12, atol=report["error_bound"])


def test_secure_mean_ignores_the_weights_like_the_plain_mean():
    thetas = [[np.array([1.0, 2.0])], [np.array([3.0, 6.0])], [np.array([5.0, -2.0])]]
    out = aggregate(thetas, [1, 100, 7], method="mean", secure=True)
    np.testing.assert_allclose(out[0], [3.0, 2.0], atol=1e-12)
    out = SecureAggregation(FedMean()).aggregate_fit(0, None, list(zip(thetas, [1, 100, 7])))
    np.testing.assert_allclose(out[0], [3.0, 2.0], atol=1e-12)


def test_the_sparse_secagg_plus_graph_gives_the_same_sum():
    x = _inputs(30, 50, seed=4)
    r = secure_sum(x)  # default degree: 2 * ceil(log2 30) + 2 = 12
    assert {len(v) for v in r.neighbours.values()} == {default_degree(30)} == {12}
    _assert_within_bound(r, _exact_sum(x))


def test_values_beyond_the_clipping_range_are_clipped_before_encoding():
    x = {"a": np.array([100.0, -100.0, 1.0]), "b": np.array([1.0, 1.0, 1.0])}
    r = secure_sum(x, clip_range=10.0)
    np.testing.assert_allclose(r.total, [11.0, -9.0, 2.0], atol=r.error_bound)


def test_fixed_point_bound_is_checked_against_the_ring():
    with pytest.raises(FederationError, match="wrap around the ring"):
        FixedPoint.for_sum(32, 2.0 ** 10, 1.0, 4, frac_bits=25)
    with pytest.raises(FederationError, match="ring"):
        FixedPoint.for_sum(16, 1.0, 1.0, 4)
    with pytest.raises(FederationError, match="clipping range"):
        FixedPoint.for_sum(64, float("inf"), 1.0, 4)
    fp = FixedPoint.for_sum(32, 8.0, 1.0, 10)
    assert fp.frac_bits == 27 and 8.0 * 2 ** 27 + 10 < 2 ** 31 <= 8.0 * 2 ** 28 + 10


# -- drop-outs -----------------------------------------------------------------------------
def test_up_to_n_minus_t_domains_may_drop_after_sending_their_keys():
    x = _inputs(7, 20, seed=1)
    r0 = secure_sum(x, neighbours=6)
    t = r0.threshold["d00"]
    assert t == math.ceil(2 / 3 * 7) == 5
    dropped = ["d01", "d04"]                      # n - t = 2, after keys and shares
    r = secure_sum(x, neighbours=6, drop={d: "masked" for d in dropped})
    assert r.dropped == dropped and r.survivors == [k for k in x if k not in dropped]
    _assert_within_bound(r, _exact_sum({k: v for k, v in x.items() if k not in dropped}))


def test_domains_that_drop_before_sharing_are_simply_absent():
    x = _inputs(6, 10, seed=2)
    r = secure_sum(x, drop={"d00": "keys", "d03": "shares"})
    assert r.absent == ["d00", "d03"] and r.dropped == []
    _assert_within_bound(r, _exact_sum({k: v for k, v in x.items() if k not in ("d00", "d03")}))


def test_a_domain_silent_at_the_last_step_is_still_in_the_sum():
    x = _inputs(6, 10, seed=3)
    r = secure_sum(x, drop={"d02": "unmask"})
    assert "d02" in r.survivors
    _assert_within_bound(r, _exact_sum(x))


def test_dropouts_on_the_sparse_graph_are_recovered():
    x = _inputs(24, 16, seed=5)
    r = secure_sum(x, neighbours=6, drop={"d03": "masked", "d17": "masked"})
    assert r.dropped == ["d03", "d17"]
    _assert_within_bound(r, _exact_sum({k: v for k, v in x.items() if k not in r.dropped}))


def test_dropping_more_than_n_minus_t_fails_clearly():
    x = _inputs(7, 5, seed=6)
    with pytest.raises(NotEnoughDomainsError, match="too few domains survived") as err:
        secure_sum(x, neighbours=6, drop={d: "masked" for d in ("d00", "d01", "d02")})
    assert "t=5" in str(err.value)
    # the survivors unmask, but too few of them answer the last step
    with pytest.raises(NotEnoughDomainsError, match="too few domains answered to remove the masks") as err:
        secure_sum(x, neighbours=6, drop={d: "unmask" for d in ("d00", "d01", "d02")})
    assert "t=5" in str(err.value)


# -- refused messages ----------------------------------------------------------------------
class _Round:
    """One round driven step by step, so that a test can tamper with a message in between."""

    def __init__(self, x, **kw):
        self.x = x
        self.server = SecAggServer(list(x), len(next(iter(x.values()))), **kw)
        self.domains = {n: SecAggDomain(n) for n in x}
        setups = self.server.setup()
        self.keys = self.server.route_keys([self.domains[n].advertise_keys(setups[n]) for n in x])
        self.bundles = [self.domains[n].share_keys(self.keys[n]) for n in x]
        self.forwarded = self.server.route_shares(self.bundles)

    def finish(self, forwarded=None):
        forwarded = self.forwarded if forwarded is None else forwarded
        masked = [self.domains[n].masked_input(forwarded[n], self.x[n]) for n in self.x]
        requests = self.server.collect_masked(masked)
        return self.server.finish([self.domains[n].unmask(requests[n]) for n in self.x])


def _replace_share(forwarded, recipient, owner, ciphertext):
    from dataclasses import replace

    box = dict(forwarded[recipient].ciphertexts)
    box[owner] = ciphertext
    return {**forwarded, recipient: replace(forwarded[recipient], ciphertexts=box)}


def test_the_step_by_step_round_gives_the_sum():
    x = _inputs(4, 8, seed=7)
    _assert_within_bound(_Round(x).finish(), _exact_sum(x))


def test_a_tampered_share_is_refused():
    x = _inputs(4, 8, seed=8)
    rnd = _Round(x)
    good = rnd.forwarded["d02"].ciphertexts["d01"]
    bad = good[:20] + bytes([good[20] ^ 1]) + good[21:]
    with pytest.raises(IntegrityError, match="failed authentication") as err:
        rnd.finish(_replace_share(rnd.forwarded, "d02", "d01", bad))
    assert "'d01' to 'd02'" in str(err.value)


def test_a_share_replayed_from_another_round_is_refused():
    x = _inputs(4, 8, seed=9)
    old, new = _Round(x), _Round(x)
    stale = old.forwarded["d02"].ciphertexts["d01"]
    with pytest.raises(IntegrityError, match="failed authentication"):
        new.finish(_replace_share(new.forwarded, "d02", "d01", stale))


def test_a_share_moved_to_another_recipient_is_refused():
    x = _inputs(4, 8, seed=10)
    rnd = _Round(x)
    # d01's share for d03, handed to d02 as if d01 had made it for d02
    moved = rnd.forwarded["d03"].ciphertexts["d01"]
    with pytest.raises(IntegrityError, match="failed authentication"):
        rnd.finish(_replace_share(rnd.forwarded, "d02", "d01", moved))


def test_messages_from_another_round_are_refused():
    x = _inputs(4, 8, seed=11)
    old, new = _Round(x), _Round(x)
    with pytest.raises(IntegrityError, match="another round"):
        new.domains["d00"].masked_input(old.forwarded["d00"], x["d00"])
    with pytest.raises(IntegrityError, match="another round"):
        new.server.route_shares(old.bundles)
    masked = [old.domains[n].masked_input(old.forwarded[n], x[n]) for n in x]
    with pytest.raises(IntegrityError, match="another round"):
        new.server.collect_masked(masked)


def test_a_domain_never_reveals_both_secrets_of_one_domain():
    from meshkit._federation.secagg.messages import UnmaskRequest

    x = _inputs(4, 8, seed=12)
    rnd = _Round(x)
    for n in x:
        rnd.domains[n].masked_input(rnd.forwarded[n], x[n])
    greedy = UnmaskRequest(rnd.server.round_id, "d00", ("d00", "d01", "d02", "d03"), ("d01",))
    with pytest.raises(IntegrityError, match="both secrets"):
        rnd.domains["d00"].unmask(greedy)


# -- the masked vector looks uniform ---------------------------------------------------------
ALPHA = 1e-4   # fixed significance; 2**18 values per test keep the tests' power high


@pytest.mark.parametrize("ring_bits", [32, 64])
def test_a_masked_input_is_indistinguishable_from_uniform(ring_bits):
    d = 2 ** 18
    # a very structured input: a constant (its encoding alone is far from uniform)
    x = {"a": np.full(d, 0.5), "b": np.zeros(d), "c": np.ones(d)}
    server = SecAggServer(list(x), d, ring_bits=ring_bits, clip_range=4.0)
    domains = {n: SecAggDomain(n) for n in x}
    setups = server.setup()
    keys = server.route_keys([domains[n].advertise_keys(setups[n]) for n in x])
    forwarded = server.route_shares([domains[n].share_keys(keys[n]) for n in x])
    y = np.asarray(domains["a"].masked_input(forwarded["a"], x["a"]).masked)
    top8 = (y >> np.array(ring_bits - 8, dtype=y.dtype)).astype(np.int64)
    counts = np.bincount(top8, minlength=256)
    assert stats.chisquare(counts).pvalue > ALPHA
    u = (y >> np.array(ring_bits - 32, dtype=y.dtype)).astype(np.float64) / 2.0 ** 32
    assert stats.kstest(u, "uniform").pvalue > ALPHA
    # the same tests reject the unmasked encoding: they have the power to see structure
    plain = FixedPoint(ring_bits, setups["a"].frac_bits, 4.0).encode(x["a"] * setups["a"].scale)
    assert stats.chisquare(np.bincount((plain >> np.array(ring_bits - 8, dtype=plain.dtype)).astype(np.int64),
                                       minlength=256)).pvalue < ALPHA


def test_the_prg_is_the_chacha20_keystream_of_rfc_8439():
    from meshkit._federation.secagg.crypto import prg

    # RFC 8439, appendix A.1, test vector #1: all-zero key and nonce, block counter 0
    block = bytes.fromhex("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                          "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
    assert prg(bytes(32), 8, np.uint64).tolist() == np.frombuffer(block, dtype="<u8").tolist()
    assert prg(bytes(32), 16, np.uint32).tolist() == np.frombuffer(block, dtype="<u4").tolist()


# -- the neighbour graph ---------------------------------------------------------------------
def test_the_neighbour_graph_is_regular_symmetric_and_fresh_each_round():
    names = [f"d{i:03d}" for i in range(100)]
    g = neighbour_graph(names)
    assert {len(v) for v in g.values()} == {16}           # 2 * ceil(log2 100) + 2: O(log n)
    assert all(a in g[b] for a in g for b in g[a]) and all(a not in g[a] for a in g)
    assert neighbour_graph(names) != g                   # a fresh CSPRNG seed per round
    assert neighbour_graph(names, seed=b"x" * 16) == neighbour_graph(names, seed=b"x" * 16)
    assert neighbour_graph(names[:5], 8) == {a: [b for b in names[:5] if b != a] for a in names[:5]}
    with pytest.raises(FederationError, match="at least two domains"):
        neighbour_graph(names[:1])


# -- options, refusals, DP, the round loop ----------------------------------------------------
def test_robust_rules_and_bad_options_are_refused():
    thetas = [[np.ones(3)], [np.zeros(3)], [np.full(3, 2.0)]]
    with pytest.raises(FederationError, match="only the sum"):
        aggregate(thetas, method="median", secure=True)
    with pytest.raises(FederationError, match="secure option"):
        aggregate(thetas, secure="yes")
    with pytest.raises(FederationError, match="at least two domains"):
        SecureAggregation().aggregate_fit(1, None, [([np.ones(3)], 1)])
    with pytest.raises(FederationError, match="threshold"):
        secure_sum({"a": np.ones(2), "b": np.ones(2)}, threshold=0.5)
    with pytest.raises(FederationError, match="non-finite"):
        secure_sum({"a": np.array([np.nan]), "b": np.ones(1)})
    with pytest.raises(FederationError, match="drop-out"):
        secure_sum({"a": np.ones(2), "b": np.ones(2)}, drop={"a": "later"})


def test_secure_aggregation_options_are_taken_from_an_instance():
    thetas = [[np.array([0.25, -1.5])], [np.array([1.0, 2.0])]]
    out = aggregate(thetas, [1, 1], secure=SecureAggregation(ring_bits=32, clip_range=4.0))
    np.testing.assert_allclose(out[0], [0.625, 0.25], atol=1e-6)


def _dp(**kw):
    """DPFedAvg with the expected number of sampled domains when the class asks for it."""
    if "num_sampled" in DPFedAvg._param_names():
        kw.setdefault("num_sampled", kw.pop("_m"))
    else:
        kw.pop("_m")
    return DPFedAvg(**kw)


@pytest.mark.parametrize("noise_multiplier", [0.0, 1.0])
def test_dp_noise_is_added_by_the_server_after_unmasking(noise_multiplier):
    rng = np.random.default_rng(13)
    current = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    # one huge update: clipped by its domain before masking, as the DP wrapper would
    results = [([c + rng.normal(0, s, c.shape) for c in current], 10) for s in (0.01, 0.3, 100.0, 0.5)]
    plain = _dp(noise_multiplier=noise_multiplier, clip_norm=1.0, seed=5, _m=4)
    inner = _dp(noise_multiplier=noise_multiplier, clip_norm=1.0, seed=5, _m=4)
    expected = plain.aggregate_fit(3, current, results)
    secure = SecureAggregation(inner)
    got = secure.aggregate_fit(3, current, results)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-9)
    assert inner.rounds_ == 1                       # the DP wrapper accounted the round
    assert secure.reports_[0]["clip_range"] == 1.0  # the encoding's range is the clip norm
    assert secure.epsilon_ == getattr(inner, "epsilon_", None)


def test_dp_under_secure_aggregation_needs_the_current_model():
    with pytest.raises(FederationError, match="current"):
        SecureAggregation(_dp(clip_norm=1.0, seed=1, _m=2)).aggregate_fit(1, None, [([np.ones(2)], 1)] * 2)


def test_the_round_loop_with_secure_aggregation_matches_the_plain_loop():
    rng = np.random.default_rng(0)
    parts = [(X, (X[:, 0] - X[:, 1] > 0).astype(int)) for X in rng.normal(size=(4, 60, 3))]
    data = from_arrays(parts, names=[f"d{k}" for k in range(4)], seed=0)
    plain = run_federated(LogisticRegression(lr=0.3), data, rounds=3, progress=False, seed=2)
    secure = SecureAggregation(FedAvg())
    h = run_federated(LogisticRegression(lr=0.3), data, rounds=3, progress=False, seed=2, secure=secure)
    for a, b in zip(h.parameters, plain.parameters):
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert "SecureAggregation" in h.strategy
    h2 = run_federated(LogisticRegression(lr=0.3), data, rounds=2, progress=False, seed=2, secure=True)
    assert "SecureAggregation(strategy=FedAvg()" in h2.strategy
    with pytest.raises(FederationError, match="secure option"):
        run_federated(LogisticRegression(lr=0.3), data, rounds=1, progress=False, secure=1)
