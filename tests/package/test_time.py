"""One time normaliser: the same instant, however it is written, wherever a time is accepted."""

import calendar
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshkit import PolicyError, ProductStore, SecurityError, StoreError
from meshkit._security.policy import Grant
from meshkit._security.tokens import to_epoch
from meshkit._time import epoch_ms, epoch_seconds, to_utc

NOON = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
SAME_INSTANT = [
    NOON,
    datetime(2026, 1, 31, 12),                                        # naive: UTC
    datetime(2026, 1, 31, 13, tzinfo=timezone(timedelta(hours=1))),  # another offset
    "2026-01-31T12:00:00Z",
    "2026-01-31T12:00:00+00:00",
    "2026-01-31T07:00:00-05:00",
    "2026-01-31T12:00:00",
    calendar.timegm((2026, 1, 31, 12, 0, 0)),
    float(calendar.timegm((2026, 1, 31, 12, 0, 0))),
]


@pytest.mark.parametrize("value", SAME_INSTANT, ids=repr)
def test_every_form_is_the_same_aware_utc_instant(value):
    when = to_utc(value)
    assert when == NOON and when.utcoffset() == timedelta(0)
    assert epoch_seconds(value) == calendar.timegm(NOON.timetuple())


def test_a_date_is_its_midnight_utc():
    assert to_utc(date(2026, 1, 31)) == datetime(2026, 1, 31, tzinfo=timezone.utc)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                    timezones=st.just(timezone.utc)))
def test_epoch_values_match_the_standard_library(when):
    assert epoch_ms(when) == calendar.timegm(when.timetuple()) * 1000 + when.microsecond // 1000
    assert epoch_seconds(when) == calendar.timegm(when.timetuple())
    assert to_utc(when.isoformat()) == when


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), "yesterday", [2026], None,
                                   1e300])
def test_what_is_not_a_time_is_a_meshkit_error(value):
    with pytest.raises(PolicyError) as info:
        to_utc(value, error=PolicyError, where="grants[0].expires")
    assert info.value.where == "grants[0].expires" and info.value.expected


def test_a_naive_token_time_is_utc_not_the_machines_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    import time
    time.tzset()
    try:
        naive = to_epoch(datetime(2026, 1, 31, 12))
        assert naive == to_epoch(NOON) == to_epoch("2026-01-31T12:00:00Z")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    with pytest.raises(SecurityError, match="now"):
        to_epoch("soon")


def test_grant_expiry_reads_every_form_alike():
    base = {"principal": "ana", "product": "orders", "action": "read"}
    expiries = {Grant.from_dict({**base, "expires": value}, where="g").expires
                for value in SAME_INSTANT}
    assert expiries == {NOON}
    with pytest.raises(PolicyError, match=r"g\.expires"):
        Grant.from_dict({**base, "expires": "next week"}, where="g")


def test_store_as_of_reads_every_form_alike(tmp_path):
    store = ProductStore(tmp_path)
    store.publish("p", pl.DataFrame({"a": [1]}))
    store.publish("p", pl.DataFrame({"a": [2]}))
    history = store.history("p")
    stamp = history.filter(pl.col("version") == 0)["timestamp"].item()
    forms = [stamp, stamp.isoformat(), stamp.isoformat().replace("+00:00", "Z"),
             stamp.replace(tzinfo=None), stamp.timestamp()]
    versions = {store._version_at("p", form) for form in forms}
    assert len(versions) == 1
    expected = store.read("p", version=versions.pop())
    assert all(store.read("p", as_of=form).equals(expected) for form in forms)
    with pytest.raises(StoreError, match="product 'p'"):
        store.read("p", as_of="not a time")
