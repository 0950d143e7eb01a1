"""Profiles a domain may share: minimum counts, no exact extremes, differential privacy."""

import numpy as np
import polars as pl
import pytest

from meshkit import ConsistencyError, SharingPolicy, profile, similarity
from meshkit._consistency.sharing import OTHER, geometric_noise, noise_bound


def product(n=5000, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    p = np.array([0.5, 0.3, 0.15, 0.03, 0.015, 0.004, 0.001])
    return pl.DataFrame({
        "id": np.arange(n),
        "x": rng.normal(shift, 1.0, n),
        "few": rng.choice([1.0, 2.0, 3.0, 9.0], n, p=[0.6, 0.3, 0.0995, 0.0005]),
        "segment": rng.choice(list("abcdefg"), n, p=p / p.sum()),
    })


@pytest.mark.parametrize("small", ["fold", "suppress"])
@pytest.mark.parametrize("min_count", [1, 5, 20, 200])
def test_no_released_count_is_below_the_minimum(small, min_count):
    for seed in range(3):
        d = product(3000, seed)
        for epsilon in (None, 0.5):
            policy = SharingPolicy(min_count=min_count, small=small, epsilon=epsilon)
            p = profile(d, "id", policy=policy)
            for counts in p.categorical.values():
                assert counts["n"].min() is None or counts["n"].min() >= min_count
            for few in p.few_values.values():
                assert few is None or min(few.values()) >= min_count
            if small == "suppress":
                assert not any(OTHER in c["value"].to_list() for c in p.categorical.values())
            assert "min_count" in p.policy_errors


def test_rare_categories_fold_into_other_and_the_report_says_so():
    sizes = {"a": 3000, "b": 1500, "c": 400, "d": 30, "e": 25, "f": 20, "g": 5}
    segment = [v for v, n in sizes.items() for _ in range(n)]
    d = product(len(segment), 1).with_columns(pl.Series("segment", segment))
    exact = d["segment"].value_counts()
    rare = exact.filter(pl.col("count") < 50)
    p = profile(d, "id", policy=SharingPolicy(min_count=50))
    released = dict(p.categorical["segment"].rows())
    assert released[OTHER] == rare["count"].sum()
    assert not set(rare["segment"]) & set(released)
    report = similarity(p, profile(product(5000, 2), "id", policy=SharingPolicy(min_count=50)))
    bounds = report.layers["distributions"].error_bounds
    assert any(k.endswith(".min_count") and "folded" in v for k, v in bounds.items())


def test_clipping_hides_the_exact_extremes_and_states_its_error():
    d = product(20_000, 3)
    plain = profile(d, "id")
    clipped = profile(d, "id", policy=SharingPolicy(min_count=1, clip=(0.01, 0.99)))
    sk = clipped.numeric["x"]
    assert sk.get_min_value() > d["x"].min() and sk.get_max_value() < d["x"].max()
    assert sk.get_min_value() == pytest.approx(d["x"].quantile(0.01, "linear"))
    assert plain.numeric["x"].get_max_value() == d["x"].max()
    share, distance = clipped.clip_errors["x"]
    assert share == pytest.approx(0.02, abs=0.002) and distance > 0
    # the stated KS error still bounds the observed one (rank error + share clipped)
    other = product(20_000, 4, shift=0.05)
    exact = similarity(d, other, keys="id").layers["distributions"].evidence
    est = similarity(clipped, profile(other, "id", policy=SharingPolicy(min_count=1)))
    layer = est.layers["distributions"]
    row = layer.evidence.filter(pl.col("column") == "x").row(0, named=True)
    ks = exact.filter(pl.col("column") == "x")["ks_statistic"].item()
    assert abs(row["ks_statistic"] - ks) <= layer.details["ks_error_bound"]["x"]
    assert layer.details["ks_error_bound"]["x"] >= share
    assert any("clipped" in v for v in layer.error_bounds.values())


def test_two_dp_profiles_of_the_same_data_differ_and_epsilon_is_accounted():
    d = product(4000, 5)
    policy = SharingPolicy(epsilon=1.0, min_count=1)
    a = profile(d, "id", policy=policy)
    b = profile(d, "id", policy=policy)
    counts = lambda p: (p.n_rows, sorted(p.nulls.items()),  # noqa: E731
                        [c.rows() for c in p.categorical.values()],
                        sorted(p.few_values["few"].items()))
    assert counts(a) != counts(b)
    assert policy.spent == [1.0, 1.0] and policy.epsilon_spent == 2.0
    assert a.epsilon == 1.0 and a.key_sketch is None and "x" not in a.numeric
    assert "x" in a.withheld and "keys" in a.withheld
    report = similarity(a, b)
    assert "keys" not in report.layers
    layer = report.layers["distributions"]
    assert "x" not in layer.evidence["column"].to_list()
    assert any("withheld" in n and "x" in n for n in layer.notes)
    assert any("ε = 1" in v for v in layer.error_bounds.values())


def test_geometric_noise_is_within_its_stated_bound_mostly():
    noise = geometric_noise(4000, 0.5)
    t = noise_bound(0.5)
    inside = np.mean(np.abs(noise) <= t)
    assert 0.93 <= inside <= 0.99          # the 95% bound, for a two-sided geometric
    assert abs(noise.mean()) < 0.2 and len(set(noise.tolist())) > 5


def test_policies_are_checked_and_released_profiles_do_not_merge():
    for bad in ({"min_count": 0}, {"small": "hide"}, {"clip": (0.9, 0.1)}, {"epsilon": -1.0}):
        with pytest.raises(ConsistencyError):
            SharingPolicy(**bad)
    p = profile(product(500, 6), "id", policy=SharingPolicy())
    with pytest.raises(ConsistencyError, match="do not merge"):
        p.merge(p)
