"""Incremental sync from the change feed leaves the target exactly as a full sync would."""

import polars as pl
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshkit import DataError, ProductStore, sync

KEYS = st.integers(0, 40)
ROW = st.tuples(KEYS, st.sampled_from(["a", "b", "c", None]), st.integers(0, 5))


def frame(rows) -> pl.DataFrame:
    unique = {k: (k, v, n) for k, v, n in rows}
    return pl.DataFrame(list(unique.values()), orient="row",
                        schema={"id": pl.Int64, "v": pl.Utf8, "n": pl.Int64})


CHANGE = st.one_of(
    st.tuples(st.just("publish"), st.lists(ROW, max_size=30)),        # overwrite the whole product
    st.tuples(st.just("upsert"), st.lists(ROW, min_size=1, max_size=8)),  # a MERGE of a few rows
    st.tuples(st.just("delete"), st.lists(KEYS, min_size=1, max_size=5)),
)


def apply(store, name, change):
    kind, payload = change
    if kind == "publish":
        store.publish(name, frame(payload))
        return
    table = DeltaTable(store.table_uri(name))
    if kind == "upsert":
        table.merge(frame(payload).to_arrow(), predicate="t.id = s.id", source_alias="s",
                    target_alias="t").when_matched_update_all().when_not_matched_insert_all() \
            .execute()
    else:
        table.delete(f"id IN ({', '.join(str(k) for k in sorted(set(payload)))})")


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.lists(ROW, max_size=30), target=st.lists(ROW, max_size=30),
       changes=st.lists(CHANGE, min_size=1, max_size=5),
       policy=st.sampled_from(["source_wins", "target_wins"]), delete_missing=st.booleans())
def test_incremental_sync_equals_full_sync(tmp_path_factory, initial, target, changes, policy,
                                           delete_missing):
    store = ProductStore(tmp_path_factory.mktemp("store"))
    store.publish("src", frame(initial))
    store.publish("inc", frame(target))
    store.publish("full", frame(target))
    wrote = False  # a sync from src has committed to inc: later ones read the change feed
    for step in [None, *changes]:
        if step is not None:
            apply(store, "src", step)
        if store.read("src").height == 0:  # both refuse an empty source, writing nothing
            for name, incremental in (("inc", True), ("full", False)):
                with pytest.raises(DataError, match="empty"):
                    sync(store, "src", name, keys="id", policy=policy,
                         delete_missing=delete_missing, incremental=incremental)
            continue
        a = sync(store, "src", "inc", keys="id", policy=policy, delete_missing=delete_missing)
        b = sync(store, "src", "full", keys="id", policy=policy, delete_missing=delete_missing,
                 incremental=False)
        assert a.mode == ("incremental" if wrote else "full"), (a.mode, a.reason)
        wrote = wrote or a.written
        assert store.read("inc").sort("id").equals(store.read("full").sort("id"))
        assert (a.inserted, a.updated, a.deleted) == (b.inserted, b.updated, b.deleted)
        assert a.source_version == b.source_version == store.latest_version("src")
        assert b.mode == "full"
        if a.mode == "incremental":
            assert a.source_rows_read <= 2 * (store.read("src").height + 30) and not a.reason


def test_sync_records_the_source_version_and_reads_only_the_changes(tmp_path):
    store = ProductStore(tmp_path / "store")
    rows = [(i, "a", i % 5) for i in range(2000)]
    store.publish("src", frame(rows))
    store.publish("copy", frame(rows[:1000]))
    first = sync(store, "src", "copy", keys="id")
    assert (first.mode, first.source_version, first.source_rows_read) == ("full", 0, 2000)
    assert "not a sync" in first.reason
    meta = DeltaTable(store.table_uri("copy")).history(1)[0]
    assert '"source_version": 0' in meta["meshkit.sync"]
    apply(store, "src", ("upsert", [(5, "b", 1), (5000, "c", 2)]))
    second = sync(store, "src", "copy", keys="id")
    assert second.mode == "incremental" and second.source_version == 1
    assert (second.inserted, second.updated) == (1, 1)
    assert second.source_rows_read == 3  # insert + update pre- and post-image, not 2,001 rows
    assert store.read("copy").sort("id").equals(store.read("src").sort("id"))
    assert "incremental" in str(second)
    # another writer touched the target: the next sync reads the whole source, and says why
    store.publish("copy", store.read("copy"))
    third = sync(store, "src", "copy", keys="id")
    assert third.mode == "full" and "not a sync" in third.reason
