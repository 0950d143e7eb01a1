"""What each notebook records in its ``results.json``, and the summaries it shows.

Every notebook ends by writing what it did for batch users (``meshkit run``) and tests. The
records are built here, from the objects the notebook computed, so the notebooks hold no
hand-built dictionaries and every record has one tested shape. Floats are rounded (4
decimals, 6 for consistency scores) so reruns write identical files.

Examples
--------
>>> import numpy as np
>>> home_and_visitors(["a", "b"], np.array([[0.9, 0.5], [0.7, 0.8]]))
{'a': (0.9, 0.7), 'b': (0.8, 0.5)}
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["rounded", "home_and_visitors", "local_summary", "domain_setup_results",
           "local_training_results", "aggregation_results", "consistency_results",
           "security_results"]


def rounded(value, digits: int = 4):
    """``value`` with every float (in dicts, lists and tuples too) rounded to ``digits``.

    Examples
    --------
    >>> rounded({"a": 0.123456, "b": [1.0 / 3, "x", None, 2]})
    {'a': 0.1235, 'b': [0.3333, 'x', None, 2]}
    """
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, np.ndarray):
        return rounded(value.tolist(), digits)
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits)
    return value


def home_and_visitors(names: list[str], cross: np.ndarray) -> dict[str, tuple[float, float]]:
    """Per test domain: the home model's score and the mean score of the visiting models.

    ``cross[i, j]`` is the model trained on domain ``i`` scored on domain ``j``'s test set.
    A mesh of one domain has no visitors (0.0).
    """
    cross = np.asarray(cross, dtype=np.float64)
    return {n: (float(cross[j, j]),
                float(np.delete(cross[:, j], j).mean()) if len(names) > 1 else 0.0)
            for j, n in enumerate(names)}


def local_summary(setup, local, metric: str) -> pl.DataFrame:
    """Notebook 02's table: per test domain, its home model against visiting models."""
    names, cross = local.matrix(metric)
    scores = home_and_visitors(names, cross)
    return pl.DataFrame({
        "test_domain": names,
        "train_rows": [setup.datasets[n].n_train for n in names],
        f"home_{metric}": [round(scores[n][0], 4) for n in names],
        f"visitors_{metric}": [round(scores[n][1], 4) for n in names],
        f"best_{metric}": cross.max(axis=0).round(4),
        "best_model": [names[i] for i in cross.argmax(axis=0)],
    })


def domain_setup_results(mesh, frames: dict, reports: dict, store, *, seed: int, scale: float,
                         broken_product: str, broken_report) -> dict:
    """``01_domain_setup``: the mesh, each product's rows, quality and version, the refused batch."""
    return {
        "scenario": mesh.name,
        "seed": seed,
        "scale": scale,
        "domains": sorted(mesh.domains),
        "products": {p.name: {"domain": p.domain, "rows": frames[p.name].height,
                              "passed": reports[p.name].passed,
                              "version": store.latest_version(p.name)}
                     for p in mesh.products()},
        "broken_batch": {"product": broken_product,
                         "failed_checks": sorted(c.name for c in broken_report.failed),
                         "published": False},
    }


def local_training_results(scenario: str, setup, local, *, epochs: int, task=None) -> dict:
    """``02_local_training``: each domain's home and visiting scores, the cross matrix, the
    rows each domain trained and tested on, and (given ``task``, the mesh's) the task."""
    metric = setup.metric
    names, cross = local.matrix(metric)
    scores = home_and_visitors(names, cross)
    home = [scores[n][0] for n in names]
    visitors = [scores[n][1] for n in names]
    extra = {"task": task.to_dict()} if task is not None else {}
    return rounded({
        **extra,
        "scenario": scenario, "model": repr(setup.model), "metric": metric, "epochs": epochs,
        "domains": names,
        "rows": {n: d.n_train + d.n_test for n, d in setup.datasets.items()},
        "home": dict(zip(names, home)),
        "visitors": dict(zip(names, visitors)),
        "cross": cross,
        "mean_home": float(np.mean(home)), "mean_visitors": float(np.mean(visitors)),
        "mean_over_mesh": local.mean_over_domains(),
    })


def aggregation_results(scenario: str, setup, strategy, history, central: dict,
                        local_mean: dict, *, strategies: list, privacy: list,
                        recommender: dict, rounds: int, fraction: float,
                        local_epochs: int, record_privacy: list | None = None,
                        robustness: pl.DataFrame | None = None, secure: dict | None = None,
                        provenance: dict | None = None, engines: dict | None = None) -> dict:
    """``03_aggregation``: federated against centralized and local-only, the strategies,
    the private runs (domain-level DP, and record-level DP-SGD in ``record_privacy``), the
    robust rules against attacks, secure aggregation against plain FedAvg, the model's
    provenance check, the recommender (its rows, or why it was skipped) and the same job on
    the local engine and on Flower (:func:`~meshkit.tutorial.engines.compare_engines`: the
    engines' results, their largest parameter difference and timing, or why Flower was
    skipped)."""
    return rounded({
        "engines": engines or {},
        "record_privacy": record_privacy or [],
        "robustness": robustness.to_dicts() if robustness is not None else [],
        "secure_aggregation": secure or {},
        "provenance": provenance or {},
        "scenario": scenario, "metric": setup.metric, "strategy": repr(strategy),
        "rounds": rounds, "fraction": fraction, "local_epochs": local_epochs,
        "federated": history.final,
        "centralized": central["overall"],
        "local_mean": local_mean,
        "curve": history.metric(setup.metric),
        "strategies": strategies,
        "privacy": privacy,
        "failures": [list(f) for f in history.failures],
        "recommender": recommender["rows"] if recommender.get("skipped") is None
        else {"skipped": recommender["skipped"]},
    })


def consistency_results(plan, *, mode: str, threshold: float, injections: list, before,
                        repair, again, after, after_bad, recovered, matrix,
                        bounds: pl.DataFrame) -> dict:
    """``04_consistency``: the copy's scores before and after sync, a bad sync undone."""
    return rounded({
        "reference": plan.reference, "keys": plan.keys, "stale_product": plan.stale_product,
        "mode": mode,
        "changed_columns": {i.name: i.column for i in injections},
        "threshold": threshold, "injections": [i.name for i in injections],
        "score_before": before.score, "consistent_before": before.consistent,
        "layers_before": before.similarity.layer_scores(),
        "standards_ok_before": before.standards_ok,
        "sync": repair.to_dict(), "second_sync_written": again.written,
        "score_after": after.score, "consistent_after": after.consistent,
        "score_after_bad_sync": after_bad.score,
        "score_after_restore": recovered.score,
        "matrix_products": matrix.names,
        "sketch_within_bounds": bool(bounds["within"].all()),
    }, digits=6)


def security_results(attacks: list, verification, posture_report, rotation: dict, *,
                     plan=None, policy=None) -> dict:
    """``05_security``: the attacks and the layer that refused each, the audit log, posture;
    with ``plan`` (the :class:`~meshkit.tutorial.walkthrough.Walkthrough`) the product asked
    for, the consumer's domain and the principals; with ``policy`` (the model's) the ids of
    its grants and denies."""
    cast = {} if plan is None else {"walkthrough": {
        "product": plan.product, "consumer_domain": plan.consumer_domain,
        "principals": [p["name"] for p in plan.principals]}}
    if policy is not None:
        cast["policy"] = {"grants": [g.id for g in policy.grants],
                          "denies": [d.id for d in policy.denies]}
    return {
        **cast,
        "attacks": len(attacks),
        "attacks_refused": sum(a.refused for a in attacks),
        "refused_by": {a.attack: a.layer for a in attacks},
        "audit_entries": verification.size,
        "audit_intact": verification.ok,
        "posture": posture_report.rows,
        "rewrapped_on_rotation": rotation["rewrapped"],
    }
