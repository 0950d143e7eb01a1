"""One YAML loader for mesh specs, contracts and policies: each review finding is a test."""

import textwrap

import pytest

from meshkit import ContractError, DataContract, Mesh, Policy, PolicyError, SpecError
from meshkit._yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES, LinedDict, line_of, load_yaml

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: customers
version: 1.0.0
status: active
schema:
  - name: customers
    properties:
      - name: id
        logicalType: string
        primaryKey: true
      - name: email
        logicalType: string
        classification: pii
        classification: public
"""

POLICY = """\
grants:
  - principal: ana
    product: orders
    action: read
    row_filter: "region = 'EU'"
    row_filter: "amount > 0"
"""

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
name: laughs
domains: *i
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# -- duplicate keys --------------------------------------------------------------------
def test_duplicate_classification_in_a_contract_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "customers.yaml", CONTRACT)
    with pytest.raises(ContractError) as info:
        DataContract.from_yaml(path)
    assert info.value.where == f"{path}, line 15"
    assert "duplicate key" in str(info.value) and "'classification' again" in str(info.value)
    assert "first on line 14" in str(info.value)


def test_repeated_row_filter_in_a_policy_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "policy.yaml", POLICY)
    with pytest.raises(PolicyError) as info:
        Policy.from_yaml(path)
    assert info.value.where == f"{path}, line 6"
    assert "'row_filter' again (first on line 5)" in str(info.value)


def test_duplicate_keys_in_a_mesh_spec_name_the_line(tmp_path):
    path = write(tmp_path, "mesh.yaml", "name: shop\ndomains: []\nname: other\n")
    with pytest.raises(SpecError, match=r"mesh\.yaml, line 3: duplicate key"):
        Mesh.load(path)


def test_merge_keys_keep_their_meaning_and_are_not_duplicates(tmp_path):
    path = write(tmp_path, "m.yaml", textwrap.dedent("""\
        base: &base {action: read, product: orders}
        grant:
          <<: *base
          action: write
        """))
    assert load_yaml(path)["grant"] == {"action": "write", "product": "orders"}


def test_a_mapping_as_a_key_is_refused(tmp_path):
    path = write(tmp_path, "k.yaml", "? [a, b]\n: 1\n")
    with pytest.raises(SpecError, match="a mapping key must be a plain value"):
        load_yaml(path)


# -- resource bounds -------------------------------------------------------------------
def test_billion_laughs_spec_is_refused(tmp_path):
    path = write(tmp_path, "mesh.yaml", BILLION_LAUGHS)
    assert path.stat().st_size < 1000
    with pytest.raises(SpecError) as info:
        Mesh.load(path)
    assert "aliases expand too far" in str(info.value)
    assert str(path) in info.value.where and f"{MAX_NODES:,}" in str(info.value)


def test_billion_laughs_contract_and_policy_are_refused(tmp_path):
    path = write(tmp_path, "laughs.yaml", BILLION_LAUGHS)
    with pytest.raises(ContractError, match="aliases expand too far"):
        DataContract.from_yaml(path)
    with pytest.raises(PolicyError, match="aliases expand too far"):
        Policy.from_yaml(path)


def test_aliases_within_the_bound_are_read(tmp_path):
    path = write(tmp_path, "ok.yaml", "a: &a [1, 2, 3]\nb: [*a, *a]\n")
    assert load_yaml(path) == {"a": [1, 2, 3], "b": [[1, 2, 3], [1, 2, 3]]}
    with pytest.raises(SpecError, match="aliases expand too far"):
        load_yaml(path, max_nodes=10)


def test_spec_of_200000_domains_is_refused_by_size(tmp_path):
    lines = ["name: big", "domains:"]
    lines += [f"  - {{name: d{i}, owner: o{i}@x.org}}" for i in range(200_000)]
    path = write(tmp_path, "mesh.yaml", "\n".join(lines) + "\n")
    assert path.stat().st_size > 5_000_000
    with pytest.raises(SpecError) as info:
        Mesh.load(path)
    assert "the mesh spec is too large" in str(info.value) and info.value.where == str(path)
    assert info.value.expected == f"at most {MAX_BYTES:,} bytes"


def test_deep_nesting_gives_a_meshkit_error_naming_the_file(tmp_path):
    path = write(tmp_path, "mesh.yaml", "name: deep\ndomains: " + "[" * 50_000 + "]" * 50_000)
    with pytest.raises(SpecError) as info:
        Mesh.load(path)
    assert "nesting too deep" in str(info.value) and str(path) in info.value.where
    contract = write(tmp_path, "c.yaml", "{a: " * 5_000 + "1" + "}" * 5_000)
    with pytest.raises(ContractError, match="nesting too deep"):
        DataContract.from_yaml(contract)


def test_nesting_up_to_the_limit_is_read(tmp_path):
    path = write(tmp_path, "n.yaml", "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    value = load_yaml(path)
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == []


def test_nesting_past_pythons_recursion_limit_is_a_meshkit_error(tmp_path):
    path = write(tmp_path, "r.yaml", "[" * 3_000 + "]" * 3_000)
    with pytest.raises(SpecError, match="nesting too deep"):
        load_yaml(path, max_depth=10_000)


# -- encoding --------------------------------------------------------------------------
@pytest.mark.parametrize("load, error", [
    (Mesh.load, SpecError),
    (DataContract.from_yaml, ContractError),
    (Policy.from_yaml, PolicyError),
])
def test_non_utf8_file_gives_a_meshkit_error_naming_the_file(tmp_path, load, error):
    path = write(tmp_path, "latin1.yaml", "name: shop\nowner: Jos\xe9\n".encode("latin-1"))
    with pytest.raises(error) as info:
        load(path)
    assert info.value.where == f"{path}, line 2"
    assert "not UTF-8" in str(info.value) and "0xe9" in str(info.value)


# -- lines -----------------------------------------------------------------------------
def test_lined_documents_know_the_line_of_a_field_path(tmp_path):
    path = write(tmp_path, "mesh.yaml", textwrap.dedent("""\
        name: shop
        domains:
          - name: sales
            owner: s@x.org
          - name: crm
            owner: c@x.org
        """))
    spec = load_yaml(path, lines=True)
    assert isinstance(spec, LinedDict) and spec == load_yaml(path)
    assert line_of(spec, ["domains", 1, "owner"]) == 6
    assert line_of(spec, ["domains", 0]) == 3
    assert line_of(spec, ["domains", 5, "name"]) == 2  # the deepest known node
    assert type(load_yaml(path)) is dict


# -- values PyYAML raises a raw ValueError for ------------------------------------------
@pytest.mark.parametrize("text, line, fragment", [
    ("id: x\nstart: 2024-13-45\n", 2, "a valid timestamp; found '2024-13-45'"),
    ("rows: " + "9" * 5_000 + "\n", 1, "a valid int"),
    ("limits: [1, {n: !!float many}]\n", 1, "a valid float; found 'many'"),
])
def test_unreadable_scalars_are_a_meshkit_error_with_their_line(tmp_path, text, line, fragment):
    path = write(tmp_path, "c.yaml", text)
    with pytest.raises(ContractError) as info:
        DataContract.from_yaml(path)
    assert info.value.where == f"{path}, line {line}"
    assert "a value YAML cannot read" in str(info.value) and fragment in str(info.value)
