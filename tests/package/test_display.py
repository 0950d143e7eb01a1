"""One display layer: every object meshkit shows renders once into text and HTML, and every
report keeps one contract (``to_dict``, ``to_frame`` where tabular, ``raise_if_…`` where it
carries a verdict)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import meshkit
import meshkit as mk
from meshkit._display import (DIGITS, Badge, Details, Displayable, Facts, Heading, Table, fmt,
                              render)
from meshkit._errors import ConsistencyError, IntegrityError, QualityError, SecurityError


# --------------------------------------------------------------------------- instances
def _frames():
    rng = np.random.default_rng(0)
    left = pl.DataFrame({"id": np.arange(60), "x": rng.normal(size=60),
                         "country": rng.choice(["DE", "FR"], 60)})
    right = left.head(50).with_columns(pl.col("x") + 0.5)
    return left, right


def _consistency(threshold=0.5):
    left, right = _frames()
    return mk.consistency(left, right, threshold=threshold, keys="id")


def _quality(passed=True):
    from meshkit import CheckResult, QualityReport

    check = CheckResult("t.not_empty", None, "not_empty", passed, 0 if passed else None, 3,
                        3.0 if passed else 0.0, "rows > 0")
    return QualityReport("t", "1.0.0", rows=3, checks=[check])


def _security_model():
    from meshkit import Identity, Principal, ProductInfo, SecurityModel, SeededKeySource

    src = SeededKeySource(0)
    orders = ProductInfo("orders", "sales", owner="sam", columns=("id", "amount"))
    sam = Identity.generate(Principal("sam", domain="sales"), source=src)
    ana = Identity.generate(Principal("ana", domain="crm"), source=src)
    model = SecurityModel.build([orders], identities=[sam, ana], source=src,
                                clock=lambda: 1_800_000_000)
    return model, sam, ana


def _decision(allowed=True):
    model, sam, ana = _security_model()
    return model.decide("orders", sam if allowed else ana, "publish")


def _history():
    from meshkit import LogisticRegression, from_arrays, run_federated

    rng = np.random.default_rng(0)
    data = from_arrays([(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(2, 40, 2))])
    return run_federated(LogisticRegression(lr=0.5), data, rounds=2, progress=False)


def _local():
    from meshkit import LogisticRegression, from_arrays, train_local

    rng = np.random.default_rng(0)
    data = from_arrays([(X, (X[:, 0] > 0).astype(int)) for X in rng.normal(size=(2, 40, 2))])
    return train_local(LogisticRegression(lr=0.5), data, epochs=2)


def _scenario():
    from meshkit.scenarios import load_scenario

    return load_scenario("healthcare", scale=0.1)


def _outcome(refused=True):
    from meshkit.tutorial.attacks import attempt

    def forged():
        raise mk.AuthenticationError("token signature does not verify", where="token")

    return attempt("forged token", forged if refused else (lambda: None))


def _outcomes(refused=True):
    from meshkit.tutorial.attacks import Outcomes

    return Outcomes([_outcome(True), _outcome(refused)])


def _sync():
    from meshkit import SyncResult

    conflicts = pl.DataFrame({"id": [1], "columns": ["x"]})
    return SyncResult("crm", "crm_copy", "source_wins", 2, 1, 0, 1, 0, 1, conflicts)


def _diff():
    from meshkit._consistency.versions import diff_frames

    old = pl.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    new = pl.DataFrame({"id": [2, 3, 4], "v": ["b", "C", "d"]})
    return diff_frames(old, new, "id", name="letters", versions=(0, 1))


def _store(tmp_path):
    store = mk.ProductStore(tmp_path / "store")
    store.publish("orders", pl.DataFrame({"id": [1, 2]}))
    return store


def _chain(tmp_path):
    from meshkit.tutorial.chain import ChainResult

    run = tmp_path / "run-1"
    return ChainResult(run, {"01_domain_setup": run / "01_domain_setup.ipynb"},
                       {"01_domain_setup": {"scenario": "retail", "scale": 0.1,
                                            "domains": ["orders", "catalog"]}},
                       {"01_domain_setup": {"scale": 0.1}})


def _audit(ok=True):
    from meshkit import AuditVerification

    return AuditVerification(ok, 4, [] if ok else ["entry 2 was edited"], None if ok else 2)


#: every Displayable class -> a function (of tmp_path) giving a passing instance
INSTANCES = {
    "LayerResult": lambda _: _consistency().similarity.layers["values"],
    "SimilarityReport": lambda _: _consistency().similarity,
    "ConsistencyReport": lambda _: _consistency(),
    "SimilarityMatrix": lambda _: mk.similarity_matrix(
        {"a": _frames()[0], "b": _frames()[1], "c": pl.DataFrame({"z": [1]})}, "id"),
    "SyncResult": lambda _: _sync(),
    "VersionDiff": lambda _: _diff(),
    "Profile": lambda _: mk.profile(_frames()[0], "id", name="left"),
    "QualityReport": lambda _: _quality(),
    "History": lambda _: _history(),
    "LocalResult": lambda _: _local(),
    "Decision": lambda _: _decision(),
    "PostureReport": lambda _: mk.posture(_security_model()[0]),
    "AuditVerification": lambda _: _audit(),
    "Mesh": lambda _: _scenario().mesh,
    "Scenario": lambda _: _scenario(),
    "ProductStore": _store,
    "Outcome": lambda _: _outcome(),
    "Outcomes": lambda _: _outcomes(),
    "CopyPlan": lambda _: __import__("meshkit.tutorial.copy_plan", fromlist=["x"]).plan_copy(
        _scenario().mesh, _scenario().frames),
    "ChainResult": _chain,
    "UserMesh": lambda _: __import__("meshkit.tutorial.user_mesh", fromlist=["x"]).load_user_mesh(
        Path(__file__).resolve().parents[2] / "data" / "retail" / "mesh.yaml"),
    "Skipped": lambda _: __import__("meshkit.tutorial.skips", fromlist=["x"]).Skipped(
        "02_local_training", "mesh 'bakery' declares no supervised task: nothing to train"),
    "Walkthrough": lambda _: __import__("meshkit.tutorial.walkthrough", fromlist=["x"])
    .plan_walkthrough(_scenario().mesh, _scenario().frames),
}

#: displayable things that are not reports (no to_dict)
NOT_REPORTS = {"Mesh", "Scenario", "UserMesh", "ProductStore", "Skipped"}

#: reports that carry a verdict -> (method, failing instance, error raised)
VERDICTS = {
    "ConsistencyReport": ("raise_if_inconsistent", lambda: _consistency(threshold=0.99),
                          ConsistencyError),
    "QualityReport": ("raise_if_failed", lambda: _quality(passed=False), QualityError),
    "Decision": ("raise_if_denied", lambda: _decision(allowed=False), SecurityError),
    "AuditVerification": ("raise_if_tampered", lambda: _audit(ok=False), IntegrityError),
    "Outcome": ("raise_if_not_refused", lambda: _outcome(refused=False), SecurityError),
    "Outcomes": ("raise_if_not_refused", lambda: _outcomes(refused=False), SecurityError),
}


#: tags and style properties on the allow-lists of JupyterLab's HTML sanitizer (the part used)
SAFE_TAGS = {"div", "span", "p", "code", "table", "thead", "tbody", "tr", "th", "td", "ul",
             "li", "details", "summary"}
SAFE_STYLES = {"background", "border", "border-bottom", "border-collapse", "border-radius",
               "color", "font-size", "font-weight", "margin", "margin-left", "max-width",
               "overflow-x", "padding", "text-align", "vertical-align", "white-space"}


def _displayable_classes() -> dict[str, type]:
    for info in pkgutil.walk_packages(meshkit.__path__, "meshkit."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, todo = {}, list(Displayable.__subclasses__())
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo += cls.__subclasses__()
    return found


def test_every_displayable_class_is_covered_by_the_contract_test():
    assert set(_displayable_classes()) == set(INSTANCES)
    assert set(VERDICTS) <= set(INSTANCES) and NOT_REPORTS <= set(INSTANCES)


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_text_and_html_come_from_one_render(name, tmp_path, monkeypatch):
    obj = INSTANCES[name](tmp_path)
    assert type(obj).__name__ == name
    calls = []
    original = type(obj)._render

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(type(obj), "_render", counted)
    bundle = obj._repr_mimebundle_()
    assert len(calls) == 1  # one render gives both
    assert set(bundle) == {"text/plain", "text/html"}
    text, page = bundle["text/plain"], bundle["text/html"]
    assert text.strip() and page.strip()
    assert str(obj) == text and obj._repr_html_() == page
    assert obj._repr_mimebundle_(include=["text/html"]) == {"text/html": page}
    assert obj._repr_mimebundle_(exclude=["text/html"]) == {"text/plain": text}
    # deterministic and self-contained: a second render is identical, nothing is fetched
    again = tmp_path / "again"
    again.mkdir()
    assert INSTANCES[name](again)._repr_mimebundle_() == bundle
    assert not re.search(r"<script|<link|<img|src=|https?://|\bid=|0x[0-9a-f]{6,}", page)
    assert str(tmp_path) not in text + page
    # every table scrolls in its own container, so a wide one is never cut off
    assert page.count("<table") == page.count("overflow-x:auto")
    # only tags and inline styles JupyterLab's sanitizer keeps in an untrusted notebook
    assert set(re.findall(r"<([a-z0-9]+)", page)) <= SAFE_TAGS
    properties = {p.split(":")[0].strip() for style in re.findall(r"style='([^']*)'", page)
                  for p in style.split(";") if p.strip()}
    assert properties <= SAFE_STYLES, properties - SAFE_STYLES


@pytest.mark.parametrize("name", sorted(set(INSTANCES) - NOT_REPORTS))
def test_every_report_has_a_json_ready_dict_and_frames_where_tabular(name, tmp_path):
    obj = INSTANCES[name](tmp_path)
    data = obj.to_dict()
    assert isinstance(data, dict) and data
    assert json.loads(json.dumps(data, allow_nan=True)) == json.loads(json.dumps(data))
    if hasattr(obj, "to_frame"):
        frame = obj.to_frame("accuracy") if name == "LocalResult" else obj.to_frame()
        assert isinstance(frame, pl.DataFrame) and frame.width


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdicts_raise_with_the_report_and_pass_through_otherwise(name, tmp_path):
    method, failing, error = VERDICTS[name]
    passing = INSTANCES[name](tmp_path)
    assert getattr(passing, method)() is passing
    bad = failing()
    with pytest.raises(error) as info:
        getattr(bad, method)()
    assert info.value.message and info.value.expected and info.value.found


def test_inconsistent_report_is_carried_by_the_error():
    report = _consistency(threshold=0.99)
    assert not report.consistent
    with pytest.raises(ConsistencyError) as info:
        report.raise_if_inconsistent(where="copy")
    assert info.value.report is report and info.value.where == "copy"
    assert f"θ = {fmt(0.99)}" in str(info.value)
    assert ConsistencyError("plain").report is None


def test_reports_without_a_raise_method_carry_no_verdict():
    for name, cls in _displayable_classes().items():
        if name not in VERDICTS:
            assert not [m for m in dir(cls) if m.startswith("raise_if")], name


# --------------------------------------------------------------------------- blocks
def test_frames_show_without_dtype_rows_or_quotes():
    frame = pl.DataFrame({"name": ["alice", "bob"], "score": [1 / 3, 2.0],
                          "tags": [["a", "b"], []]})
    shown = mk.table(frame)
    text, page = shown.text, shown.html
    assert text.splitlines()[0].split() == ["name", "score", "tags"]
    assert text.splitlines()[1].split() == ["alice", "0.3333", "a,", "b"]
    for dtype in ("str", "f64", "list[str]", "---"):
        assert dtype not in text.split() and f">{dtype}<" not in page
    assert '"' not in text and "&quot;" not in page and ">alice<" in page


def test_long_tables_are_cut_and_say_how_much_is_left():
    frame = pl.DataFrame({"i": list(range(25))})
    text = str(mk.table(frame, max_rows=20))
    assert text.splitlines()[-1].strip() == "… 5 more rows"
    assert len(text.splitlines()) == 1 + 20 + 1
    assert mk.table(frame, max_rows=20).html.count("<tr") == 1 + 20


def test_blocks_escape_html_and_keep_text_plain():
    rendered = render([Heading("a <b> ", Badge("OK", True)), Facts({"<k>": "<v>"}),
                       Table(["<c>"], [("<x>",)], row_ok=[False]),
                       Details("more <stuff>", [Heading("inner")])])
    assert "<b>" not in rendered.html and "&lt;b&gt;" in rendered.html
    assert "&lt;v&gt;" in rendered.html and "<details" in rendered.html
    assert rendered.text.splitlines() == ["a <b> OK", "  <k>: <v>", "  <c>", "  <x>",
                                          "more <stuff>", "  inner"]


def test_palette_is_shared_by_renderer_and_figures():
    from meshkit import _palette
    from meshkit.viz.security import plot_attacks

    assert _palette.GOOD in Badge("ok", True).html() and _palette.BAD in Badge("no", False).html()
    fig = plot_attacks([{"attack": "a", "refused": True, "layer": "x"},
                        {"attack": "b", "refused": False, "layer": "none"}])
    from matplotlib.colors import to_hex

    colors = [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]
    assert colors == [_palette.GOOD, _palette.BAD]


# --------------------------------------------------------------------------- numbers
def test_floats_keep_four_significant_digits_as_python_formats_them():
    # reference: Python's own ``format(x, ".4g")`` (IEEE round-half-even on the decimal)
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-1, 1, 300) * 10.0 ** rng.integers(-4, 4, 300),
                             [0.5, 0.98335, 1 / 3, 2 / 3, 999.95, 1e-4, 12.5]])
    for x in values:
        x = float(x)
        assert float(fmt(x)) == float(format(x, f".{DIGITS}g")), x
        assert ("e" in fmt(x)) == (abs(x) < 1e-4), x  # scientific only when tiny, as "g"


def test_number_formatting_edge_cases():
    assert [fmt(v) for v in (0.0, -0.0, 1.0, 145834.7, 123456789.0, 1e-9, float("inf"),
                             -float("inf"), float("nan"), None, True, 3, np.int64(3),
                             np.float32(0.25), np.bool_(False))] == [
        "0", "0", "1", "145835", "123456789", "1.000e-09", "inf", "-inf", "nan", "-", "True",
        "3", "3", "0.25", "False"]
    assert fmt(0.123456, digits=2) == "0.12"
