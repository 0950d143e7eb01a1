"""meshkit's default drift tests against Evidently's (the reference), at every switch point.

Evidently (0.7.23, in the dev extra) is the reference: for each column, its registry of
default tests (``get_stattest``) names the test and gives the figure and the verdict, and its
``DataDriftPreset`` report gives the dataset drift share. The frames sit at and around every
switch of the rules: 1,000 reference rows, 5 (and 2) distinct values, binary columns,
categories present on one side only.
"""

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.legacy.calculations.stattests.registry import get_stattest  # noqa: E402
from evidently.legacy.core import ColumnType  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

from meshkit import profile, similarity  # noqa: E402
from meshkit._consistency.layers import DRIFT_TESTS  # noqa: E402

REF_SIZES = (999, 1000, 1001)


def _column(rng, kind, n, distinct, shift):
    """One column: numeric with ``distinct`` values (None: continuous) or categorical."""
    if kind == "numeric" and distinct is None:
        return rng.normal(shift, 1.0, n)
    values = np.arange(distinct)
    weights = np.linspace(1.0, 2.0, distinct) + shift * np.arange(distinct)
    drawn = rng.choice(values, n, p=weights / weights.sum())
    return drawn.astype(np.float64) if kind == "numeric" else np.array([f"v{i}" for i in drawn])


def _pairs():
    """(name, reference frame, current frame, {column: kind}) at and around every switch."""
    out = []
    for n_ref in REF_SIZES:
        for shift, seed in ((0.0, 1), (0.08, 2), (0.3, 3)):
            rng = np.random.default_rng(seed * 7919 + n_ref)
            kinds, ref, cur = {}, {}, {}
            for distinct in (None, 1, 2, 3, 5, 6):
                name = f"num_{distinct or 'cont'}"
                kinds[name] = "numeric"
                ref[name] = _column(rng, "numeric", n_ref, distinct, 0.0)
                cur[name] = _column(rng, "numeric", 900, distinct, shift)
            for distinct in (2, 3, 7):
                name = f"cat_{distinct}"
                kinds[name] = "categorical"
                ref[name] = _column(rng, "categorical", n_ref, distinct, 0.0)
                cur[name] = _column(rng, "categorical", 900, distinct, shift)
            # a category only in the current data (1 % of its rows), one only in the reference
            new = _column(rng, "categorical", 900, 3, 0.0)
            new[:9] = "brand_new"
            kinds["cat_new"], ref["cat_new"], cur["cat_new"] = \
                "categorical", _column(rng, "categorical", n_ref, 3, 0.0), new
            gone = _column(rng, "categorical", n_ref, 3, 0.0)
            gone[:5] = "retired"
            kinds["cat_gone"], ref["cat_gone"], cur["cat_gone"] = \
                "categorical", gone, _column(rng, "categorical", 900, 3, shift)
            # a binary numeric column whose current side holds only one of the values
            kinds["num_one_side"] = "numeric"
            ref["num_one_side"] = rng.integers(0, 2, n_ref).astype(np.float64)
            cur["num_one_side"] = np.ones(900) if shift else rng.integers(0, 2, 900) * 1.0
            out.append((f"ref{n_ref}-shift{shift}", pd.DataFrame(ref), pd.DataFrame(cur), kinds))
    return out


PAIRS = _pairs()


def _evidently_column(ref: pd.Series, cur: pd.Series, kind: str):
    ctype = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
    test = get_stattest(ref, cur, ctype, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy on a category of one side
        result = test(ref, cur, ctype, None)
    return test.name, float(result.drift_score), bool(result.drifted)


def _with_keys(frame: pd.DataFrame) -> pl.DataFrame:
    return pl.from_pandas(frame).with_row_index("id")


@pytest.mark.parametrize("name,ref,cur,kinds", PAIRS, ids=[p[0] for p in PAIRS])
def test_default_test_verdict_and_figure_equal_evidently(name, ref, cur, kinds):
    for sketch in (False, True):
        left, right = _with_keys(ref), _with_keys(cur)
        report = similarity(profile(left, "id"), profile(right, "id")) if sketch \
            else similarity(left, right, keys="id")
        evidence = report.layers["distributions"].evidence
        for column, kind in kinds.items():
            test, score, drifted = _evidently_column(ref[column], cur[column], kind)
            row = evidence.filter(pl.col("column") == column).row(0, named=True)
            where = (name, column, "sketch" if sketch else "exact")
            assert DRIFT_TESTS[row["test"]].evidently == test, where
            if row["drift"] is None:  # undecidable from the sketches: never a wrong verdict
                assert sketch and row["verdict"] == "undecidable", where
                continue
            assert row["drift"] == drifted, (where, row, score)
            figure = row[DRIFT_TESTS[row["test"]].figure]
            if not sketch or test not in ("ks", "wasserstein"):  # the sketched ones are estimates
                assert figure == pytest.approx(score, rel=1e-9, abs=1e-12), (where, figure, score)


def test_the_switch_points_are_all_reached():
    seen = set()
    for _, ref, cur, kinds in PAIRS:
        for column, kind in kinds.items():
            seen.add((len(ref) <= 1000, _evidently_column(ref[column], cur[column], kind)[0]))
    assert seen >= {(True, "ks"), (True, "chisquare"), (True, "z"),
                    (False, "wasserstein"), (False, "jensenshannon")}


def test_category_only_in_the_current_data_is_drift_as_in_evidently():
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    cur = pd.DataFrame({"c": ["a"] * 495 + ["b"] * 495 + ["new"] * 10})
    row = similarity(_with_keys(ref), _with_keys(cur), keys="id") \
        .layers["distributions"].evidence.row(0, named=True)
    test, score, drifted = _evidently_column(ref["c"], cur["c"], "categorical")
    assert (row["test"], row["chi_square_pvalue"], row["drift"]) == ("chi_square", 0.0, True)
    assert (test, score, drifted) == ("chisquare", 0.0, True)


@pytest.mark.parametrize("index", [0, 5, 8])
def test_dataset_drift_share_equals_evidently_report(index):
    _, ref, cur, kinds = PAIRS[index]
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition))
    counted = next(m for m in snapshot.dict()["metrics"]
                   if m["metric_name"].startswith("DriftedColumnsCount"))["value"]
    layer = similarity(_with_keys(ref), _with_keys(cur), keys="id").layers["distributions"]
    data = layer.details["dataset_drift"]
    assert data["drifted_columns"] == int(counted["count"])
    assert data["drift_share"] == pytest.approx(counted["share"])
    assert data["dataset_drift"] == (counted["share"] >= 0.5)
    assert any(n.startswith("dataset drift share") for n in layer.notes)
