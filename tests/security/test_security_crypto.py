"""Envelope encryption, streaming AEAD, column protection and key rotation."""

import io
import os

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshkit import IntegrityError, SecurityError
from meshkit._security.columns import is_protected, protect_frame, protect_lazy, unprotect_frame
from meshkit._security.envelope import Envelope, product_context, schema_hash
from meshkit._security.keys import Keyset, SeededKeySource, SystemKeySource, WrappedKey
from meshkit._security.streaming import (decrypt_bytes, decrypt_file, encrypt_bytes,
                                        encrypt_file, encrypt_stream, new_data_key)

KEY = bytes(range(16))
CTX = product_context("sales", "orders", 3, "0" * 64)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(data=st.binary(max_size=40_000))
@SETTINGS
def test_round_trip_any_message(data):
    assert decrypt_bytes(encrypt_bytes(data, KEY, CTX), KEY, CTX) == data


@given(data=st.binary(min_size=1, max_size=20_000), where=st.integers(min_value=0),
       bit=st.integers(min_value=0, max_value=7))
@SETTINGS
def test_any_bit_flip_fails(data, where, bit):
    ct = bytearray(encrypt_bytes(data, KEY, CTX))
    ct[where % len(ct)] ^= 1 << bit
    with pytest.raises(IntegrityError, match="failed authentication"):
        decrypt_bytes(bytes(ct), KEY, CTX)


@given(data=st.binary(max_size=40_000), cut=st.integers(min_value=1))
@SETTINGS
def test_any_truncation_fails(data, cut):
    ct = encrypt_bytes(data, KEY, CTX)
    with pytest.raises(IntegrityError):
        decrypt_bytes(ct[: len(ct) - 1 - (cut % len(ct))], KEY, CTX)


@given(data=st.binary(max_size=20_000), extra=st.binary(min_size=1, max_size=100))
@SETTINGS
def test_any_extension_fails(data, extra):
    with pytest.raises(IntegrityError):
        decrypt_bytes(encrypt_bytes(data, KEY, CTX) + extra, KEY, CTX)


@given(data=st.binary(max_size=5_000), other=st.binary(min_size=16, max_size=16))
@SETTINGS
def test_wrong_key_fails(data, other):
    if other == KEY:
        return
    with pytest.raises(IntegrityError):
        decrypt_bytes(encrypt_bytes(data, KEY, CTX), other, CTX)


@given(data=st.binary(max_size=5_000),
       product=st.sampled_from(["orders", "customers"]), version=st.integers(0, 5),
       schema=st.sampled_from(["0" * 64, "1" * 64]), domain=st.sampled_from(["sales", "crm"]))
@SETTINGS
def test_wrong_context_fails(data, product, version, schema, domain):
    other = product_context(domain, product, version, schema)
    if other == CTX:
        return
    with pytest.raises(IntegrityError):
        decrypt_bytes(encrypt_bytes(data, KEY, CTX), KEY, other)


def test_file_round_trip_and_no_plaintext_left_on_tamper(tmp_path):
    src = tmp_path / "plain.bin"
    src.write_bytes(os.urandom(300_000))
    enc, out = tmp_path / "x.cbl", tmp_path / "out.bin"
    size = encrypt_file(src, enc, KEY, CTX, chunk_size=4096)
    assert size == enc.stat().st_size > src.stat().st_size
    assert decrypt_file(enc, out, KEY, CTX, chunk_size=1000) == src.stat().st_size
    assert out.read_bytes() == src.read_bytes()
    out.unlink()
    raw = bytearray(enc.read_bytes())
    raw[-100] ^= 1
    enc.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        decrypt_file(enc, out, KEY, CTX)
    assert not out.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_streaming_uses_fixed_buffers():
    class Counting(io.RawIOBase):
        def __init__(self, total):
            self.left = total
            self.biggest = 0

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    class Sink(io.RawIOBase):
        biggest = 0

        def writable(self):
            return True

        def write(self, b):
            self.biggest = max(self.biggest, len(b))
            return len(b)

    sink = Sink()
    encrypt_stream(Counting(5_000_000), sink, KEY, CTX, chunk_size=65536)
    # never more than one chunk (plus Cobblestone's 16 KiB look-ahead) in flight
    assert sink.biggest <= 65536 + 65536 // 1024 + 16456


def test_context_refuses_separator_injection():
    with pytest.raises(IntegrityError, match="cannot contain"):
        product_context("sales|product=x", "orders", 0, "0")


def test_schema_hash_changes_with_types_and_order():
    a = schema_hash(pl.DataFrame({"a": [1], "b": ["x"]}))
    assert a == schema_hash({"a": pl.Int64, "b": pl.String})
    assert a != schema_hash({"b": pl.String, "a": pl.Int64})
    assert a != schema_hash({"a": pl.Float64, "b": pl.String})


# -- keysets and envelopes ------------------------------------------------------------
def test_keyset_wrap_is_bound_to_context_and_domain():
    ks = Keyset.generate("sales", source=SeededKeySource(1))
    dk = new_data_key()
    w = ks.wrap(dk, context=CTX)
    assert ks.unwrap(w, context=CTX) == dk
    with pytest.raises(IntegrityError, match="failed authentication"):
        ks.unwrap(w, context=product_context("sales", "orders", 4, "0" * 64))
    other = Keyset.generate("crm", source=SeededKeySource(1))
    with pytest.raises(IntegrityError, match="another domain"):
        other.unwrap(w, context=CTX)
    forged = WrappedKey("sales", w.key_id, w.nonce, bytes(len(w.ciphertext)))
    with pytest.raises(IntegrityError):
        ks.unwrap(forged, context=CTX)


@given(n_products=st.integers(1, 4), rotations=st.integers(1, 4), seed=st.integers(0, 99))
@settings(max_examples=15, deadline=None)
def test_rotation_keeps_every_old_product_readable(n_products, rotations, seed):
    ks = Keyset.generate("sales", source=SeededKeySource(seed))
    stored = []
    for i in range(n_products):
        dk = new_data_key()
        ctx = product_context("sales", f"p{i}", i, "0" * 64)
        stored.append((ctx, dk, ks.wrap(dk, context=ctx), encrypt_bytes(b"row %d" % i, dk, ctx)))
        ks.rotate()
    for r in range(rotations):
        ks.rotate()
        # re-wrap half of them, leave the others under old keys
        stored = [(c, dk, ks.rewrap(w, context=c) if j % 2 == r % 2 else w, ct)
                  for j, (c, dk, w, ct) in enumerate(stored)]
    for ctx, dk, w, ct in stored:
        key = ks.unwrap(w, context=ctx)
        assert key == dk
        assert decrypt_bytes(ct, key, ctx).startswith(b"row ")
    # after re-wrapping everything, old keys can be retired and data stays readable
    stored = [(c, dk, ks.rewrap(w, context=c), ct) for c, dk, w, ct in stored]
    for old in ks.key_ids[:-1]:
        ks.retire(old)
    assert all(ks.unwrap(w, context=c) == dk for c, dk, w, _ in stored)


def test_retire_refuses_primary_and_unknown():
    ks = Keyset.generate("sales")
    with pytest.raises(SecurityError, match="primary"):
        ks.retire(ks.primary.key_id)
    with pytest.raises(SecurityError, match="unknown key id"):
        ks.retire("nope")


def test_key_material_stays_out_of_reprs():
    ks = Keyset.generate("sales", source=SystemKeySource())
    text = repr(ks) + repr(ks.primary) + repr(ks.wrap(bytes(16), context=b"c"))
    assert ks.primary.material.hex() not in text
    assert "material" not in repr(ks.primary)


def test_seeded_source_is_reproducible_and_system_is_not():
    a = Keyset.generate("d", source=SeededKeySource(5)).primary
    b = Keyset.generate("d", source=SeededKeySource(5)).primary
    c = Keyset.generate("d", source=SeededKeySource(6)).primary
    assert a.key_id == b.key_id != c.key_id
    assert Keyset.generate("d").primary.key_id != Keyset.generate("d").primary.key_id


def test_envelope_round_trip_and_malformed():
    ks = Keyset.generate("sales")
    env = Envelope("sales", "orders", 1, "a" * 64, ks.wrap(bytes(16), context=b"c"))
    assert Envelope.from_dict(env.to_dict()) == env
    bad = env.to_dict()
    bad["wrapped_key"]["nonce"] = "***not base64***"
    with pytest.raises(IntegrityError, match="malformed wrapped data key"):
        Envelope.from_dict(bad)
    with pytest.raises(IntegrityError, match="malformed envelope"):
        Envelope.from_dict({"domain": "sales"})


# -- column protection ----------------------------------------------------------------
def _frame():
    return pl.DataFrame({"id": [1, 2, 3, 4], "email": ["a@x.io", "b@x.io", "a@x.io", None],
                         "age": [30, 41, 30, None]})


def test_deterministic_columns_join_and_randomized_do_not():
    ks = Keyset.generate("crm", source=SeededKeySource(2))
    ctx1 = product_context("crm", "customers", 0, "0" * 64)
    ctx2 = product_context("crm", "contacts", 0, "0" * 64)
    df = _frame()
    p1 = protect_frame(df, {"email": "deterministic", "age": "randomized"}, keyset=ks,
                       data_key=new_data_key(), context=ctx1)
    p2 = protect_frame(df, {"email": "deterministic"}, keyset=ks, data_key=new_data_key(),
                       context=ctx2)
    assert is_protected(p1["email"]) and is_protected(p1["age"])
    assert "a@x.io" not in str(p1.to_dicts())
    # equality preserved across products for SIV ...
    assert p1["email"][0] == p1["email"][2] == p2["email"][0]
    joined = p1.join(p2.select("email", pl.col("id").alias("id2")), on="email")
    assert sorted(joined["id"].to_list()) == [1, 1, 2, 3, 3]
    # ... and hidden for randomized GCM
    assert p1["age"][0] != p1["age"][2]
    assert p1["email"][3] is None and p1["age"][3] is None


def test_unprotect_restores_values_and_types_and_detects_tampering():
    ks = Keyset.generate("crm")
    dk, ctx = new_data_key(), product_context("crm", "customers", 0, "0" * 64)
    modes = {"email": "deterministic", "age": "randomized"}
    df = _frame()
    prot = protect_frame(df, modes, keyset=ks, data_key=dk, context=ctx)
    back = unprotect_frame(prot, modes, keyset=ks, data_key=dk, context=ctx,
                           dtypes={"email": "String", "age": "Int64"})
    assert back.equals(df)
    # a randomized value moved to another product's context fails
    with pytest.raises(IntegrityError, match="failed authentication"):
        unprotect_frame(prot, {"age": "randomized"}, keyset=ks, data_key=dk,
                        context=product_context("crm", "other", 0, "0" * 64))
    swapped = prot.with_columns(pl.Series("email", ["siv:AAAA", None, None, None]))
    with pytest.raises(IntegrityError):
        unprotect_frame(swapped, {"email": "deterministic"}, keyset=ks, data_key=dk,
                        context=ctx)
    with pytest.raises(IntegrityError, match="wrong form"):
        unprotect_frame(prot.with_columns(pl.lit("plain").alias("age")), {"age": "randomized"},
                        keyset=ks, data_key=dk, context=ctx)
    # a randomized token cut shorter than nonce + tag is an integrity failure, not a crash
    with pytest.raises(IntegrityError, match="failed authentication"):
        unprotect_frame(prot.with_columns(pl.lit("gcm:AAAA").alias("age")), {"age": "randomized"},
                        keyset=ks, data_key=dk, context=ctx)


def test_protect_unknown_mode_or_column_is_clear_error():
    ks = Keyset.generate("crm")
    with pytest.raises(SecurityError, match="unknown column protection mode"):
        protect_frame(_frame(), {"email": "rot13"}, keyset=ks, data_key=bytes(16), context=b"c")
    with pytest.raises(SecurityError, match="missing from the frame"):
        protect_frame(_frame(), {"phone": "randomized"}, keyset=ks, data_key=bytes(16),
                      context=b"c")
    for modes, message in (({"email": "rot13"}, "unknown column protection mode"),
                           ({"phone": "randomized"}, "missing from the frame")):
        with pytest.raises(SecurityError, match=message):
            protect_lazy(_frame().lazy(), modes, keyset=ks, data_key=bytes(16), context=b"c")


def test_sealed_keyset_round_trip_and_refusals():
    ks = Keyset.generate("crm")
    ks.rotate()
    master = os.urandom(32)
    doc = ks.seal(master)
    assert ks.primary.material.hex() not in str(doc)
    back = Keyset.unseal(doc, master)
    assert back.key_ids == ks.key_ids and back.primary.created == ks.primary.created
    w = ks.wrap(bytes(16), context=CTX)
    assert back.unwrap(w, context=CTX) == bytes(16)
    assert back.join_key("email") == ks.join_key("email")
    with pytest.raises(IntegrityError, match="does not open"):
        Keyset.unseal(doc, os.urandom(32))
    renamed = dict(doc, keys=[dict(k) for k in doc["keys"]])
    renamed["keys"][0]["key_id"] = "crm-k9-evil"
    with pytest.raises(IntegrityError, match="does not open"):
        Keyset.unseal(renamed, master)
    # the clear metadata is bound too: back-dating a key or stretching the rotation age
    # (to hide an overdue rotation from the posture report) does not open
    backdated = dict(doc, keys=[dict(k) for k in doc["keys"]])
    backdated["keys"][-1]["created"] = "2099-01-01T00:00:00+00:00"
    for altered in (backdated, dict(doc, max_age_days=36500.0)):
        with pytest.raises(IntegrityError, match="does not open"):
            Keyset.unseal(altered, master)
    with pytest.raises(IntegrityError, match="malformed sealed keyset"):
        Keyset.unseal({"domain": "crm"}, master)
    with pytest.raises(SecurityError, match="32 bytes"):
        ks.seal(b"short")
