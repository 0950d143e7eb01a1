"""The decision, the secure read path (publish/read/rotate), attacks refused, posture."""

import hashlib
import shutil
from datetime import datetime, timezone

import polars as pl
import pytest

import meshkit as mk
from meshkit import AuthenticationError, AuthorizationError, IntegrityError, SecurityError
from meshkit import Identity, Policy, Principal, ProductInfo, SecureStore, SecurityModel, posture, security, use_model
from meshkit._security.keys import SeededKeySource

T0 = 1_800_000_000
CUSTOMERS = ProductInfo("customers", "crm", owner="cleo", columns=("id", "email", "region", "age"),
                        pii_columns=("email", "age"))
LEADS = ProductInfo("leads", "crm", owner="cleo", columns=("lead", "email"), pii_columns=("email",))
ORDERS = ProductInfo("orders", "sales", owner="sam", columns=("id", "amount"))
FRAME = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["a@x.io", "b@y.io", "c@x.io", None],
                      "region": ["north", "south", "north", "south"], "age": [31, 42, 53, 64]})


@pytest.fixture()
def world(tmp_path):
    src = SeededKeySource(3)
    ids = {n: Identity.generate(Principal(n, domain=d, roles=r), source=src)
           for n, d, r in [("cleo", "crm", ("owner",)), ("sam", "sales", ("owner",)),
                           ("ana", "marketing", ("analyst",))]}
    model = SecurityModel.build([CUSTOMERS, LEADS, ORDERS], identities=ids.values(),
                                source=src, clock=lambda: T0, audit_path=tmp_path / "audit.jsonl")
    store = SecureStore(tmp_path / "secure", model)
    store.publish("customers", FRAME, ids["cleo"])
    return model, store, ids


def _token(ident, now=T0, **kw):
    return ident.issue_token(audience="meshkit", now=now, **kw)


def test_owner_round_trip_and_no_plaintext_on_disk(world):
    model, store, ids = world
    assert store.read("customers", ids["cleo"]).equals(FRAME)
    blob = store.blob_path("customers", 0).read_bytes()
    manifest = store.manifest_path("customers", 0).read_text()
    for secret in (b"a@x.io", b"north", b"email"):
        assert secret not in blob
    assert "a@x.io" not in manifest
    assert store.manifest("customers", 0)["protected"] == {"email": "deterministic",
                                                           "age": "randomized"}


def test_denied_read_returns_no_data_and_is_audited(world):
    model, store, ids = world
    before = len(model.audit)
    with pytest.raises(AuthorizationError) as err:
        store.read("customers", _token(ids["ana"]))
    d = err.value.decision
    assert not d.allowed and d.layer("authorization").passed is False
    assert "deny by default" in d.layer("authorization").reason
    assert len(model.audit) == before + 1
    assert model.audit.records()[-1]["allowed"] is False
    assert model.audit.verify().ok


def test_allowed_read_returns_only_what_the_grant_allows(world):
    model, store, ids = world
    model.policy.grant(principal="ana", product="customers", action="read",
                       columns=["id", "email", "age"], masks={"email": "partial", "age": "redact"},
                       row_filter="region == 'north'")
    out = store.read("customers", _token(ids["ana"]))
    assert out.columns == ["id", "email", "age"]
    assert out["id"].to_list() == [1, 3]
    assert out["email"].to_list() == ["***@x.io", "***@x.io"]
    assert out["age"].null_count() == 2


def test_column_outside_grant_and_expired_grant(world):
    model, store, ids = world
    model.policy.grant(principal="ana", product="customers", action="read", columns=["id"],
                       expires=datetime.fromtimestamp(T0 + 3600, timezone.utc).isoformat())
    assert store.read("customers", _token(ids["ana"]), columns=["id"]).height == 4
    with pytest.raises(AuthorizationError, match="outside the grant"):
        store.read("customers", _token(ids["ana"]), columns=["id", "email"])
    later = T0 + 7200
    with pytest.raises(AuthorizationError, match="expired"):
        store.read("customers", _token(ids["ana"], now=later), now=later)


@pytest.mark.parametrize("attack", ["forged", "expired", "audience", "none"])
def test_authentication_attacks(world, attack):
    model, store, ids = world
    import base64
    import json

    def b64(o):
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    tokens = {
        "forged": Identity.generate(Principal("cleo"), source=SeededKeySource(66))
        .issue_token(audience="meshkit", now=T0),
        "expired": _token(ids["cleo"], now=T0 - 3600, ttl=60),
        "audience": ids["cleo"].issue_token(audience="elsewhere", now=T0),
        "none": b64({"alg": "none", "kid": "cleo"}) + "." + b64(
            {"sub": "cleo", "iss": "cleo", "aud": "meshkit", "iat": T0, "exp": T0 + 60}) + ".",
    }
    with pytest.raises(AuthenticationError) as err:
        store.read("customers", tokens[attack])
    d = err.value.decision
    assert d.layer("authentication").passed is False
    assert d.layer("authorization").passed is None
    assert model.audit.records()[-1]["layers"]["authentication"]["passed"] is False


def test_tampered_ciphertext_is_refused_and_audited(world):
    model, store, ids = world
    path = store.blob_path("customers", 0)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="failed authentication"):
        store.read("customers", ids["cleo"])
    assert model.audit.records()[-1]["event"] == "integrity_failure"


def test_ciphertext_moved_to_another_product_or_version(world):
    model, store, ids = world
    store.publish("leads", pl.DataFrame({"lead": [1], "email": ["z@x.io"]}), ids["cleo"])
    store.publish("customers", FRAME.head(2), ids["cleo"])
    # blob of customers v0 copied over leads v0
    shutil.copy(store.blob_path("customers", 0), store.blob_path("leads", 0))
    with pytest.raises(IntegrityError):
        store.read("leads", ids["cleo"])
    # customers v0 blob copied over customers v1 (same product, other version)
    shutil.copy(store.blob_path("customers", 0), store.blob_path("customers", 1))
    with pytest.raises(IntegrityError):
        store.read("customers", ids["cleo"], version=1)
    # blob and manifest moved together: the manifest says where it belongs
    shutil.copy(store.manifest_path("customers", 0), store.manifest_path("leads", 0))
    with pytest.raises(IntegrityError, match="another product"):
        store.read("leads", ids["cleo"])
    assert store.read("customers", ids["cleo"], version=0).equals(FRAME)


def test_publish_needs_permission_and_leaves_nothing(world):
    model, store, ids = world
    with pytest.raises(AuthorizationError):
        store.publish("orders", pl.DataFrame({"id": [1], "amount": [2.0]}), ids["cleo"])
    assert store.versions("orders") == []
    model.policy.grant(principal="cleo", product="orders", action="publish")
    assert store.publish("orders", pl.DataFrame({"id": [1], "amount": [2.0]}).lazy(),
                         ids["cleo"]).version == 0


def test_rotation_rewraps_without_reencrypting(world):
    model, store, ids = world
    store.publish("customers", FRAME.tail(2), ids["cleo"])
    digests = {v: hashlib.sha256(store.blob_path("customers", v).read_bytes()).hexdigest()
               for v in (0, 1)}
    first = model.keysets["crm"].primary.key_id
    out = store.rotate("crm", now=T0 + 100 * 86400)
    assert out["rewrapped"] == 2 and out["key_id"] != first
    for v in (0, 1):
        assert store.manifest("customers", v)["envelope"]["wrapped_key"]["key_id"] == out["key_id"]
        assert hashlib.sha256(store.blob_path("customers", v).read_bytes()).hexdigest() == \
            digests[v]
    store.publish("customers", FRAME, ids["cleo"])
    store.rotate("crm")
    model.keysets["crm"].retire(first)
    for v, expected in ((0, FRAME), (1, FRAME.tail(2)), (2, FRAME)):
        assert store.read("customers", ids["cleo"], version=v).equals(expected)


def test_tokenize_mask_gives_joinable_tokens(tmp_path):
    src = SeededKeySource(9)
    cleo = Identity.generate(Principal("cleo", domain="crm"), source=src)
    ana = Identity.generate(Principal("ana", domain="marketing"), source=src)
    model = SecurityModel.build([CUSTOMERS, LEADS], identities=[cleo, ana], source=src,
                                clock=lambda: T0)
    store = SecureStore(tmp_path, model)
    assert store.deterministic == {"email"}  # email appears in two products
    store.publish("customers", FRAME, cleo)
    store.publish("leads", pl.DataFrame({"lead": [7, 8], "email": ["c@x.io", "q@q.io"]}), cleo)
    for product in ("customers", "leads"):
        model.policy.grant(principal="ana", product=product, action="read",
                           masks={"email": "tokenize"})
    a = store.read("customers", ana)
    b = store.read("leads", ana)
    assert "c@x.io" not in a["email"].to_list()
    joined = a.join(b, on="email")
    assert joined.select("id", "lead").rows() == [(3, 7)]


def test_decision_layers_and_rendering(world):
    model, store, ids = world
    d = security("customers", ids["cleo"], "read", model=model)
    assert d.allowed and [layer.name for layer in d.layers] == ["encryption", "authentication",
                                                                "authorization"]
    assert "v0 encrypted" in d.layer("encryption").reason
    assert "email (deterministic)" in d.layer("encryption").reason
    text, page = str(d), d._repr_html_()
    assert text.startswith("ALLOWED") and "cleo owns domain crm" in text
    assert "ALLOWED" in page and "<table" in page
    assert str(security("customers", ids["cleo"], "read", model=model)) == text
    unknown = security("nope", ids["cleo"], "read", model=model)
    assert not unknown.allowed and "unknown product" in unknown.reason
    orders = security("orders", ids["sam"], "read", model=model)
    assert not orders.allowed and "no encrypted version" in orders.layer("encryption").reason
    with pytest.raises(SecurityError, match="no security model"):
        security("customers", ids["cleo"])
    with use_model(model):
        assert mk.security("customers", ids["cleo"], "read").allowed


def test_bare_principals_prove_nothing_unless_trusted(world):
    model, store, ids = world
    d = model.decide("customers", ids["cleo"].principal, "read")
    assert not d.allowed and "proves nothing" in d.layer("authentication").reason
    model.trust_principals = True
    assert model.decide("customers", ids["cleo"].principal, "read").allowed
    assert not model.decide("customers", Principal("ghost"), "read").allowed
    assert not model.decide("customers", 12345, "read").allowed


def test_audit_log_survives_a_session_and_detects_edits(world):
    model, store, ids = world
    for who in ("ana", "sam", "cleo"):
        security("customers", ids[who], "read", model=model)
    from meshkit import AuditLog
    assert AuditLog.verify_file(model.audit.path, model.audit.public_key).ok
    lines = model.audit.path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"allowed":false', b'"allowed":true')
    model.audit.path.write_bytes(b"\n".join(lines) + b"\n")
    result = AuditLog.verify_file(model.audit.path, model.audit.public_key)
    assert not result.ok and result.first_bad == 2


def test_posture_counts(world):
    model, store, ids = world
    model.policy.grant(principal="ana", product="customers", action="read")  # PII in clear
    model.policy.grant(principal="ana", product="customers", action="read", columns=["id"],
                       expires=datetime.fromtimestamp(T0 + 86400, timezone.utc).isoformat())
    report = posture(model, now=T0 + 200 * 86400)
    rows = {r["domain"]: r for r in report.rows}
    assert rows["crm"]["products"] == 2 and rows["crm"]["products_encrypted"] == 1
    assert rows["crm"]["pii_columns"] == 3 and rows["crm"]["pii_protected"] == 2
    assert rows["crm"]["broad_grants"] == 1
    assert rows["crm"]["keys_past_rotation"] == 1 and rows["sales"]["products_encrypted"] == 0
    assert posture(model, now=T0)._repr_html_().count("<tr>") == 3
    assert "keys_past_rotation" in str(report)
    assert report.to_frame().height == 2


def test_retail_mesh_end_to_end(tmp_path):
    from meshkit.scenarios import load_scenario

    sc = load_scenario("retail", scale=0.2, seed=1)
    src = SeededKeySource(1)
    owners = {p.owner: p.domain for p in sc.mesh.products()}
    ids = [Identity.generate(Principal(o, domain=d, roles=("owner",)), source=src)
           for o, d in owners.items()]
    model = SecurityModel.build(sc.mesh, identities=ids, source=src, clock=lambda: T0)
    store = SecureStore(tmp_path, model)
    by_owner = {i.principal.name: i for i in ids}
    for p in sc.mesh.products():
        store.publish(p, sc.frames[p.name], by_owner[p.owner])
    pii = next(p for p in sc.mesh.products() if p.contract.pii_columns)
    status = store.status()
    assert status["encrypted"].all()
    assert status.filter(pl.col("product") == pii.name)["pii_protected"].item() == \
        len(pii.contract.pii_columns)
    owner = by_owner[pii.owner]
    assert store.read(pii, owner).equals(sc.frames[pii.name])
    stranger = next(i for i in ids if i.principal.domain != pii.domain)
    with pytest.raises(AuthorizationError):
        store.read(pii, stranger)


def test_for_mesh_checks_policy_and_principal_specs(tmp_path):
    from meshkit import PolicyError
    from meshkit.scenarios import load_scenario

    mesh = load_scenario("retail", scale=0.1, seed=0).mesh
    bad = Policy.from_dict({"grants": [{"principal": "ana", "product": "invoices",
                                        "action": "read"}]})
    with pytest.raises(PolicyError, match="product that does not exist") as err:
        SecurityModel.for_mesh(mesh, policy=bad, source=SeededKeySource(0))
    assert err.value.where.endswith(".product") and "invoices" in err.value.found
    with pytest.raises(PolicyError, match="unknown field in principal") as err:
        SecurityModel.for_mesh(mesh, principals=[{"name": "ana", "team": "x"}])
    assert err.value.where == "principals[0].team"
    model, people = SecurityModel.for_mesh(mesh, principals=[{"name": "ana", "roles": ["a"]}],
                                           source=SeededKeySource(0), clock=lambda: T0)
    owners = {p.owner for p in mesh.products()}
    assert owners | {"ana"} == set(people)
    assert all("owner" in people[o].principal.roles for o in owners)


def test_attempt_records_how_an_attack_was_refused(world):
    from meshkit.tutorial.attacks import attempt, flipped_byte, swapped_file
    from meshkit.tutorial.attacks import outcomes_table

    model, store, ids = world
    blob = store.blob_path("customers", 0)
    before = blob.read_bytes()
    with flipped_byte(blob):
        assert blob.read_bytes() != before
        out = attempt("tamper", lambda: store.read("customers", ids["cleo"]))
    assert blob.read_bytes() == before
    assert out.refused and out.layer == "encryption/integrity" and out.error == "IntegrityError"
    ok = attempt("legit read", lambda: store.read("customers", ids["cleo"]))
    assert not ok.refused and "NOT REFUSED" in str(ok)
    denied = attempt("decision", lambda: security("customers", ids["ana"], model=model))
    assert denied.refused and denied.layer == "decision"
    store.publish("leads", pl.DataFrame({"lead": [1], "email": ["z@x.io"]}), ids["cleo"])
    with swapped_file(blob, store.blob_path("leads", 0)):
        moved = attempt("moved", lambda: store.read("leads", ids["cleo"]))
    assert moved.refused
    assert store.read("leads", ids["cleo"]).height == 1
    table = outcomes_table([out, ok, denied, moved])
    assert table["refused"].to_list() == [True, False, True, True]


def test_lazy_publish_protects_pii_batch_by_batch(world, tmp_path):
    model, store, ids = world
    big = pl.DataFrame({"id": range(5000), "email": [f"u{i % 700}@x.io" for i in range(5000)],
                        "region": ["north", "south"] * 2500, "age": list(range(5000))})
    path = tmp_path / "big.parquet"
    big.write_parquet(path, row_group_size=1000)
    pub = store.publish("customers", pl.scan_parquet(path), ids["cleo"])
    assert pub.rows == 5000 and pub.protected == {"email": "deterministic", "age": "randomized"}
    blob = store.blob_path("customers", pub.version).read_bytes()
    assert b"u1@x.io" not in blob
    back = store.read("customers", ids["cleo"], version=pub.version)
    assert back.sort("id").equals(big)
    # deterministic tokens are the same batch by batch and equal to the eager tokens
    from meshkit._security.columns import tokenize_values

    model.policy.grant(principal="ana", product="customers", action="read",
                       masks={"email": "tokenize"})
    lazy = store.read("customers", ids["ana"], version=pub.version)
    t1 = lazy.filter(pl.col("id") == 1)["email"].item()
    assert t1 == lazy.filter(pl.col("id") == 4901)["email"].item()  # rows in other batches
    assert t1 == tokenize_values(["u1@x.io"], keyset=model.keysets["crm"], column="email")[0]


def test_store_reopens_in_a_new_process_with_sealed_keysets(world, tmp_path):
    import os

    from meshkit import Keyset

    model, store, ids = world
    master = os.urandom(32)
    sealed = {d: ks.seal(master) for d, ks in model.keysets.items()}
    # a new model (as in another process): same products and principals, keys unsealed
    fresh = SecurityModel.build([CUSTOMERS, LEADS, ORDERS], identities=ids.values(),
                                clock=lambda: T0)
    fresh.keysets = {d: Keyset.unseal(doc, master) for d, doc in sealed.items()}
    reopened = SecureStore(store.root, fresh)
    assert reopened.versions("customers") == [0]
    assert reopened.read("customers", ids["cleo"]).equals(FRAME)
    # without the domain's keys, nothing decrypts
    fresh.keysets["crm"] = Keyset.generate("crm")
    with pytest.raises(IntegrityError, match="does not hold"):
        reopened.read("customers", ids["cleo"])


def test_a_grant_of_no_columns_is_audited_as_none_not_as_all(world):
    model, store, ids = world
    model.policy.grant(principal="ana", product="customers", action="read", columns=[])
    d = model.decide("customers", _token(ids["ana"]), "read")
    assert d.allowed and d.access.columns == ()
    assert model.audit.records()[-1]["columns"] == []
    assert "columns: none;" in d._repr_html_()
    assert store.read("customers", _token(ids["ana"])).width == 0


def test_grants_combine_row_by_row_on_the_secure_read_path(world):
    # grant A: email in clear on northern rows; grant B: every row, email redacted
    model, store, ids = world
    model.policy.grant(id="north-clear", principal="ana", product="customers", action="read",
                       columns=["id", "email"], row_filter="region == 'north'")
    model.policy.grant(id="all-redacted", principal="ana", product="customers", action="read",
                       columns=["id", "email"], masks={"email": "redact"})
    out = store.read("customers", _token(ids["ana"]))
    assert out.columns == ["id", "email"]
    assert out["id"].to_list() == [1, 2, 3, 4]
    assert out["email"].to_list() == ["a@x.io", None, "c@x.io", None]
    entry = model.audit.records()[-1]
    assert entry["allowed"] is True
    assert [g["id"] for g in entry["grants"]] == ["north-clear", "all-redacted"]
    assert entry["grants"][0]["row_filter"] == "region == 'north'"
    assert entry["grants"][1] == {"id": "all-redacted", "row_filter": None,
                                  "columns": ["id", "email"], "masks": {"email": "redact"}}
    d = model.decide("customers", _token(ids["ana"]), "read")
    assert "grant north-clear: rows region == 'north'" in str(d)
    assert "all-redacted: rows all" in d._repr_html_()


def test_tokenized_and_clear_rows_of_one_column(world):
    from meshkit._security.columns import tokenize_values

    model, store, ids = world
    model.policy.grant(principal="ana", product="customers", action="read",
                       columns=["id", "email", "age"], row_filter="region == 'north'")
    model.policy.grant(principal="ana", product="customers", action="read",
                       columns=["id", "email", "age"],
                       masks={"email": "tokenize", "age": "partial"})
    out = store.read("customers", _token(ids["ana"]))
    keyset = model.keysets["crm"]
    # deterministic email: clear in the north, the stored AES-SIV token elsewhere
    assert out["email"].to_list() == ["a@x.io", *tokenize_values(["b@y.io"], keyset=keyset,
                                                                 column="email"),
                                      "c@x.io", None]
    # randomized age: clear in the north, partial (too short to show any of it) elsewhere
    assert out["age"].to_list() == ["31", "***", "53", "***"]
    # a reader granted only the token sees the same token (joins still work)
    model.policy.grant(principal="sam", product="customers", action="read",
                       masks={"email": "tokenize"})
    tokens = store.read("customers", _token(ids["sam"]), columns=["id", "email"])
    assert tokens["email"][1] == out["email"][1]
