"""The decision, the secure read path (publish/read/rotate), attacks refused, posture."""

import hashlib
import shutil
from datetime import datetime, timezone

import polars as pl
import pytest

import meshkit as mk
from meshkit import AuthenticationError, AuthorizationError, IntegrityError, PolicyError, SecurityError, StoreError
from meshkit import ProductStore
from meshkit import Identity, Policy, Principal, ProductInfo, SecureStore, SecurityModel, posture, security, use_model
from meshkit._security.keys import SeededKeySource

T0 = 1_800_000_000
CUSTOMERS = ProductInfo("customers", "crm", owner="cleo", columns=("id", "email", "region", "age"),
                        pii_columns=("email", "age"))
LEADS = ProductInfo("leads", "crm", owner="cleo", columns=("lead", "email"), pii_columns=("email",))
ORDERS = ProductInfo("orders", "sales", owner="sam", columns=("id", "amount"))
FRAME = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["a@x.io", "b@y.io", "c@x.io", None],
                      "region": ["north", "south", "north", "south"], "age": [31, 42, 53, 64]})


class Clock:
    """A test clock given to the model when it is built; the test moves it."""

    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture()
def world(tmp_path):
    src = SeededKeySource(3)
    ids = {n: Identity.generate(Principal(n, domain=d, roles=r), source=src)
           for n, d, r in [("cleo", "crm", ("owner",)), ("sam", "sales", ("owner",)),
                           ("ana", "marketing", ("analyst",))]}
    model = SecurityModel.build([CUSTOMERS, LEADS, ORDERS], identities=ids.values(),
                                source=src, clock=Clock(T0), audit_path=tmp_path / "audit.jsonl")
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
    model.clock.t = later  # the model's clock moved on: the grant has expired
    with pytest.raises(AuthorizationError, match="expired"):
        store.read("customers", _token(ids["ana"], now=later))


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
    model.clock.t = T0 + 100 * 86400
    out = store.rotate("crm")
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
    assert AuditLog.verify_file(model.audit.path, model.audit.public_key,
                               log_id=model.audit.log_id).ok
    lines = model.audit.path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"allowed":false', b'"allowed":true')
    model.audit.path.write_bytes(b"\n".join(lines) + b"\n")
    result = AuditLog.verify_file(model.audit.path, model.audit.public_key,
                               log_id=model.audit.log_id)
    assert not result.ok and result.first_bad == 2


def test_posture_counts(world):
    model, store, ids = world
    model.policy.grant(principal="ana", product="customers", action="read")  # PII in clear
    model.policy.grant(principal="ana", product="customers", action="read", columns=["id"],
                       expires=datetime.fromtimestamp(T0 + 86400, timezone.utc).isoformat())
    model.clock.t = T0 + 200 * 86400
    report = posture(model)
    rows = {r["domain"]: r for r in report.rows}
    assert rows["crm"]["products"] == 2 and rows["crm"]["products_encrypted"] == 1
    assert rows["crm"]["pii_columns"] == 3 and rows["crm"]["pii_protected"] == 2
    assert rows["crm"]["broad_grants"] == 1
    assert rows["crm"]["keys_past_rotation"] == 1 and rows["sales"]["products_encrypted"] == 0
    model.clock.t = T0
    assert posture(model)._repr_html_().count("<tr>") == 3
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


# -- nothing that decides access is taken from the caller ------------------------------
def test_a_marketing_token_plus_purpose_fraud_gets_no_pii_in_clear(world):
    model, store, ids = world
    model.policy.grant(id="fraud", principal="ana", product="customers", action="read",
                       columns=["id", "email"], purpose="fraud")
    model.policy.grant(id="marketing", principal="ana", product="customers", action="read",
                       columns=["id", "email"], masks={"email": "redact"}, purpose="marketing")
    marketing = _token(ids["ana"], purpose="marketing")
    # the purpose is no longer an argument anyone can pass on a read or a decision
    with pytest.raises(TypeError):
        store.read("customers", marketing, purpose="fraud")
    with pytest.raises(TypeError):
        security("customers", marketing, "read", model=model, purpose="fraud")
    with pytest.raises(TypeError):
        model.decide("customers", marketing, "read", purpose="fraud")
    out = store.read("customers", marketing)
    assert out["email"].null_count() == out.height  # redacted: no name, no e-mail in clear
    assert not set(FRAME["email"].drop_nulls()) & set(out["email"].drop_nulls())
    entry = model.audit.records()[-1]
    assert entry["purpose"] == "marketing" and [g["id"] for g in entry["grants"]] == ["marketing"]
    # the purpose bound into a token at issue time is what the fraud grant is checked against
    fraud = store.read("customers", _token(ids["ana"], purpose="fraud"))
    assert fraud["email"].to_list() == FRAME["email"].to_list()
    # no purpose stated: neither grant applies
    with pytest.raises(AuthorizationError, match="purpose"):
        store.read("customers", _token(ids["ana"]))


def test_now_2017_cannot_revive_an_expired_grant_or_token(world):
    model, store, ids = world
    y2017 = int(datetime(2017, 1, 1, tzinfo=timezone.utc).timestamp())
    model.policy.grant(principal="ana", product="customers", action="read", columns=["id"],
                       expires=datetime.fromtimestamp(T0 - 86400, timezone.utc).isoformat())
    for call in (lambda: store.read("customers", _token(ids["ana"]), now=y2017),
                 lambda: model.decide("customers", _token(ids["ana"]), "read", now=y2017),
                 lambda: security("customers", _token(ids["ana"]), model=model, now=y2017),
                 lambda: posture(model, now=y2017)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(AuthorizationError, match="expired"):
        store.read("customers", _token(ids["ana"]))
    month_old = _token(ids["ana"], now=T0 - 30 * 86400, ttl=900)
    with pytest.raises(AuthenticationError, match="expired"):
        store.read("customers", month_old)
    # an event cannot carry a time of its own choosing either
    with pytest.raises(SecurityError, match="clock"):
        model.record("note", time=y2017)
    assert {r["time"] for r in model.audit.records()} == {T0}  # no forged time was logged


def test_a_known_principal_with_another_key_is_refused_unless_rotated(world):
    model, store, ids = world
    impostor = Identity.generate(ids["cleo"].principal)  # same principal, another key
    with pytest.raises(AuthenticationError, match="another key"):
        model.directory.add(impostor)
    with pytest.raises(AuthenticationError, match="other attributes"):
        model.directory.add(Identity.generate(Principal("cleo", domain="crm", roles=("admin",)),
                                              source=SeededKeySource(3)))
    model.directory.add(ids["cleo"])  # the same key again changes nothing
    assert store.read("customers", _token(ids["cleo"])).equals(FRAME)
    assert not model.decide("customers", _token(impostor), "read").allowed
    model.rotate_principal_key(impostor)  # an explicit, audited rotation
    assert model.audit.records()[-1]["event"] == "principal_key_rotation"
    assert model.decide("customers", _token(impostor), "read").allowed
    old = model.decide("customers", _token(ids["cleo"]), "read")
    assert not old.allowed and "does not verify" in old.layer("authentication").reason
    with pytest.raises(AuthenticationError, match="unknown principal"):
        model.directory.rotate(Identity.generate(Principal("zed")))


def test_a_deny_or_grant_naming_an_unknown_product_is_refused_when_built(world):
    from meshkit import PolicyError

    model, store, ids = world
    with pytest.raises(PolicyError, match="product that does not exist") as err:
        SecurityModel.build([CUSTOMERS, ORDERS], policy=Policy.from_dict(
            {"denies": [{"principal": "ana", "product": "Customers"}]}), clock=lambda: T0)
    assert "Customers" in err.value.found and err.value.where.endswith(".product")
    with pytest.raises(PolicyError, match="domain that does not exist"):
        SecurityModel.build([CUSTOMERS], policy=Policy.from_dict(
            {"grants": [{"role": "analyst", "domain": "CRM", "action": "read"}]}),
            clock=lambda: T0)
    # added to a built model's policy: refused at once, the policy unchanged
    before = (len(model.policy.grants), len(model.policy.denies))
    with pytest.raises(PolicyError, match="product that does not exist"):
        model.policy.deny(principal="ana", product="Customers")
    with pytest.raises(PolicyError, match="product that does not exist"):
        model.policy.grant(principal="ana", product="Customers", action="read")
    assert (len(model.policy.grants), len(model.policy.denies)) == before
    model.policy.deny(principal="ana", product="customers")
    model.policy.grant(principal="ana", product="customers", action="read")
    assert "explicit deny" in model.decide("customers", _token(ids["ana"])).reason


def test_grant_filters_on_unknown_columns_or_wrong_types_are_refused_at_build():
    from meshkit import PolicyError

    typed = ProductInfo("customers", "crm", owner="cleo", columns=("id", "region", "age"),
                        types=(("id", "integer"), ("region", "string"), ("age", "integer")))
    for row_filter, message in (("regoin == 'north'", "does not have"),
                                ("age > '30'", "another type"),
                                ("region == 3", "another type"),
                                ("age in [1, 'x']", "of one type"),
                                ("age > True", "another type")):
        with pytest.raises(PolicyError, match=message) as err:
            policy = Policy.from_dict({"grants": [{"principal": "ana", "product": "customers",
                                                   "action": "read", "row_filter": row_filter}]})
            SecurityModel.build([typed], policy=policy, clock=lambda: T0)
        assert err.value.where.endswith(".row_filter")
    # a domain-wide grant's filter must run on every product of the domain
    other = ProductInfo("leads", "crm", owner="cleo", columns=("lead",), types=(("lead", "integer"),))
    with pytest.raises(PolicyError, match="does not have"):
        Policy.from_dict({"grants": [{"role": "analyst", "domain": "crm", "action": "read",
                                      "row_filter": "age > 30"}]}, products=[typed, other])
    ok = Policy.from_dict({"grants": [{"principal": "ana", "product": "customers",
                                       "action": "read",
                                       "row_filter": "age >= 30 and region in ['north']"}]},
                          products=[typed])
    assert len(ok.grants) == 1


def test_a_malformed_manifest_is_a_meshkit_error_and_the_attempt_is_audited(world):
    model, store, ids = world
    before = len(model.audit)
    # a protected product's manifest is its Delta log entry
    store.manifest_path("customers", 0).write_text("{not json")
    with pytest.raises(IntegrityError, match="Delta log cannot be read"):
        store.read("customers", ids["cleo"])
    assert len(model.audit) == before + 1
    entry = model.audit.records()[-1]
    assert entry["allowed"] is False and entry["layers"]["encryption"]["passed"] is False
    assert "IntegrityError" in entry["layers"]["encryption"]["reason"]
    assert model.audit.verify().ok


# -- property: through the whole decision (bound policy, purpose from the token) --------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SUBJECTS = [{"principal": "ana"}, {"role": "analyst"}, {"principal": "sam"}]
_SCOPES = [{"product": "customers"}, {"product": "orders"}, {"domain": "crm"}]
_grant_st = st.fixed_dictionaries(
    {"action": st.sampled_from(["read", "write"]), "subject": st.sampled_from(_SUBJECTS),
     "scope": st.sampled_from(_SCOPES)},
    optional={"masks": st.dictionaries(st.just("email"), st.sampled_from(["partial", "redact"]),
                                       max_size=1),
              "purpose": st.sampled_from(["fraud", "marketing"]),
              "expires": st.sampled_from([T0 - 60, T0 + 60])},
).map(lambda g: {**{k: v for k, v in g.items() if k not in ("subject", "scope")},
                 **g["subject"], **g["scope"]}).filter(
    lambda g: not (g.get("masks") and g.get("product") == "orders"))  # orders has no email
_deny_st = st.tuples(st.sampled_from(_SUBJECTS), st.sampled_from(_SCOPES + [{}]),
                     st.sampled_from(["*", "read", "write"])).map(
    lambda t: {**t[0], **t[1], "action": t[2]})
_ask_st = st.tuples(st.sampled_from(["ana", "sam"]), st.sampled_from(["customers", "orders"]),
                    st.sampled_from(["read", "write"]),
                    st.sampled_from([None, "fraud", "marketing"]))
_PEOPLE = {n: Identity.generate(Principal(n, domain=d, roles=("analyst",)),
                                source=SeededKeySource(5))
           for n, d in (("ana", "marketing"), ("sam", "sales"))}


def _levels(model, asks):
    out = []
    for who, product, action, purpose in asks:
        d = model.decide(product, _token(_PEOPLE[who], purpose=purpose), action)
        access = d.access
        allowed = bool(access is not None and access.allowed)
        out.append((allowed, {c: access.level(c) if allowed else 0
                              for c in model.products[product].columns}))
    return out


@given(grants=st.lists(_grant_st, min_size=1, max_size=5), deny=_deny_st,
       which=st.integers(0, 4), asks=st.lists(_ask_st, min_size=1, max_size=5))
@settings(max_examples=40, deadline=None)
def test_a_deny_or_a_removed_grant_never_widens_a_decision(grants, deny, which, asks):
    model = SecurityModel.build([CUSTOMERS, ORDERS], identities=_PEOPLE.values(),
                                policy=Policy.from_dict({"grants": grants}), clock=lambda: T0)
    before = _levels(model, asks)
    for change in ("deny", "remove"):
        if change == "deny":
            model.policy.deny(**deny)
        else:
            model.policy.remove_grant(model.policy.grants[which % len(model.policy.grants)].id)
        after = _levels(model, asks)
        for (was, old), (now, new) in zip(before, after):
            assert was or not now
            assert all(new[c] <= old[c] for c in new)
        before = after


def test_a_duplicated_column_request_is_a_meshkit_error_on_both_read_paths(world, tmp_path):
    # found by the adversarial review: polars raised its own DuplicateError from inside a read
    model, store, ids = world
    with pytest.raises(PolicyError, match="requested more than once") as err:
        store.read("customers", ids["cleo"], columns=["email", "email"])
    assert err.value.found == ["email"]
    plain = ProductStore(tmp_path / "plain")
    plain.publish("customers", FRAME)
    with pytest.raises(StoreError, match="requested more than once"):
        plain.read("customers", columns=["email", "age", "email"])
