"""Bad input gets a clear MeshkitError naming what was expected, found and where."""

import polars as pl
import pytest

from meshkit import consistency, profile, similarity
from meshkit import ConsistencyError, DataError, MeshkitError

GOOD = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})


def test_no_shared_columns():
    other = pl.DataFrame({"id": [1, 2], "totally": [1, 2]})
    with pytest.raises(ConsistencyError, match="no shared columns") as err:
        similarity(GOOD, other, keys="id")
    assert "totally" in str(err.value) and err.value.where == "left vs right"


def test_keys_missing_on_one_side():
    with pytest.raises(ConsistencyError, match="key column") as err:
        similarity(GOOD, GOOD.rename({"id": "ident"}), keys="id")
    assert err.value.where == "right" and "missing ['id']" in str(err.value)


def test_duplicate_keys():
    dup = pl.concat([GOOD, GOOD.head(1)])
    with pytest.raises(ConsistencyError, match="duplicate entity keys") as err:
        similarity(GOOD, dup, keys="id")
    assert "{'id': 1}" in str(err.value)


def test_null_keys():
    nulls = GOOD.with_columns(pl.when(pl.col("id") == 2).then(None).otherwise(pl.col("id")).alias("id"))
    with pytest.raises(ConsistencyError, match="null entity keys") as err:
        similarity(nulls, GOOD, keys="id")
    assert err.value.where == "left" and "1 row(s)" in str(err.value)


def test_empty_products():
    with pytest.raises(DataError, match="empty") as err:
        similarity(GOOD, GOOD.clear(), keys="id")
    assert err.value.found == "0 rows"
    with pytest.raises(DataError, match="empty"):
        profile(GOOD.clear(), "id")


def test_mismatched_key_types():
    text_ids = GOOD.with_columns(pl.col("id").cast(pl.Utf8))
    with pytest.raises(ConsistencyError, match="entity key types differ") as err:
        similarity(GOOD, text_ids, keys="id")
    assert err.value.where == "keys.id"


def test_mismatched_column_types_are_reported_not_compared():
    changed = GOOD.with_columns(pl.col("x").cast(pl.Utf8))
    report = similarity(GOOD, changed, keys="id")
    assert "incompatible types: x (Float64 vs String)" in report.layers["schema"].notes
    assert "x" not in report.layers["values"].evidence["column"].to_list()


def test_other_bad_arguments():
    with pytest.raises(ConsistencyError, match="no entity keys"):
        similarity(GOOD, GOOD)
    with pytest.raises(ConsistencyError, match="cannot compare"):
        similarity(GOOD.to_dicts(), GOOD, keys="id")
    with pytest.raises(ConsistencyError, match="threshold out of range"):
        consistency(GOOD, GOOD, threshold=1.5, keys="id")
    with pytest.raises(ConsistencyError, match="cannot mix"):
        similarity(profile(GOOD, "id"), GOOD, keys="id")
    assert issubclass(ConsistencyError, MeshkitError)
