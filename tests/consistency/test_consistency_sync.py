"""sync through Delta MERGE on real tables; versions, diffs, restore and recovery."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from meshkit import diff_versions, similarity, sync
from meshkit.tutorial.inject import stale_copy
from meshkit import ConsistencyError, SyncConflictError
from meshkit import ProductStore


def customers(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "user_id": np.arange(n, dtype=np.int64),
        "email": [f"user{i}@mail.example.org" for i in range(n)],
        "country": rng.choice(["DE", "FR", "ES"], n),
        "spend": rng.gamma(2.0, 50.0, n),
        "updated_at": pl.Series([dt.datetime(2026, 1, 1)] * n),
    })


@pytest.fixture
def store(tmp_path):
    s = ProductStore(tmp_path / "store")
    src = customers()
    copy, _ = stale_copy(src, "user_id", steps=["stale_values", "missing_rows", "shift"],
                         seed=3, stale_column="email", shift_column="spend")
    extra = src.tail(1).with_columns(pl.lit(10_000, pl.Int64).alias("user_id"))
    s.publish("crm", src)
    s.publish("crm_copy", pl.concat([copy, extra]))
    return s


def test_source_wins_repairs_the_copy_in_one_version_and_is_idempotent(store):
    before = similarity(store.read("crm"), store.read("crm_copy"), keys="user_id").score
    result = sync(store, source="crm", target="crm_copy", keys="user_id", policy="source_wins",
                  delete_missing=True)
    assert (result.inserted, result.deleted) == (40, 1)
    assert result.updated == result.conflicting == 360       # the shift touched every row
    assert (result.version_before, result.version) == (0, 1)
    after = store.read("crm_copy").sort("user_id")
    assert after.equals(store.read("crm").sort("user_id"))
    assert similarity(store.read("crm"), after, keys="user_id").score == 1.0 > before
    again = sync(store, source="crm", target="crm_copy", keys="user_id", delete_missing=True)
    assert (again.inserted, again.updated, again.deleted, again.conflicting) == (0, 0, 0, 0)
    assert not again.written and store.latest_version("crm_copy") == 1
    assert store.history("crm_copy")["operation"].to_list() == ["MERGE", "WRITE"]


def test_target_wins_only_inserts(store):
    target_before = store.read("crm_copy")
    result = sync(store, "crm", "crm_copy", keys="user_id", policy="target_wins")
    assert (result.inserted, result.updated, result.deleted) == (40, 0, 0)
    assert result.conflicting == 360
    after = store.read("crm_copy")
    kept = after.join(target_before, on="user_id", how="semi").sort("user_id")
    assert kept.equals(target_before.sort("user_id"))
    assert after.height == target_before.height + 40


def test_latest_timestamp_wins(tmp_path):
    s = ProductStore(tmp_path)
    src = customers(6)
    tgt = src.with_columns(pl.lit("stale").alias("email"),
                           pl.when(pl.col("user_id") < 3).then(dt.datetime(2026, 6, 1))
                           .otherwise(dt.datetime(2025, 6, 1)).alias("updated_at"))
    s.publish("src", src)
    s.publish("tgt", tgt)
    result = sync(s, "src", "tgt", keys="user_id", policy="latest", timestamp="updated_at")
    assert (result.updated, result.conflicting) == (3, 6)
    emails = dict(s.read("tgt").select("user_id", "email").iter_rows())
    assert [emails[i] for i in range(6)] == ["stale"] * 3 + [f"user{i}@mail.example.org"
                                                              for i in range(3, 6)]
    assert result.conflicts["source_applied"].to_list() == [False] * 3 + [True] * 3
    with pytest.raises(ConsistencyError, match="needs a timestamp"):
        sync(s, "src", "tgt", keys="user_id", policy="latest")


def test_stop_policy_lists_conflicts_and_writes_nothing(store):
    with pytest.raises(SyncConflictError, match="360 conflicting") as err:
        sync(store, "crm", "crm_copy", keys="user_id", policy="stop")
    conflicts = err.value.conflicts
    assert conflicts.height == 360
    assert set(conflicts["columns"].unique()) == {"spend", "email, spend"}
    assert store.latest_version("crm_copy") == 0
    # without conflicts, "stop" syncs the missing rows
    clean = store.read("crm").head(100)
    store.publish("partial", clean.head(50))
    result = sync(store, clean, "partial", keys="user_id", policy="stop")
    assert (result.inserted, result.conflicting) == (50, 0)


def test_bad_input_never_half_applies(store):
    bad_dup = pl.concat([store.read("crm"), store.read("crm").head(1)])
    bad_null = store.read("crm").with_columns(
        pl.when(pl.col("user_id") == 5).then(None).otherwise(pl.col("user_id")).alias("user_id"))
    bad_type = store.read("crm").with_columns(pl.lit("lots").alias("spend"))
    missing_col = store.read("crm").drop("country")
    cases = [(bad_dup, "duplicate entity keys"), (bad_null, "null entity keys"),
             (bad_type, "cannot take the target's types"),
             (missing_col, "lacks columns of the target")]
    for frame, message in cases:
        with pytest.raises(ConsistencyError, match=message):
            sync(store, frame, "crm_copy", keys="user_id")
    with pytest.raises(ConsistencyError, match="unknown sync policy"):
        sync(store, "crm", "crm_copy", keys="user_id", policy="whoever")
    with pytest.raises(ConsistencyError, match="key column"):
        sync(store, "crm", "crm_copy", keys="customer_id")
    assert store.latest_version("crm_copy") == 0
    assert store.versions("crm_copy") == [0]


def test_castable_source_types_are_cast_to_the_target(tmp_path):
    s = ProductStore(tmp_path)
    s.publish("tgt", pl.DataFrame({"id": [1, 2], "n": [1.0, 2.0]}))
    result = sync(s, pl.DataFrame({"id": [1, 2, 3], "n": [1, 5, 7]}), "tgt", keys="id")
    assert (result.inserted, result.updated) == (1, 1)
    assert s.read("tgt").sort("id")["n"].to_list() == [1.0, 5.0, 7.0]
    assert s.read("tgt").schema["n"] == pl.Float64


def test_version_diff_and_recovery_after_a_bad_sync(store):
    good = store.read("crm_copy")
    wrong = store.read("crm").with_columns(pl.lit("oops@example.org").alias("email"))
    store.publish("wrong_source", wrong)
    bad = sync(store, "wrong_source", "crm_copy", keys="user_id", delete_missing=True)
    assert bad.written
    diff = diff_versions(store, "crm_copy", keys="user_id")
    assert (diff.old, diff.new) == (0, 1)
    assert diff.added.height == 40 and diff.removed.height == 1
    assert diff.removed["user_id"].to_list() == [10_000]
    assert diff.changed.height == 360
    assert diff.column_changes["email"] == 360 and diff.column_changes["spend"] == 360
    assert "country" not in diff.column_changes
    # recover: restore the version before the sync, as a new version
    version = store.restore("crm_copy", bad.version_before)
    assert version == 2
    assert store.read("crm_copy").sort("user_id").equals(good.sort("user_id"))
    assert diff_versions(store, "crm_copy", keys="user_id", old=0, new=2).is_empty
    assert store.history("crm_copy")["operation"].to_list()[:2] == ["RESTORE", "MERGE"]
    with pytest.raises(ConsistencyError, match="no earlier version"):
        diff_versions(store, "crm", keys="user_id")


def test_latest_compares_instants_across_time_zones(tmp_path):
    s = ProductStore(tmp_path)
    utc = pl.Datetime("us", "UTC")
    noon = dt.datetime(2024, 1, 1, 12)
    s.publish("tgt", pl.DataFrame({"id": [1, 2], "v": ["t1", "t2"], "ts": [noon, noon]},
                                  schema={"id": pl.Int64, "v": pl.Utf8, "ts": utc}))
    # 12:30 in Paris is 11:30 UTC (older than the target); 13:30 in Paris is 12:30 UTC (newer)
    src = pl.DataFrame({"id": [1, 2], "v": ["s1", "s2"],
                        "ts": [dt.datetime(2024, 1, 1, 12, 30), dt.datetime(2024, 1, 1, 13, 30)]},
                       schema={"id": pl.Int64, "v": pl.Utf8, "ts": pl.Datetime("us")}) \
        .with_columns(pl.col("ts").dt.replace_time_zone("Europe/Paris"))
    result = sync(s, src, "tgt", keys="id", policy="latest", timestamp="ts")
    assert (result.updated, result.conflicting) == (1, 2)
    assert s.read("tgt").sort("id")["v"].to_list() == ["t1", "s2"]
    # a naive time against an aware one is refused rather than guessed as UTC
    naive = src.with_columns(pl.col("ts").dt.replace_time_zone(None), pl.lit("n").alias("v"))
    with pytest.raises(ConsistencyError, match="naive and time-zone-aware"):
        sync(s, naive, "tgt", keys="id", policy="latest", timestamp="ts")
    assert s.latest_version("tgt") == 1


def test_a_key_that_a_cast_would_change_is_refused(tmp_path):
    s = ProductStore(tmp_path)
    s.publish("tgt", pl.DataFrame({"id": [1, 2], "v": ["a", "b"]}))
    # polars casts 1.5 to the Int64 key 1: that would overwrite entity 1 with another's row
    with pytest.raises(ConsistencyError, match="key id"):
        sync(s, pl.DataFrame({"id": [1.5, 2.0], "v": ["x", "b"]}), "tgt", keys="id")
    assert s.latest_version("tgt") == 0 and s.read("tgt").sort("id")["v"].to_list() == ["a", "b"]
    # a float key with whole values still casts
    assert sync(s, pl.DataFrame({"id": [1.0, 3.0], "v": ["a", "c"]}), "tgt", keys="id").inserted == 1
