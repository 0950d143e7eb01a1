"""The governed product store: one Delta table per protected product, PME-encrypted files."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshkit import Identity, IntegrityError, Principal, ProductInfo, SecureStore, SecurityModel
from meshkit import SecurityError, StoreError
from meshkit._names import check_product_name
from meshkit._security.encrypted_parquet import key_material_path
from meshkit._security.keys import SeededKeySource

T0 = 1_800_000_000
ROOT = Path(__file__).resolve().parents[2]
SETUP = textwrap.dedent("""
    import sys, polars as pl
    from meshkit import Identity, Principal, ProductInfo, SecureStore, SecurityModel
    from meshkit._security.keys import SeededKeySource
    src = SeededKeySource(5)
    cleo = Identity.generate(Principal("cleo", domain="crm"), source=src)
    info = ProductInfo("customers", "crm", owner="cleo", columns=("id", "email", "note"),
                       pii_columns=("email",))
    model = SecurityModel.build([info], identities=[cleo], source=src, clock=lambda: 1_800_000_000)
    store = SecureStore(sys.argv[1], model)
""")


def _world(tmp_path, columns=("id", "email", "note"), pii=("email",)):
    src = SeededKeySource(5)
    cleo = Identity.generate(Principal("cleo", domain="crm"), source=src)
    info = ProductInfo("customers", "crm", owner="cleo", columns=columns, pii_columns=pii)
    model = SecurityModel.build([info], identities=[cleo], source=src, clock=lambda: T0)
    return model, SecureStore(tmp_path / "secure", model), cleo


FRAME = pl.DataFrame({"id": [1, 2, 3], "email": ["a@x.io", None, "c@x.io"],
                      "note": ["n1", "n2", "n3"]})


def _edit_publish_record(path: Path, change) -> None:
    lines = path.read_text().splitlines()
    out = []
    for line in lines:
        action = json.loads(line)
        if "commitInfo" in action and "meshkit.publish" in action["commitInfo"]:
            record = json.loads(action["commitInfo"]["meshkit.publish"])
            change(record)
            action["commitInfo"]["meshkit.publish"] = json.dumps(record, sort_keys=True)
        out.append(json.dumps(action))
    path.write_text("\n".join(out) + "\n")


def test_a_product_is_one_delta_table_with_its_versions(tmp_path):
    model, store, cleo = _world(tmp_path)
    for n in (3, 2, 1):
        store.publish("customers", FRAME.head(n), cleo)
    table = DeltaTable(str(store.table_path("customers")))
    assert table.version() == 2 and store.versions("customers") == [0, 1, 2]
    assert [store.read("customers", cleo, version=v).height for v in (0, 1, 2)] == [3, 2, 1]
    hist = store.history("customers")
    assert hist["version"].to_list() == [2, 1, 0] and hist["rows"].to_list() == [1, 2, 3]
    assert store.restore("customers", 0, cleo) == 3
    assert store.read("customers", cleo).equals(FRAME)
    # the Delta log holds no values: no min/max statistics, no plaintext
    log = b"".join(p.read_bytes() for p in (store.table_path("customers") / "_delta_log").iterdir())
    assert b"a@x.io" not in log and b"n1" not in log


def test_editing_dtypes_or_protected_in_the_log_is_an_integrity_error(tmp_path):
    model, store, cleo = _world(tmp_path, columns=("id", "email", "note", "age"),
                                pii=("email", "age"))
    store.publish("customers", FRAME.with_columns(age=pl.Series([31, 42, 53])), cleo)
    entry = store.manifest_path("customers", 0)
    original = entry.read_text()

    def retype(record):
        record["dtypes"]["age"] = "Float64"

    def unprotect(record):
        del record["protected"]["email"]

    for change in (retype, unprotect):
        _edit_publish_record(entry, change)
        with pytest.raises(IntegrityError, match="disagrees with the Delta log"):
            store.read("customers", cleo)
        assert model.audit.records()[-1]["event"] == "integrity_failure"
        entry.write_text(original)
    assert store.read("customers", cleo)["age"].to_list() == [31, 42, 53]


def test_deleting_the_newest_version_is_detected(tmp_path):
    model, store, cleo = _world(tmp_path)
    store.publish("customers", FRAME, cleo)
    store.publish("customers", FRAME.head(1), cleo)
    newest = store.files("customers", 1)[0]
    saved = newest.read_bytes()
    newest.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        store.read("customers", cleo)
    newest.write_bytes(saved)
    # the commit itself removed: the log now ends at v0, but v1 was published
    store.manifest_path("customers", 1).unlink()
    with pytest.raises(IntegrityError, match="newest version was deleted"):
        store.read("customers", cleo)
    assert store.read("customers", cleo, version=0).equals(FRAME)  # asked for explicitly


def test_reader_without_a_column_key_reads_the_columns_it_may_see(tmp_path):
    src = SeededKeySource(5)
    cleo = Identity.generate(Principal("cleo", domain="crm"), source=src)
    ana = Identity.generate(Principal("ana", domain="marketing"), source=src)
    info = ProductInfo("customers", "crm", owner="cleo", columns=("id", "email", "note"),
                       pii_columns=("email",))
    model = SecurityModel.build([info], identities=[cleo, ana], source=src, clock=lambda: T0)
    store = SecureStore(tmp_path, model)
    store.publish("customers", FRAME, cleo)
    model.policy.grant(principal="ana", product="customers", action="read",
                       columns=["id", "note"])
    from meshkit._security import encrypted_parquet as ep

    unwrapped = []
    original = ep.KeysetKmsClient.unwrap_key

    def spy(self, wrapped, identifier):
        unwrapped.append(identifier)
        return original(self, wrapped, identifier)

    ep.KeysetKmsClient.unwrap_key = spy
    try:
        out = store.read("customers", ana)
    finally:
        ep.KeysetKmsClient.unwrap_key = original
    assert out.equals(FRAME.select("id", "note"))
    assert unwrapped and not any(i.endswith("pii.email") for i in unwrapped)
    # a client that may not unwrap the email key cannot decrypt that column
    with pytest.raises(SecurityError, match="may not unwrap"):
        ep.read_encrypted(store.files("customers")[0], model.keysets["crm"], "customers",
                          columns=["email"], allowed={"footer", "data"})


PII_TYPES = {
    "Boolean": st.booleans(),
    "Date": st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)),
    "Datetime": st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    "DatetimeTZ": st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                               timezones=st.just(timezone.utc)),
    "UInt8": st.integers(0, 255),
    "Int64": st.integers(-2**63, 2**63 - 1),
    "Float64": st.floats(allow_nan=False),
    "String": st.text(max_size=20),
    "List": st.lists(st.text(max_size=5), max_size=4),
}
DTYPES = {"Boolean": pl.Boolean, "Date": pl.Date, "Datetime": pl.Datetime("us"),
          "DatetimeTZ": pl.Datetime("us", "UTC"), "UInt8": pl.UInt8, "Int64": pl.Int64,
          "Float64": pl.Float64, "String": pl.String, "List": pl.List(pl.String)}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_pii_column_type_round_trips(tmp_path_factory, data):
    kind = data.draw(st.sampled_from(sorted(PII_TYPES)))
    values = data.draw(st.lists(st.one_of(st.none(), PII_TYPES[kind]), min_size=0, max_size=6))
    if kind in ("Datetime", "DatetimeTZ"):
        values = [v.replace(microsecond=v.microsecond) if v else v for v in values]
    frame = pl.DataFrame({"id": pl.Series(list(range(len(values))), dtype=pl.Int64),
                          "secret": pl.Series(values, dtype=DTYPES[kind])})
    model, store, cleo = _world(tmp_path_factory.mktemp("t"), columns=("id", "secret"),
                                pii=("secret",))
    store.publish("customers", frame, cleo)
    back = store.read("customers", cleo)
    assert back.schema == frame.schema
    assert back.equals(frame)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pub")
    model, store, cleo = _world(tmp)
    store.publish("customers", FRAME, cleo)
    store.publish("customers", FRAME.head(2), cleo)
    return model, store, cleo


@settings(max_examples=60, deadline=None)
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_bit_flip_of_a_file_fails(published, where, bit):
    model, store, cleo = published
    path = store.files("customers", 1)[0]
    original = path.read_bytes()
    data = bytearray(original)
    data[int(where * len(data))] ^= 1 << bit
    path.write_bytes(bytes(data))
    try:
        with pytest.raises(IntegrityError):
            store.read("customers", cleo, version=1)
    finally:
        path.write_bytes(original)
    assert store.read("customers", cleo, version=1).equals(FRAME.head(2))


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(1, 10_000), pad=st.booleans())
def test_truncated_or_extended_files_fail(published, cut, pad):
    model, store, cleo = published
    path = store.files("customers", 1)[0]
    original = path.read_bytes()
    changed = original + os.urandom(cut % 64 + 1) if pad else original[:-(cut % len(original))]
    path.write_bytes(changed)
    try:
        with pytest.raises(IntegrityError):
            store.read("customers", cleo, version=1)
    finally:
        path.write_bytes(original)


def test_reordered_pages_and_moved_files_fail(published, tmp_path):
    model, store, cleo = published
    path = store.files("customers", 1)[0]
    original = path.read_bytes()
    # swap two 64-byte blocks in the column data (pages reordered)
    data = bytearray(original)
    a, b = 4, 4 + 64
    data[a:a + 64], data[b:b + 64] = data[b:b + 64], data[a:a + 64]
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        store.read("customers", cleo, version=1)
    path.write_bytes(original)
    # the v0 file and its key material moved over the v1 file: bound to another file name
    old = store.files("customers", 0)[0]
    km = key_material_path(path).read_bytes()
    path.write_bytes(old.read_bytes())
    key_material_path(path).write_bytes(key_material_path(old).read_bytes())
    try:
        with pytest.raises(IntegrityError):
            store.read("customers", cleo, version=1)
    finally:
        path.write_bytes(original)
        key_material_path(path).write_bytes(km)
    assert store.read("customers", cleo, version=1).equals(FRAME.head(2))


@pytest.mark.parametrize("name", ["_delta_log", "_x", ".hidden", "-x", "a|b", ""])
def test_reserved_product_names_are_refused(tmp_path, name):
    with pytest.raises(StoreError, match="invalid product name"):
        check_product_name(name)
    src = SeededKeySource(1)
    info = ProductInfo(name, "crm", owner="cleo", columns=("id",))
    model = SecurityModel.build([info], source=src, clock=lambda: T0)
    with pytest.raises(StoreError, match="invalid product name"):
        SecureStore(tmp_path, model)


def test_reclaimable_and_vacuum(tmp_path):
    model, store, cleo = _world(tmp_path)
    store.publish("customers", FRAME, cleo)
    store.publish("customers", FRAME.head(1), cleo)
    orphan = store.table_path("customers") / f"part-{uuid.uuid4().hex}-0.parquet"
    orphan.write_bytes(b"ciphertext left by a killed publish")
    report = store.reclaimable("customers")
    assert sorted(report["reason"].to_list()) == ["history", "unreferenced"]
    assert store.vacuum("customers", cleo, retention_hours=24) == []  # all younger than a day
    removed = store.vacuum("customers", cleo, retention_hours=0)
    assert orphan.name in removed and len(removed) == 2
    assert store.reclaimable("customers").height == 0
    assert store.read("customers", cleo).equals(FRAME.head(1))
    for name in removed:  # the key material of a vacuumed file goes with it
        assert not key_material_path(store.table_path("customers") / name).exists()


def _run(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update(kw.pop("env", {}))
    return subprocess.Popen([sys.executable, "-c", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_concurrent_publishers_each_get_their_own_readable_version(tmp_path):
    root = tmp_path / "secure"
    publisher = SETUP + textwrap.dedent("""
        w = int(sys.argv[2])
        pub = store.publish("customers", pl.DataFrame({"id": [w], "email": [f"w{w}@x.io"],
                                                       "note": [str(w)]}), cleo)
        print(pub.version)
    """)
    SecureStore(root, _world(tmp_path)[0])  # the folder exists; the table does not yet
    procs = [_run([publisher, str(root), str(w)]) for w in range(6)]
    reported = {}
    for w, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        if p.returncode == 0:
            reported[w] = int(out.strip().splitlines()[-1])
    assert reported, "no publish reported done"
    assert len(set(reported.values())) == len(reported)  # never two writers told the same v
    model, store, cleo = _world(tmp_path)
    for w, v in reported.items():
        assert store.read("customers", cleo, version=v)["id"].to_list() == [w]


@pytest.mark.slow
@pytest.mark.parametrize("role", ["publisher", "reader"])
def test_killed_process_leaves_no_plaintext_and_the_store_opens(tmp_path, role):
    root, tmpdir = tmp_path / "secure", tmp_path / "tmp"
    tmpdir.mkdir()
    secrets = [uuid.uuid4().hex for _ in range(20_000)]
    pl.DataFrame({"id": range(len(secrets)), "email": secrets, "note": secrets}).write_ipc(
        tmp_path / "frame.arrow")
    source = tmp_path / "frame.arrow"
    model, store, cleo = _world(tmp_path)
    store.publish("customers", pl.read_ipc(source), cleo)
    body = SETUP + textwrap.dedent(f"""
        frame = pl.read_ipc({str(source)!r})
        for _ in range(1000):
            if {role!r} == "publisher":
                store.publish("customers", frame, cleo)
            else:
                store.read("customers", cleo)
    """)
    rng = random.Random(0)
    for _ in range(3):
        p = _run([body, str(root)], env={"TMPDIR": str(tmpdir)})
        time.sleep(rng.uniform(1.5, 4.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
    sample = [s.encode() for s in secrets[::500]]
    for folder in (root, tmpdir):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(s in data for s in sample), path
    reopened = SecureStore(root, _world(tmp_path)[0])
    assert reopened.read("customers", cleo).height == len(secrets)


def test_a_deleted_newest_version_is_caught_by_a_new_store_from_the_audit_log(tmp_path):
    model, store, cleo = _world(tmp_path)
    store.publish("customers", FRAME, cleo)
    store.publish("customers", FRAME.head(1), cleo)
    store.manifest_path("customers", 1).unlink()
    again = SecureStore(tmp_path / "secure", model)  # a fresh store: it knows from the audit
    with pytest.raises(IntegrityError, match="newest version was deleted"):
        again.read("customers", cleo)


@pytest.mark.slow
def test_every_single_byte_flip_of_a_small_file_fails(tmp_path):
    model, store, cleo = _world(tmp_path)
    store.publish("customers", FRAME.head(2), cleo)
    path = store.files("customers", 0)[0]
    original = path.read_bytes()
    served = []
    for offset in range(len(original)):
        data = bytearray(original)
        data[offset] ^= 0x10
        path.write_bytes(bytes(data))
        try:
            store.read("customers", cleo)
            served.append(offset)
        except IntegrityError:
            pass
    path.write_bytes(original)
    assert served == []
    assert store.read("customers", cleo).equals(FRAME.head(2))
