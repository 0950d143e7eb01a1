"""``similarity(d1, d2)`` and ``consistency(d1, d2, threshold)``: the layered comparison.

``consistency(D1, D2) = similarity(D1, D2) > θ``. The similarity has four layers, each with
its score and evidence (see :mod:`meshkit._consistency.layers`):

========================  ===============================================  ========
layer                     score                                            weight
========================  ===============================================  ========
``schema``                corresponding columns (exact/fuzzy names, types)  0.2
``keys``                  Jaccard of the entity keys                       0.3
``values``                share of agreeing values on shared keys          0.3
``distributions``         mean of 1 - KS (numeric) / 1 - JS (categorical)  0.2
========================  ===============================================  ========

The weights can be changed (``layer_weights={"values": 0.5}``); they are rescaled to sum to 1 over
the layers present. Drift flags follow Evidently 0.7.23's default tests (see
:func:`~meshkit._consistency.layers.drift_rule`): with at most 1,000 reference rows KS,
chi-square goodness of fit (categorical, or at most 5 distinct values) or the Z-test (at most
2 values); above that the normalized Wasserstein distance or Jensen–Shannon (categorical, or at
most 5 distinct values); the dataset drifts when at least half its columns do.
"""

from __future__ import annotations

import polars as pl

from meshkit._consistency import layers as L
from meshkit._consistency._frames import as_frame, as_keys, check_keys
from meshkit._consistency.report import ConsistencyReport, SimilarityReport, normalize_layer_weights
from meshkit._consistency.sketches import Profile, similarity_from_profiles
from meshkit._consistency.standards import conformance, disagreements
from meshkit._errors import ConsistencyError

__all__ = ["similarity", "consistency"]


def _keys_from(keys, contracts) -> list[str]:
    keys = as_keys(keys)
    if keys:
        return keys
    for c in contracts:
        pk = list(getattr(c, "primary_key", []) or [])
        if pk:
            return pk
    raise ConsistencyError("no entity keys", where="keys",
                           expected="keys=<column(s)> or a contract with a primaryKey",
                           found="none")


def similarity(d1, d2, keys=None, *, layer_weights: dict | None = None, rtol: float = 1e-9,
               atol: float = 1e-9, names: tuple[str, str] = ("left", "right"),
               contracts: tuple = (None, None), drift_tests=None,
               drift_share: float | None = None) -> SimilarityReport:
    """Compare two products layer by layer; ``d1`` is the reference.

    Parameters
    ----------
    d1, d2 : polars.DataFrame or LazyFrame, or :class:`~meshkit._consistency.Profile`
        The two products. Two profiles (see :func:`~meshkit._consistency.profile`) compare
        without moving data: sketch mode, no values layer, figures marked as estimates.
    keys : str or list of str, optional
        The entity keys; defaults to the first contract's primary key.
    layer_weights : dict, optional
        Layer weights over :data:`~meshkit._consistency.DEFAULT_LAYER_WEIGHTS`.
    rtol, atol : float
        Numeric tolerance of the values layer: ``|a - b| <= atol + rtol * |a|``.
    names : (str, str)
        How the two sides are called in the report.
    contracts : (DataContract or None, DataContract or None)
        Only used for the default keys here; see :func:`consistency`.
    drift_tests : str or dict, optional
        A drift test by name (``"ks"``, ``"wasserstein"``, ``"chi_square"``, ``"z"``,
        ``"jensen_shannon"``, ``"psi"``) for every column, or ``{column: name}``; columns
        not named get Evidently's default test (:func:`~meshkit._consistency.layers.drift_rule`).
    drift_share : float, optional
        Share of drifted columns at which the dataset drifts (Evidently's 0.5).

    Raises
    ------
    ConsistencyError
        Keys missing, null or duplicated on a side; no shared columns; key types differ.
    DataError
        An empty product.

    Examples
    --------
    >>> import polars as pl
    >>> a = pl.DataFrame({"id": [1, 2, 3, 4], "tier": ["a", "b", "a", "b"]})
    >>> b = pl.DataFrame({"id": [1, 2, 3, 5], "tier": ["a", "b", "b", "b"]})
    >>> r = similarity(a, b, keys="id")
    >>> r.layers["keys"].score, r.layers["values"].score
    (0.6, 0.6666666666666666)
    """
    if isinstance(d1, Profile) or isinstance(d2, Profile):
        if not (isinstance(d1, Profile) and isinstance(d2, Profile)):
            raise ConsistencyError("cannot mix a profile and a frame", where="similarity",
                                   expected="two frames or two profiles",
                                   found=f"{type(d1).__name__} and {type(d2).__name__}")
        return similarity_from_profiles(d1, d2, layer_weights=layer_weights, names=names,
                                        drift_tests=drift_tests, drift_share=drift_share)
    keys = _keys_from(keys, contracts)
    left = as_frame(d1, where=names[0])
    right = as_frame(d2, where=names[1])
    check_keys(left, keys, where=names[0])
    check_keys(right, keys, where=names[1])
    lschema = {c: t for c, t in left.schema.items()}
    rschema = {c: t for c, t in right.schema.items()}
    pairs, only_l, only_r = L.match_columns(lschema, rschema)
    if not [p for p in pairs if p.left not in keys]:
        raise ConsistencyError("no shared columns besides the keys", where=f"{names[0]} vs {names[1]}",
                               expected="at least one corresponding column",
                               found=f"{names[0]}: {left.columns}; {names[1]}: {right.columns}")
    result = {
        "schema": L.schema_layer(pairs, only_l, only_r),
        "keys": L.key_layer(left, right, keys),
        "values": L.value_layer(left, right, keys, pairs, rtol=rtol, atol=atol),
        "distributions": L.distribution_layer(left, right, keys, pairs, drift_tests=drift_tests,
                                              drift_share=drift_share),
    }
    return SimilarityReport(result, normalize_layer_weights(layer_weights, result), keys, "exact", names)


def consistency(d1, d2, threshold: float = 0.8, *, keys=None, layer_weights: dict | None = None,
                contracts: tuple = (None, None), rtol: float = 1e-9, atol: float = 1e-9,
                names: tuple[str, str] = ("left", "right"), drift_tests=None,
                drift_share: float | None = None) -> ConsistencyReport:
    """The verdict ``similarity(d1, d2) > threshold``, the score and the reasons.

    Besides the similarity reasons (layers below the threshold, missing keys and columns,
    worst columns, drifted columns), the report checks the data standards: each side's
    conformance to its contract, and the corresponding columns on which the two contracts
    disagree on logical type or allowed values. Those are flagged in ``reasons`` and
    ``standards_ok``; the verdict itself is the score against θ.

    Parameters
    ----------
    threshold : float
        θ in [0, 1].
    contracts : (DataContract or None, DataContract or None)
        Each side's contract (its standard).

    Other parameters are those of :func:`similarity`.

    Examples
    --------
    >>> import polars as pl
    >>> d = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> consistency(d, d, threshold=0.99, keys="id").consistent
    True
    """
    if not 0 <= threshold <= 1:
        raise ConsistencyError("threshold out of range", where="threshold",
                               expected="a number in [0, 1]", found=repr(threshold))
    sim = similarity(d1, d2, keys, layer_weights=layer_weights, rtol=rtol, atol=atol, names=names,
                     contracts=contracts, drift_tests=drift_tests, drift_share=drift_share)
    reasons = []
    for name, layer in sim.layers.items():
        if layer.score < 1:
            reasons.append(f"{name} {layer.score:.3f}: " + "; ".join(layer.notes))
    conf = pl.DataFrame(schema={"side": pl.Utf8, "contract": pl.Utf8, "passed": pl.Boolean,
                                "checks": pl.Int64, "failed": pl.Int64,
                                "failed_checks": pl.Utf8})
    std = disagreements(None, None, [])
    if sim.mode == "exact" and any(c is not None for c in contracts):
        left, right = as_frame(d1, where=names[0]), as_frame(d2, where=names[1])
        conf = conformance([(names[0], left, contracts[0]), (names[1], right, contracts[1])])
        pairs, _, _ = L.match_columns(dict(left.schema), dict(right.schema))
        std = disagreements(contracts[0], contracts[1], pairs)
    for row in conf.filter(~pl.col("passed")).iter_rows(named=True):
        reasons.append(f"{row['side']} fails its contract {row['contract']}: "
                       f"{row['failed']} of {row['checks']} checks ({row['failed_checks']})")
    for row in std.iter_rows(named=True):
        reasons.append(f"contracts disagree on {row['left']} {row['aspect']}: "
                       f"{row['left_standard']} vs {row['right_standard']}")
    return ConsistencyReport(sim, float(threshold), reasons, conf, std)
