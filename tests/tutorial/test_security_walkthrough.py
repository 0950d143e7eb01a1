"""The security walk-through derived from each scenario's mesh, not named for retail."""

from datetime import UTC, datetime

import pytest

from meshkit import SecurityError, SpecError
from meshkit.scenarios import SCENARIOS
from meshkit import Policy
from meshkit.tutorial.walkthrough import plan_walkthrough
from meshkit._security.policy import as_product_info
from meshkit._security.tokens import principals_from_specs

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def test_retail_keeps_the_cast_of_the_original_walk_through(scenarios):
    sc = scenarios["retail"]
    plan = plan_walkthrough(sc.mesh, sc.frames)
    assert plan.product == "customer_profiles" and plan.consumer_domain == "orders"
    assert plan.request_columns == ("user_id", "email", "country")
    assert plan.masks == {"email": "tokenize"} and plan.deterministic == ("email",)
    assert plan.hidden_column == "phone"
    assert (plan.unshared_product, plan.decoy_product, plan.reporting_product) == (
        "page_views", "items", "purchases")
    assert plan.open_domain == "catalog"
    assert [p["name"] for p in plan.principals] == ["ana", "bi-dashboard"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_derived_policy_fits_the_mesh_and_denies_what_the_attacks_try(scenarios, name):
    sc = scenarios[name]
    plan = plan_walkthrough(sc.mesh, sc.frames)
    infos = {p.name: as_product_info(p) for p in sc.mesh.products()}
    domains = set(sc.mesh.domains)
    policy = Policy.from_dict({"grants": plan.grants})
    policy.check(list(sc.mesh.products()))  # no grant names a product, domain or column not there
    ana, bi = principals_from_specs(plan.principals)
    assert ana.domain == bi.domain == plan.consumer_domain != infos[plan.product].domain
    assert {ana.domain, plan.open_domain} - {None} <= domains
    product = infos[plan.product]
    assert set(plan.request_columns) <= set(product.columns)
    assert plan.request_columns[0] == plan.key
    assert plan.hidden_column in product.columns and plan.hidden_column not in plan.request_columns
    assert set(plan.masks) <= set(product.pii_columns) & set(plan.request_columns)
    # the attacks: nothing grants ana the unshared product, nor the product before approval
    for target in (plan.unshared_product, plan.product):
        assert not policy.authorize(ana, infos[target], "read", now=NOW).allowed
    assert infos[plan.unshared_product].domain not in (product.domain, ana.domain)
    assert plan.decoy_product not in (plan.product,)
    # the reporting grant exists but has expired
    result = policy.authorize(bi, infos[plan.reporting_product], "read", now=NOW)
    assert not result.allowed and "expire" in result.reason
    # a domain-wide grant, when there is one, lets analysts read it
    if plan.open_domain:
        opened = next(i for i in infos.values() if i.domain == plan.open_domain)
        assert policy.authorize(ana, opened, "read", now=NOW).allowed


def test_a_mesh_without_pii_tokenizes_nothing(scenarios):
    sc = scenarios["manufacturing"]
    plan = plan_walkthrough(sc.mesh, sc.frames)
    assert plan.masks == {} and plan.deterministic == ()
    assert len(plan.request_columns) == 3


def test_product_is_checked_and_small_meshes_are_refused(scenarios):
    sc = scenarios["healthcare"]
    assert plan_walkthrough(sc.mesh, sc.frames, product="west_admissions").product == (
        "west_admissions")
    with pytest.raises(SpecError, match="customer_profiles"):
        plan_walkthrough(sc.mesh, sc.frames, product="customer_profiles")
    retail = scenarios["retail"].mesh

    class TwoDomains:  # the products of two of retail's domains
        def products(self):
            return [retail.product("purchases"), retail.product("customer_profiles")]

        def product(self, name):
            return retail.product(name)

    two = TwoDomains()
    with pytest.raises(SecurityError, match="three domains"):
        plan_walkthrough(two)
