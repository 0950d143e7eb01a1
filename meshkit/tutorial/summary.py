"""One line of headline results per notebook, read from its ``results.json``.

``meshkit run`` ends with these lines, so a batch run says what it found without opening a
notebook. Each notebook of the chain has its headline (:data:`HEADLINES`); a notebook without
one, or results without the keys a headline reads, fall back to the results' first few
scalar values. A notebook skipped on this mesh says ``skipped: <reason>``; a section skipped
(03's recommender) is added to the headline. Numbers go through the display layer's
:func:`~meshkit._display.fmt`.

Examples
--------
>>> headline("04_consistency", {"score_before": 0.87255, "consistent_before": False,
...                             "score_after": 0.983333, "consistent_after": True,
...                             "threshold": 0.9})
'θ = 0.9: score 0.8726 before sync (inconsistent), 0.9833 after (consistent)'
>>> headline("99_extra", {"rows": 12, "name": "x", "nested": {"a": 1}})
'rows 12, name x'
>>> headline("01_domain_setup", {})
'(no results.json)'
>>> headline("02_local_training", {"mesh": "own", "skipped": {
...     "02_local_training": "mesh 'own' declares no supervised task: nothing to train"}})
"skipped: mesh 'own' declares no supervised task: nothing to train"
"""

from __future__ import annotations

from meshkit._display import fmt

__all__ = ["HEADLINES", "headline", "summary_lines"]


def _verdict(ok) -> str:
    return "consistent" if ok else "inconsistent"


def _setup(r: dict) -> str:
    products = r["products"]
    broken = r.get("broken_batch") or {}
    out = (f"{r['scenario']}: {len(products)} products published in "
           f"{len(r.get('domains', []))} domains")
    if broken:
        state = "published" if broken.get("published") else "refused"
        out += (f"; the broken batch of {broken['product']} {state} "
                f"({len(broken.get('failed_checks', []))} failed checks)")
    return out


def _local(r: dict) -> str:
    return (f"{r['metric']}: {fmt(r['mean_home'])} at home, {fmt(r['mean_visitors'])} on the "
            f"other domains' data (mean over {len(r['domains'])} domains)")


def _aggregation(r: dict) -> str:
    m = r["metric"]
    return (f"{m} after {r['rounds']} rounds of {r['strategy']}: federated "
            f"{fmt(r['federated'][m])}, centralized {fmt(r['centralized'][m])}, local-only "
            f"{fmt(r['local_mean'][m])}")


def _consistency(r: dict) -> str:
    return (f"θ = {fmt(r['threshold'])}: score {fmt(r['score_before'])} before sync "
            f"({_verdict(r['consistent_before'])}), {fmt(r['score_after'])} after "
            f"({_verdict(r['consistent_after'])})")


def _security(r: dict) -> str:
    return (f"{r['attacks_refused']} of {r['attacks']} attacks refused; audit log of "
            f"{r['audit_entries']} entries {'intact' if r['audit_intact'] else 'BROKEN'}")


#: notebook -> the function that writes its headline from its results
HEADLINES = {"01_domain_setup": _setup, "02_local_training": _local,
             "03_aggregation": _aggregation, "04_consistency": _consistency,
             "05_security": _security}


def headline(notebook: str, results: dict) -> str:
    """The headline of one notebook's results (``"(no results.json)"`` when empty)."""
    if not results:
        return "(no results.json)"
    skipped = results.get("skipped") if isinstance(results.get("skipped"), dict) else {}
    if notebook in skipped:
        return f"skipped: {skipped[notebook]}"
    sections = "".join(f"; {step} skipped: {reason}" for step, reason in skipped.items())
    write = HEADLINES.get(notebook)
    if write is not None:
        try:
            return write(results) + sections
        except (KeyError, TypeError):  # results of another shape: the generic line below
            pass
    scalars = [(k, v) for k, v in results.items() if isinstance(v, (str, int, float, bool))]
    return (", ".join(f"{k} {fmt(v)}" for k, v in scalars[:4]) or "(no scalar results)") + sections


def summary_lines(results: dict) -> list[str]:
    """``"<notebook>: <headline>"`` for each notebook of a run, in run order."""
    return [f"{name}: {headline(name, r)}" for name, r in results.items()]
