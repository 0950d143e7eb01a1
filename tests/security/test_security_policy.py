"""Authorization: deny by default, explicit denies, ownership, requests, masks, row filters."""

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit import PolicyError
from meshkit._security.policy import (ACTIONS, MASKS, AccessResult, Grant, GrantAccess, Policy,
                                     ProductInfo, access_levels, apply_access,
                                     parse_row_filter)
from meshkit._security.tokens import Principal

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
ORDERS = ProductInfo("orders", "sales", owner="sam", columns=("id", "email", "region", "amount"),
                     pii_columns=("email",))
CUSTOMERS = ProductInfo("customers", "crm", owner="cleo", columns=("id", "email", "name"),
                        pii_columns=("email", "name"))
PRODUCTS = [ORDERS, CUSTOMERS]
ANA = Principal("ana", domain="marketing", roles=("analyst",))
SAM = Principal("sam", domain="sales", roles=("owner",))
CLEO = Principal("cleo", domain="crm", roles=("owner",))


def test_deny_by_default_and_unknowns():
    p = Policy()
    assert not p.authorize(ANA, ORDERS, "read", now=NOW).allowed
    assert "deny by default" in p.authorize(ANA, ORDERS, "read", now=NOW).reason
    assert not p.authorize(None, ORDERS, "read", now=NOW).allowed
    p.grant(principal="ana", product="orders", action="read")
    r = p.authorize(ANA, ORDERS, "delete", now=NOW)
    assert not r.allowed and "unknown action" in r.reason
    stranger = Principal("zed")
    assert not p.authorize(stranger, ORDERS, "read", now=NOW).allowed
    unknown_product = ProductInfo("ghost", "sales")
    assert not p.authorize(ANA, unknown_product, "read", now=NOW).allowed


def test_grant_by_role_and_domain_scope():
    p = Policy()
    p.grant(role="analyst", domain="sales", action="read", columns=["id", "amount"])
    r = p.authorize(ANA, ORDERS, "read", now=NOW)
    assert r.allowed and r.columns == ("id", "amount")
    assert not p.authorize(ANA, CUSTOMERS, "read", now=NOW).allowed
    assert not p.authorize(ANA, ORDERS, "write", now=NOW).allowed


def test_column_outside_the_grant_is_denied():
    p = Policy()
    p.grant(principal="ana", product="orders", action="read", columns=["id", "amount"])
    assert p.authorize(ANA, ORDERS, "read", now=NOW, columns=["amount"]).allowed
    r = p.authorize(ANA, ORDERS, "read", now=NOW, columns=["amount", "email"])
    assert not r.allowed and "'email' is outside the grant" in r.reason


def test_explicit_deny_beats_grant():
    p = Policy()
    p.grant(principal="ana", product="orders", action="read")
    p.deny(role="analyst", domain="sales", reason="quarter close")
    r = p.authorize(ANA, ORDERS, "read", now=NOW)
    assert not r.allowed and "explicit deny d1: quarter close" in r.reason


def test_expired_grant_and_purpose():
    p = Policy()
    p.grant(principal="ana", product="orders", action="read",
            expires=(NOW - timedelta(days=1)).isoformat())
    r = p.authorize(ANA, ORDERS, "read", now=NOW)
    assert not r.allowed and "expired" in r.reason
    assert p.authorize(ANA, ORDERS, "read", now=NOW - timedelta(days=2)).allowed
    p.grant(principal="ana", product="orders", action="read", purpose="churn-model")
    assert not p.authorize(ANA, ORDERS, "read", now=NOW, purpose="ads").allowed
    assert p.authorize(ANA, ORDERS, "read", now=NOW, purpose="churn-model").allowed


def test_owners_administer_only_their_own_domain():
    p = Policy()
    assert p.authorize(SAM, ORDERS, "administer", now=NOW).allowed
    assert p.authorize(SAM, ORDERS, "publish", now=NOW).allowed
    assert not p.authorize(SAM, CUSTOMERS, "administer", now=NOW).allowed
    # even an explicit grant cannot give administer across domains
    p.grant(principal="sam", product="customers", action="administer")
    r = p.authorize(SAM, CUSTOMERS, "administer", now=NOW)
    assert not r.allowed and "only owners of domain crm" in r.reason
    domain_principal = Principal("crm", kind="domain", domain="crm")
    assert p.authorize(domain_principal, CUSTOMERS, "administer", now=NOW).allowed


def test_request_and_approval_by_the_owning_domain():
    p = Policy()
    req = p.request(ANA, CUSTOMERS, columns=["id", "email"], purpose="campaign")
    assert req.status == "pending"
    assert not p.authorize(ANA, CUSTOMERS, "read", now=NOW, purpose="campaign").allowed
    with pytest.raises(PolicyError, match="only an owner of the product's domain"):
        p.approve(req, SAM, CUSTOMERS)
    grant = p.approve(req, CLEO, CUSTOMERS, masks={"email": "tokenize"},
                      expires=NOW + timedelta(days=30))
    assert req.status == "approved" and req.grant_id == grant.id
    r = p.authorize(ANA, CUSTOMERS, "read", now=NOW, purpose="campaign")
    assert r.allowed and r.columns == ("id", "email") and r.masks == {"email": "tokenize"}
    with pytest.raises(PolicyError, match="already decided"):
        p.approve(req, CLEO, CUSTOMERS)


ROWS = pl.DataFrame({"id": [1, 2, 3, 4], "email": ["a@n.io", "b@s.io", "c@n.io", "d@e.io"],
                    "region": ["north", "south", "north", "east"],
                    "amount": [10.0, 20.0, 30.0, 40.0]})


def _ab_policy(order="AB"):
    grants = {"A": {"row_filter": "region == 'north'"}, "B": {"masks": {"email": "redact"}}}
    p = Policy()
    for key in order:
        p.grant(id=key, principal="ana", product="orders", action="read",
                columns=["id", "email"], **grants[key])
    return p


@pytest.mark.parametrize("order", ["AB", "BA"])
def test_grants_combine_row_by_row_not_column_by_column(order):
    # A: email in clear on northern rows; B: every row, email redacted. Together: email in
    # clear on northern rows only -- never more than one grant allows on a given row.
    r = _ab_policy(order).authorize(ANA, ORDERS, "read", now=NOW)
    assert r.allowed and set(r.grant_ids) == {"A", "B"}
    assert {(g.grant_id, g.row_filter, tuple(g.masks.items())) for g in r.parts} == {
        ("A", "region == 'north'", ()), ("B", None, (("email", "redact"),))}
    assert r.columns == ("id", "email") and r.row_filters is None
    out = apply_access(ROWS, r)
    assert out.columns == ["id", "email"]
    assert out["id"].to_list() == [1, 2, 3, 4]
    assert out["email"].to_list() == ["a@n.io", None, "c@n.io", None]
    assert access_levels(ROWS, r)["email"].to_list() == [4, 1, 4, 1]
    lazy = apply_access(ROWS.lazy(), r)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().equals(out)


def test_disjoint_grants_keep_their_own_columns_and_masks():
    p = Policy()
    p.grant(principal="ana", product="orders", action="read", columns=["id", "email"],
            masks={"email": "redact"}, row_filter="region == 'north'")
    p.grant(principal="ana", product="orders", action="read", columns=["email", "amount"],
            masks={"email": "partial"}, row_filter="region == 'south'")
    r = p.authorize(ANA, ORDERS, "read", now=NOW)
    # the summary: shown somewhere, most revealing mask anywhere, rows of either filter
    assert r.columns == ("id", "email", "amount")
    assert r.masks == {"email": "partial"} and r.level("email") == 3
    assert r.row_filters == ("region == 'north'", "region == 'south'")
    out = apply_access(ROWS, r)
    assert out.columns == ["id", "email", "amount"]  # region: no grant shows it
    assert out["id"].to_list() == [1, None, 3]       # the south grant does not show id
    assert out["email"].to_list() == [None, "***@s.io", None]  # partial only on south rows
    assert out["amount"].to_list() == [None, 20.0, None]
    levels = access_levels(ROWS, r)
    assert levels.rows() == [(4, 1, 0), (0, 3, 4), (4, 1, 0), (0, 0, 0)]  # row 4: no grant


def test_overlapping_grants_show_the_most_revealing_level_per_cell():
    p = Policy()
    p.grant(principal="ana", product="orders", action="read", columns=["id", "amount"],
            masks={"amount": "redact"})
    p.grant(role="analyst", domain="sales", action="read", columns=["amount", "email"],
            masks={"email": "partial"}, row_filter="amount >= 20 and region != 'east'")
    r = p.authorize(ANA, ORDERS, "read", now=NOW)
    out = apply_access(ROWS, r)
    assert out["id"].to_list() == [1, 2, 3, 4]
    assert out["amount"].to_list() == [None, 20.0, 30.0, None]
    assert out["email"].to_list() == [None, "***@s.io", "***@n.io", None]
    assert access_levels(ROWS, r).rows() == [(4, 0, 1), (4, 3, 4), (4, 3, 4), (4, 0, 1)]


def test_mixed_levels_with_a_tokenizer_and_rows_no_grant_admits():
    r = AccessResult(True, "ok", ("a", "b"), ("email",), {"email": "tokenize"}, None,
                     (GrantAccess("a", "id > 2", ("email",)),
                      GrantAccess("b", "id == 1", ("email",), {"email": "tokenize"})))
    out = apply_access(ROWS, r, tokenizer=lambda c, s: "tok:" + s)
    assert out["email"].to_list() == ["tok:a@n.io", "c@n.io", "d@e.io"]  # row 2 not admitted
    assert apply_access(ROWS, r)["email"].to_list() == [None, "c@n.io", "d@e.io"]


def test_requested_columns_narrow_every_grant():
    p = _ab_policy()
    r = p.authorize(ANA, ORDERS, "read", now=NOW, columns=["email"])
    assert r.allowed and r.columns == ("email",)
    assert all(g.columns == ("email",) for g in r.parts)
    assert apply_access(ROWS, r)["email"].to_list() == ["a@n.io", None, "c@n.io", None]
    denied = p.authorize(ANA, ORDERS, "read", now=NOW, columns=["email", "amount"])
    assert not denied.allowed and "'amount' is outside the grant" in denied.reason
    with pytest.raises(PolicyError, match="denied"):
        access_levels(ROWS, denied)


# -- properties ------------------------------------------------------------------------
PEOPLE = [ANA, SAM, CLEO, Principal("bo", domain="crm", roles=("analyst",))]
grant_st = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS)},
    optional={"columns": st.lists(st.sampled_from(["id", "email", "region", "amount", "name"]),
                                  unique=True, max_size=3),
              "masks": st.dictionaries(st.sampled_from(["email", "name", "id"]),
                                       st.sampled_from(["partial", "tokenize", "redact"]),
                                       max_size=2),
              "row_filter": st.sampled_from(["id > 1", "region == 'north'"]),
              "purpose": st.sampled_from(["ads", "churn"]),
              "expires": st.sampled_from([NOW - timedelta(days=1), NOW + timedelta(days=1)])},
).flatmap(lambda g: st.tuples(
    st.sampled_from([{"principal": "ana"}, {"principal": "bo"}, {"role": "analyst"},
                     {"principal": "sam"}]),
    st.sampled_from([{"product": "orders"}, {"product": "customers"}, {"domain": "sales"},
                     {"domain": "crm"}])).map(lambda sp: {**g, **sp[0], **sp[1]}))
deny_st = st.tuples(
    st.sampled_from([{"principal": "ana"}, {"role": "analyst"}, {"principal": "bo"}]),
    st.sampled_from([{"product": "orders"}, {"domain": "crm"}, {}]),
    st.sampled_from(["*", *ACTIONS])).map(lambda t: {**t[0], **t[1], "action": t[2]})
request_st = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(PRODUCTS),
                       st.sampled_from([*ACTIONS, "delete"]),
                       st.sampled_from([None, "ads", "churn"]))


def _access(policy, requests):
    out = []
    for who, product, action, purpose in requests:
        r = policy.authorize(who, product, action, now=NOW, purpose=purpose)
        out.append((r, {c: r.level(c) for c in product.columns}))
    return out


def _not_wider(after, before):
    for (ra, la), (rb, lb) in zip(after, before):
        if ra.allowed:
            assert rb.allowed
            assert all(la[c] <= lb[c] for c in la)
            if rb.row_filters is not None:
                assert ra.row_filters is not None and set(ra.row_filters) <= set(rb.row_filters)


@given(grants=st.lists(grant_st, max_size=6), deny=deny_st,
       requests=st.lists(request_st, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_adding_a_deny_never_widens_access(grants, deny, requests):
    policy = Policy.from_dict({"grants": grants})
    before = _access(policy, requests)
    policy.deny(**deny)
    _not_wider(_access(policy, requests), before)


@given(grants=st.lists(grant_st, min_size=1, max_size=6), which=st.integers(0, 5),
       requests=st.lists(request_st, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_removing_a_grant_never_widens_access(grants, which, requests):
    policy = Policy.from_dict({"grants": grants})
    before = _access(policy, requests)
    policy.remove_grant(policy.grants[which % len(policy.grants)].id)
    _not_wider(_access(policy, requests), before)


@given(grants=st.lists(grant_st, max_size=6), requests=st.lists(request_st, min_size=1,
                                                                 max_size=6))
@settings(max_examples=40, deadline=None)
def test_unknown_principal_product_or_action_is_denied(grants, requests):
    policy = Policy.from_dict({"grants": grants})
    ghost_product = ProductInfo("ghost", "nowhere", columns=("id",))
    for who, product, action, purpose in requests:
        assert not policy.authorize(None, product, action, now=NOW).allowed
        assert not policy.authorize(Principal("nobody"), product, action, now=NOW,
                                    purpose=purpose).allowed
        assert not policy.authorize(who, ghost_product, "read", now=NOW).allowed
        assert not policy.authorize(who, product, "drop", now=NOW).allowed


# -- cell-level properties: grants combine row by row ---------------------------------
WIDE = ProductInfo("orders", "sales", owner="sam",
                   columns=("id", "email", "region", "amount", "name"),
                   pii_columns=("email", "name"))
CELLS = pl.DataFrame({
    "id": [1, 2, 3, 4, 5, 6],
    "email": ["a@n.io", "b@s.io", None, "d@e.io", "e@x.io", "f@s.io"],
    "region": ["north", "south", "north", "east", None, "south"],
    "amount": [5.0, 10.0, 20.0, 30.0, None, 15.0],
    "name": ["Ann Arbor", "Bo", "Cy Young", None, "Ed Eddington", "Flo"]})
FILTERS = ["id > 2", "region == 'north'", "amount >= 15", "region in ['south', 'east']",
           "id <= 4 and amount < 25"]
read_grant_st = st.fixed_dictionaries(
    {"action": st.just("read"),
     "subject": st.sampled_from([{"principal": "ana"}, {"role": "analyst"}, {"principal": "bo"}]),
     "scope": st.sampled_from([{"product": "orders"}, {"domain": "sales"}])},
    optional={"columns": st.lists(st.sampled_from(list(WIDE.columns)), unique=True, max_size=4),
              "masks": st.dictionaries(st.sampled_from(list(WIDE.columns)), st.sampled_from(MASKS),
                                       max_size=3),
              "row_filter": st.sampled_from(FILTERS)},
).map(lambda g: {**{k: v for k, v in g.items() if k not in ("subject", "scope")},
                 **g["subject"], **g["scope"]})


def _cells(policy, who=ANA):
    """{column: [level per row of CELLS]}; every cell 0 when denied."""
    r = policy.authorize(who, WIDE, "read", now=NOW)
    if not r.allowed:
        return {}
    return access_levels(CELLS, r).to_dict(as_series=False)


def _clear(cells):
    return {(i, c) for c, levels in cells.items() for i, lv in enumerate(levels) if lv == 4}


def _no_wider_cells(after, before):
    for c, levels in after.items():
        assert all(a <= b for a, b in zip(levels, before.get(c, [0] * len(levels)))), c
    assert _clear(after) <= _clear(before)


@given(grants=st.lists(read_grant_st, min_size=1, max_size=5), which=st.integers(0, 4))
@settings(max_examples=60, deadline=None)
def test_removing_a_grant_never_widens_any_cell(grants, which):
    policy = Policy.from_dict({"grants": grants})
    before = _cells(policy)
    policy.remove_grant(policy.grants[which % len(policy.grants)].id)
    _no_wider_cells(_cells(policy), before)


@given(grants=st.lists(read_grant_st, max_size=5), deny=deny_st)
@settings(max_examples=40, deadline=None)
def test_adding_a_deny_never_widens_any_cell(grants, deny):
    policy = Policy.from_dict({"grants": grants})
    before = _cells(policy)
    policy.deny(**deny)
    _no_wider_cells(_cells(policy), before)


@given(grants=st.lists(read_grant_st, min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_cells_match_a_row_by_row_reference(grants):
    """access_levels and apply_access agree with the rule, evaluated one row at a time."""
    policy = Policy.from_dict({"grants": grants})
    r = policy.authorize(ANA, WIDE, "read", now=NOW)
    if not r.allowed:
        return
    admits = [[True] * CELLS.height if g.row_filter is None else
              CELLS.select(parse_row_filter(g.row_filter).fill_null(False)).to_series().to_list()
              for g in r.parts]
    shown = [c for c in WIDE.columns if any(g.level(c) for g in r.parts)]
    levels = access_levels(CELLS, r)
    assert levels.columns == shown
    visible = []
    for i in range(CELLS.height):
        admitting = [g for g, a in zip(r.parts, admits) if a[i]]
        if admitting:
            visible.append(i)
        for c in shown:
            assert levels[c][i] == max((g.level(c) for g in admitting), default=0)
    out = apply_access(CELLS, r, tokenizer=lambda c, s: "tok:" + s.cast(pl.String))
    assert out.columns == shown and (not shown or out.height == len(visible))
    for j, i in enumerate(visible):
        for c in shown:
            value, original, lv = out[c][j], CELLS[c][i], levels[c][i]
            if original is None or lv <= 1:
                assert value is None
            elif lv == 4:
                assert str(value) == str(original)
            elif lv == 3:
                assert value.startswith("***") and value != str(original)
            else:
                assert value == f"tok:{original}"


# -- files and bad input ---------------------------------------------------------------
def test_policy_file_round_trip(tmp_path):
    p = Policy()
    p.grant(principal="ana", product="orders", action="read", columns=["id"],
            masks={"id": "partial"}, expires=NOW.isoformat(), purpose="x", row_filter="id > 1")
    p.deny(principal="bo", domain="sales", reason="r")
    path = p.to_yaml(tmp_path / "policy.yaml")
    q = Policy.from_yaml(path)
    assert q.to_dict() == p.to_dict()


@pytest.mark.parametrize("doc, where", [
    ({"grants": [{"principal": "a", "product": "orders", "action": "read", "colour": "red"}]},
     "policy.yaml.grants[0].colour"),
    ({"grant": []}, "policy.yaml.grant"),
    ({"denies": [{"principal": "a", "action": "read", "why": "x"}]}, "policy.yaml.denies[0].why"),
    ({"grants": [{"principal": "a", "product": "orders", "action": "delete"}]},
     "policy.yaml.grants[0].action"),
    ({"grants": [{"principal": "a", "role": "b", "product": "orders", "action": "read"}]},
     "policy.yaml.grants[0]"),
    ({"grants": [{"principal": "a", "action": "read"}]}, "policy.yaml.grants[0]"),
    ({"grants": [{"principal": "a", "product": "o", "action": "read", "masks": {"x": "blur"}}]},
     "policy.yaml.grants[0].masks.x"),
    ({"grants": [{"principal": "a", "product": "o", "action": "read",
                  "row_filter": "__import__('os')"}]}, "policy.yaml.grants[0].row_filter"),
    ({"grants": [{"principal": "a", "product": "o", "action": "read", "expires": "soon"}]},
     "policy.yaml.grants[0].expires"),
    ({"grants": "all"}, "policy.yaml.grants"),
])
def test_malformed_policy_files_name_the_field(tmp_path, doc, where):
    import yaml
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(PolicyError) as err:
        Policy.from_yaml(path)
    assert err.value.where == where
    assert err.value.expected is not None and err.value.found is not None


def test_unparseable_or_missing_policy_file(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("grants: [unclosed")
    with pytest.raises(PolicyError, match=r"p\.yaml, line 1, column \d+: malformed YAML"):
        Policy.from_yaml(bad)
    with pytest.raises(PolicyError, match="not found"):
        Policy.from_yaml(tmp_path / "missing.yaml")


def test_grants_for_things_that_do_not_exist():
    p = Policy()
    p.grant(principal="ana", product="ordres", action="read")
    with pytest.raises(PolicyError, match="product that does not exist") as err:
        p.check(PRODUCTS)
    assert err.value.found == "'ordres'"
    p = Policy()
    p.grant(principal="ana", domain="salse", action="read")
    with pytest.raises(PolicyError, match="domain that does not exist"):
        p.check(PRODUCTS)
    p = Policy()
    p.grant(principal="ana", product="orders", action="read", columns=["id", "phone"])
    with pytest.raises(PolicyError, match="column the product does not have"):
        p.check(PRODUCTS)
    p = Policy()
    p.grant(principal="ana", product="orders", action="read")
    p.check(PRODUCTS)  # fine


# -- masks and row filters -------------------------------------------------------------
FRAME = pl.DataFrame({"id": [1, 2, 3], "email": ["ann@a.io", "bob@b.io", None],
                      "region": ["north", "south", "north"], "amount": [10.0, 20.0, 30.0]})


def test_apply_access_masks_and_filters():
    r = AccessResult(True, "ok", ("g1",), ("id", "email", "amount"),
                     {"email": "partial", "amount": "redact"}, ("region == 'north'",))
    out = apply_access(FRAME, r)
    assert out.columns == ["id", "email", "amount"]
    assert out["id"].to_list() == [1, 3]
    assert out["email"].to_list() == ["***@a.io", None]
    assert out["amount"].null_count() == 2
    lazy = apply_access(FRAME.lazy(), r)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().equals(out)


def test_partial_mask_never_shows_a_short_value_nearly_whole():
    frame = pl.DataFrame({"pin": ["4821", "12345678", None], "mail": ["a@b.io", "x", None]})
    r = AccessResult(True, "ok", ("g",), ("pin", "mail"), {"pin": "partial", "mail": "partial"},
                     None)
    out = apply_access(frame, r)
    assert out["pin"].to_list() == ["***", "***5678", None]
    assert out["mail"].to_list() == ["***@b.io", "***", None]


def test_tokenize_uses_the_tokenizer_or_redacts():
    r = AccessResult(True, "ok", ("g",), ("email",), {"email": "tokenize"}, None)
    assert apply_access(FRAME, r)["email"].null_count() == 3
    out = apply_access(FRAME, r, tokenizer=lambda c, s: s.str.to_uppercase())
    assert out["email"].to_list()[0] == "ANN@A.IO"


def test_row_filter_union_and_denied_result():
    r = AccessResult(True, "ok", ("g",), None, {}, ("id == 1", "id >= 3"))
    assert apply_access(FRAME, r)["id"].to_list() == [1, 3]
    with pytest.raises(PolicyError, match="denied"):
        apply_access(FRAME, AccessResult(False, "no"))


@pytest.mark.parametrize("text", ["", "id", "id = 1", "id == foo()", "id in 3", "1 == id"])
def test_bad_row_filters(text):
    with pytest.raises(PolicyError):
        parse_row_filter(text)


def test_row_filter_operators():
    df = FRAME
    assert df.filter(parse_row_filter("amount >= 20 and region != 'south'"))["id"].to_list() == [3]
    assert df.filter(parse_row_filter("region in ['south']"))["id"].to_list() == [2]
    assert df.filter(parse_row_filter("id < 2"))["id"].to_list() == [1]
    assert df.filter(parse_row_filter("id <= 2"))["id"].to_list() == [1, 2]
    assert Grant.from_dict({"principal": "a", "product": "o", "action": "read",
                            "expires": 0}).expires.year == 1970
