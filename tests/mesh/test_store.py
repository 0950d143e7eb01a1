"""ProductStore on real Delta tables: publish, versions, time travel, restore, concurrency."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from deltalake import CommitProperties, DeltaTable
from polars.testing import assert_frame_equal

from meshkit import ConcurrentWriteError, DataError, MeshkitError, QualityError, StoreError
from meshkit import ProductStore, Publication

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    return ProductStore(tmp_path / "store")


def orders(n: int, offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame({"order_id": list(range(offset, offset + n)),
                         "amount": [float(i) * 1.5 for i in range(n)]})


def test_publish_creates_consecutive_versions_and_reads_them_back(store):
    first = store.publish("orders", orders(3))
    second = store.publish("orders", orders(5, offset=10))
    assert isinstance(first, Publication)
    assert (first.name, first.version, second.version) == ("orders", 0, 1)
    assert first.report is None and first.quality == "unchecked"
    assert_frame_equal(store.read("orders"), orders(5, offset=10))
    assert_frame_equal(store.read("orders", version=0), orders(3))
    assert store.versions("orders") == [0, 1]
    assert store.latest_version("orders") == 1
    assert store.exists("orders") and not store.exists("customers")
    assert store.products() == ["orders"]


def test_order_and_values_survive_a_round_trip_on_a_larger_frame(store):
    frame = pl.DataFrame({"k": list(range(20_000))[::-1], "s": [f"v{i % 7}" for i in range(20_000)]})
    store.publish("big", frame)
    assert_frame_equal(store.read("big"), frame)


def test_publish_accepts_a_lazy_frame(store):
    store.publish("lazy", orders(4).lazy().filter(pl.col("order_id") > 1))
    assert store.read("lazy")["order_id"].to_list() == [2, 3]


def test_schema_may_change_between_versions(store):
    store.publish("p", pl.DataFrame({"a": [1, 2]}))
    store.publish("p", pl.DataFrame({"b": ["x"], "c": [True]}))
    assert store.read("p").columns == ["b", "c"]
    assert store.read("p", version=0).columns == ["a"]


def test_read_selected_columns_and_refuse_unknown_ones(store):
    store.publish("orders", orders(2))
    assert store.read("orders", columns=["amount"]).columns == ["amount"]
    with pytest.raises(StoreError, match="unknown columns") as info:
        store.read("orders", columns=["amount", "nope"])
    assert "nope" in str(info.value) and "order_id" in str(info.value)


def test_empty_product_keeps_its_schema(store):
    empty = pl.DataFrame(schema={"id": pl.Int64, "name": pl.String})
    publication = store.publish("empty", empty)
    assert publication.version == 0
    back = store.read("empty")
    assert back.height == 0 and back.schema == empty.schema
    store.publish("empty", orders(2))
    store.publish("empty", empty)
    assert store.read("empty").height == 0 and store.read("empty", version=1).height == 2
    assert store.history("empty")["rows"].to_list() == [0, 2, 0]


def test_frame_without_columns_is_refused_and_the_table_stays_readable(store):
    store.publish("p", orders(2))
    with pytest.raises(DataError, match="at least one column"):
        store.publish("p", pl.DataFrame())
    assert store.latest_version("p") == 0
    assert_frame_equal(store.read("p"), orders(2))


@pytest.mark.parametrize("frame, column", [
    (pl.DataFrame({"ok": [1], "bad": [None]}), "bad"),
    (pl.DataFrame({"ok": [1], "obj": [object()]}, schema={"ok": pl.Int64, "obj": pl.Object}), "obj"),
    (pl.DataFrame({"ok": [1], "wait": [timedelta(seconds=3)]}), "wait"),
])
def test_types_delta_cannot_store_are_refused_with_the_column_named(store, frame, column):
    store.publish("p", orders(1))
    with pytest.raises(DataError, match="cannot be stored in Delta Lake") as info:
        store.publish("p", frame)
    assert repr(column) in str(info.value) and "'p'" in str(info.value)
    assert store.versions("p") == [0]


def test_categorical_unsigned_and_array_columns_are_stored_faithfully(store):
    frame = pl.DataFrame({
        "cat": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
        "small": pl.Series([0, 200, 255], dtype=pl.UInt8),
        "vec": pl.Series([[1, 2], [3, 4], [5, 6]], dtype=pl.Array(pl.Int64, 2)),
    })
    store.publish("p", frame)
    back = store.read("p")
    assert back["cat"].to_list() == ["a", "b", "a"]
    assert back["small"].to_list() == [0, 200, 255]   # no wrap-around into negative int8
    assert back["vec"].to_list() == [[1, 2], [3, 4], [5, 6]]


def test_unsigned_values_too_large_for_int64_are_refused(store):
    frame = pl.DataFrame({"u": pl.Series([2**64 - 1], dtype=pl.UInt64)})
    with pytest.raises(DataError, match="do not fit"):
        store.publish("p", frame)
    assert not store.exists("p")


def test_nanosecond_datetimes_are_kept_when_whole_microseconds_and_refused_otherwise(store):
    whole = pl.Series([1_700_000_000_000_001_000, None], dtype=pl.Int64)
    frame = pl.DataFrame({"at": whole.cast(pl.Datetime("ns", "Europe/Paris"))})
    store.publish("p", frame)
    back = store.read("p")["at"]
    assert back.dtype == pl.Datetime("us", "UTC")           # Delta keeps UTC microseconds
    assert back.cast(pl.Int64).to_list() == [1_700_000_000_000_001, None]  # same instants
    finer = pl.DataFrame({"at": pl.Series([1_700_000_000_000_000_001]).cast(pl.Datetime("ns"))})
    with pytest.raises(DataError, match="would change") as info:
        store.publish("p", finer)
    assert "'at'" in str(info.value)
    assert store.versions("p") == [0]


def test_history_is_newest_first_with_operation_rows_and_quality(store):
    store.publish("orders", orders(3))
    store.publish("orders", orders(7))
    store.restore("orders", 0)
    history = store.history("orders")
    assert history["version"].to_list() == [2, 1, 0]
    assert history["operation"].to_list() == ["RESTORE", "WRITE", "WRITE"]
    assert history["rows"].to_list()[1:] == [7, 3]
    assert history["quality"].to_list() == [None, "unchecked", "unchecked"]
    assert history.schema["timestamp"] == pl.Datetime("ms", "UTC")
    assert history["timestamp"].is_sorted(descending=True)


def test_restore_rolls_back_as_a_new_version(store):
    store.publish("orders", orders(3))
    store.publish("orders", orders(9))
    new_version = store.restore("orders", 0)
    assert new_version == 2
    assert_frame_equal(store.read("orders"), orders(3))
    assert_frame_equal(store.read("orders", version=1), orders(9))


def test_read_as_of_a_time_picks_the_version_current_then(store):
    store.publish("orders", orders(1))
    time.sleep(0.01)  # distinct commit timestamps (Delta keeps milliseconds)
    store.publish("orders", orders(2))
    stamps = dict(zip(*store.history("orders").select("version", "timestamp").to_dict(as_series=False).values()))
    assert store.read("orders", as_of=stamps[0]).height == 1
    assert store.read("orders", as_of=stamps[1]).height == 2
    assert store.read("orders", as_of=stamps[1].isoformat()).height == 2
    later = (stamps[1] + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert store.read("orders", as_of=later).height == 2


def test_time_before_the_first_version_is_an_error_naming_the_first_time(store):
    store.publish("orders", orders(1))
    with pytest.raises(StoreError, match="no version of the product existed") as info:
        store.read("orders", as_of=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert "'orders'" in str(info.value) and "version 0" in str(info.value)
    with pytest.raises(StoreError, match="ISO 8601"):
        store.read("orders", as_of="yesterday")


def test_unknown_product_and_version_name_what_exists(store):
    store.publish("orders", orders(1))
    store.publish("customers", orders(1))
    with pytest.raises(StoreError, match="unknown product") as info:
        store.read("ordres")
    assert "customers, orders" in str(info.value)
    with pytest.raises(StoreError, match="unknown version") as info:
        store.read("orders", version=5)
    assert "0..0" in str(info.value)
    with pytest.raises(StoreError, match="unknown version"):
        store.restore("orders", 3)
    with pytest.raises(StoreError, match="not both"):
        store.read("orders", version=0, as_of="2020-01-01")


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden", "-x", "x" * 200, None,
                                 "_delta_log", "_x"])
def test_product_names_cannot_escape_the_store(store, tmp_path, bad):
    with pytest.raises(StoreError, match="invalid product name"):
        store.publish(bad, orders(1))
    assert not (tmp_path / "escape").exists()
    assert store.products() == []


def test_expected_version_guards_against_a_stale_writer(store):
    store.publish("orders", orders(1))
    store.publish("orders", orders(2), expected_version=0)
    with pytest.raises(ConcurrentWriteError) as info:
        store.publish("orders", orders(3), expected_version=0)
    assert "version 0" in str(info.value) and "version 1" in str(info.value)
    assert store.latest_version("orders") == 1
    assert_frame_equal(store.read("orders"), orders(2))
    with pytest.raises(StoreError, match="does not exist yet"):
        store.publish("fresh", orders(1), expected_version=0)


def test_a_commit_that_loses_the_race_raises_and_changes_nothing(store):
    # The writer opened version 0; another writer committed version 1 before it could
    # commit: Delta's log refuses the commit and the store says so.
    store.publish("orders", orders(1))
    stale = DeltaTable(store.table_uri("orders"))
    store.publish("orders", orders(2))
    options = {"schema_mode": "overwrite",
               "commit_properties": CommitProperties(max_commit_retries=0)}
    with pytest.raises(ConcurrentWriteError, match="committed to the product first"):
        store._write(orders(3), stale, "overwrite", options, "orders", previous=0)
    assert store.versions("orders") == [0, 1]
    assert_frame_equal(store.read("orders"), orders(2))


def _race(store: ProductStore, frames: list[pl.DataFrame], name: str = "orders", **publish_kwargs):
    barrier = threading.Barrier(len(frames))
    outcomes: list[object] = [None] * len(frames)

    def write(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = store.publish(name, frames[i], **publish_kwargs)
        except MeshkitError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(frames))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_writers_from_the_same_version_one_wins_the_other_fails_cleanly(tmp_path):
    for round_ in range(4):
        store = ProductStore(tmp_path / f"round{round_}")
        store.publish("orders", orders(1))
        frames = [orders(30_000, offset=1_000_000 * (i + 1)) for i in range(2)]
        outcomes = _race(store, frames, expected_version=0)
        winners = [i for i, o in enumerate(outcomes) if isinstance(o, Publication)]
        losers = [o for o in outcomes if not isinstance(o, Publication)]
        assert len(winners) == 1, outcomes
        assert len(losers) == 1 and isinstance(losers[0], ConcurrentWriteError), outcomes
        assert store.versions("orders") == [0, 1]
        assert_frame_equal(store.read("orders"), frames[winners[0]])
        assert_frame_equal(store.read("orders", version=0), orders(1))


def test_concurrent_writers_without_expectation_never_corrupt_the_table(tmp_path):
    store = ProductStore(tmp_path / "store")
    store.publish("orders", orders(1))
    frames = [orders(20_000, offset=1_000_000 * (i + 1)) for i in range(3)]
    outcomes = _race(store, frames)
    published = [o for o in outcomes if isinstance(o, Publication)]
    assert all(isinstance(o, (Publication, ConcurrentWriteError)) for o in outcomes), outcomes
    assert store.versions("orders") == list(range(len(published) + 1))
    assert sorted(p.version for p in published) == list(range(1, len(published) + 1))
    latest = store.read("orders")
    assert any(latest.equals(frame) for frame in frames)


def test_two_writers_creating_the_same_product_leave_one_consistent_table(tmp_path):
    for round_ in range(3):
        store = ProductStore(tmp_path / f"round{round_}")
        frames = [orders(20_000, offset=1_000_000 * (i + 1)) for i in range(2)]
        outcomes = _race(store, frames, name="fresh")
        published = [o for o in outcomes if isinstance(o, Publication)]
        assert published, outcomes
        assert all(isinstance(o, (Publication, ConcurrentWriteError)) for o in outcomes), outcomes
        assert store.versions("fresh") == list(range(len(published)))
        assert any(store.read("fresh").equals(frame) for frame in frames)


def test_a_failing_lazy_frame_leaves_the_previous_version(store):
    store.publish("orders", orders(3))

    def explode(frame: pl.DataFrame) -> pl.DataFrame:
        raise RuntimeError("upstream source went away")

    with pytest.raises(DataError, match="could not compute") as info:
        store.publish("orders", orders(10).lazy().map_batches(explode))
    assert "upstream source went away" in str(info.value)
    assert store.versions("orders") == [0]
    assert_frame_equal(store.read("orders"), orders(3))


_KILLED_WRITER = textwrap.dedent("""
    import sys
    import numpy as np, polars as pl
    from meshkit import ProductStore
    store = ProductStore(sys.argv[1], target_file_size=256 * 1024)
    frame = pl.DataFrame({"x": np.random.default_rng(0).random(6_000_000)})
    print("writing", flush=True)
    store.publish("orders", frame)
    print("committed", flush=True)
""")


def test_a_publish_killed_midway_leaves_the_previous_version_intact(store, tmp_path):
    store.publish("orders", orders(3))
    table = tmp_path / "store" / "orders"
    before = {p.name for p in table.glob("*.parquet")}
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path / "store")],
                              cwd=REPO, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert writer.stdout.readline().strip() == "writing"
        # Kill the writer as soon as its first data file appears: mid-write, before commit.
        while not ({p.name for p in table.glob("*.parquet")} - before):
            assert writer.poll() is None, "writer ended before writing any data file"
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert {p.name for p in table.glob("*.parquet")} - before, "no partial data was written"
    # The orphaned data files are not part of any version: the table is as it was.
    assert store.versions("orders") == [0]
    assert_frame_equal(store.read("orders"), orders(3))
    assert store.publish("orders", orders(4)).version == 1
    assert_frame_equal(store.read("orders"), orders(4))


def test_repr_lists_products_and_versions_without_paths(store):
    assert repr(store) == "ProductStore(empty)"
    store.publish("orders", orders(1))
    store.publish("orders", orders(2))
    store.publish("customers", orders(1))
    assert repr(store) == "ProductStore(customers@v0, orders@v1)"
    page = store._repr_html_()
    assert re.search(r"<td[^>]*>orders</td><td[^>]*>1</td>", page)
    assert str(store.root) not in page
    assert str(store.root) not in repr(store)


def test_table_uri_opens_the_same_delta_table(store):
    store.publish("orders", orders(2))
    assert DeltaTable(store.table_uri("orders")).version() == 0
    with pytest.raises(StoreError, match="unknown product"):
        store.table_uri("nope")


# --- contract checks (meshkit._contracts) -------------------------------------------

def _contract():
    from meshkit import DataContract

    return DataContract.from_dict({
        "apiVersion": "v3.1.0", "kind": "DataContract", "id": "orders", "version": "1.0.0",
        "status": "active",
        "schema": [{"name": "orders", "properties": [
            {"name": "order_id", "logicalType": "integer", "required": True, "unique": True},
            {"name": "amount", "logicalType": "number"}]}]})


def test_a_product_failing_its_contract_is_not_published(store):
    contract = _contract()
    store.publish("orders", orders(2), contract)
    duplicated = pl.concat([orders(2), orders(2)])
    with pytest.raises(QualityError) as info:
        store.publish("orders", duplicated, contract)
    assert info.value.report is not None and not info.value.report.passed
    assert store.versions("orders") == [0]
    assert_frame_equal(store.read("orders"), orders(2))


def test_force_publishes_a_failing_product_and_history_says_so(store):
    contract = _contract()
    good = store.publish("orders", orders(2), contract)
    forced = store.publish("orders", pl.concat([orders(2), orders(2)]), contract, force=True)
    assert good.quality == "passed" and good.report.passed
    assert forced.quality == "forced" and not forced.report.passed
    assert store.history("orders")["quality"].to_list() == ["forced", "passed"]
    assert store.read("orders").height == 4


def test_a_data_product_brings_its_own_contract(store):
    from meshkit import DataProduct

    product = DataProduct("orders", _contract())
    with pytest.raises(QualityError):
        store.publish(product, pl.concat([orders(1), orders(1)]))
    assert not store.exists("orders")
    assert store.publish(product, orders(2)).quality == "passed"
