"""Notebook 04's comparisons: a copy against its reference, and sketches against exact figures.

:func:`compare_copy` gives the consistency report of two frames in either mode (``"exact"``
compares rows; ``"sketch"`` compares only the mergeable profiles each domain would share);
:func:`sketch_bounds` checks that what the profiles estimate lies within the error bounds
they state.

Examples
--------
>>> import polars as pl
>>> left = pl.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0]})
>>> compare_copy(left, left, keys="id", threshold=0.9).consistent
True
"""

from __future__ import annotations

import polars as pl

from meshkit._errors import ConsistencyError

__all__ = ["MODES", "compare_copy", "sketch_bounds"]

#: How two products are compared: their rows, or the profiles their domains share.
MODES = ("exact", "sketch")


def compare_copy(reference: pl.DataFrame, copy: pl.DataFrame, *, keys, threshold: float,
                 mode: str = "exact", layer_weights: dict | None = None,
                 contracts: tuple = (None, None), names: tuple[str, str] = ("left", "right")):
    """The consistency report of ``copy`` against ``reference``.

    Parameters
    ----------
    reference, copy : polars.DataFrame
        The product that is the standard, and the copy compared with it.
    keys : str or list of str
        The entity key both share.
    threshold : float
        θ: consistent when the similarity is above it.
    mode : {"exact", "sketch"}
        ``"sketch"`` profiles both sides first (:func:`meshkit.profile`) and compares only
        the profiles.
    layer_weights : dict, optional
        Layer weights over the defaults.
    contracts : tuple, optional
        The two products' contracts, for the standards check.
    names : tuple of str
        The products' names in the report.

    Raises
    ------
    ConsistencyError
        For an unknown ``mode``.
    """
    import meshkit as mk

    if mode not in MODES:
        raise ConsistencyError("unknown comparison mode", where="mode",
                               expected=" or ".join(MODES), found=repr(mode))
    if mode == "sketch":
        reference = mk.profile(reference, keys, name=names[0])
        copy = mk.profile(copy, keys, name=names[1])
    return mk.consistency(reference, copy, threshold=threshold, keys=keys, layer_weights=layer_weights,
                          contracts=contracts, names=names)


def sketch_bounds(exact, sketched) -> pl.DataFrame:
    """Whether each figure estimated from profiles lies within its stated error bound.

    Parameters
    ----------
    exact : SimilarityReport
        The similarity computed from the rows.
    sketched : SimilarityReport
        The similarity computed from the two profiles.

    Returns
    -------
    polars.DataFrame
        One row per figure: ``figure``, ``exact`` (rounded to 3 decimals), ``bound`` (as
        text) and ``within``. The keys' Jaccard index must lie in the theta sketches'
        bounds; each column's KS statistic within the KLL sketches' rank error. The
        estimates themselves are left out: KLL compaction is randomized, so they vary
        between runs within their bound (a notebook shows only what reruns reproduce).
    """
    lo, hi = sketched.layers["keys"].details["jaccard_bounds"]
    jaccard = exact.layers["keys"].score
    rows = [{"figure": "keys jaccard", "exact": jaccard,
             "bound": f"[{lo:.3f}, {hi:.3f}]", "within": lo <= jaccard <= hi}]
    exact_ks = exact.layers["distributions"].evidence
    sketch_ks = sketched.layers["distributions"].evidence
    for column, eps in sketched.layers["distributions"].details["ks_error_bound"].items():
        d_exact = exact_ks.filter(pl.col("column") == column)["ks_statistic"].item()
        d_estimate = sketch_ks.filter(pl.col("column") == column)["ks_statistic"].item()
        rows.append({"figure": f"KS {column}", "exact": d_exact,
                     "bound": f"± {eps:.3f}", "within": abs(d_estimate - d_exact) <= eps})
    return pl.DataFrame(rows).with_columns(pl.col("exact").round(3))
