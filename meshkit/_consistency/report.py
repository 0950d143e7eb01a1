"""Reports that explain themselves: one layer, a similarity report, a consistency verdict.

Each renders once through :mod:`meshkit._display` into the text a terminal prints (``str``)
and the HTML a notebook shows, deterministically: numbers are rounded, there are no
timestamps or addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from meshkit._display import (Badge, Bullets, Details, Displayable, Heading, Paragraph, Table,
                              fmt)
from meshkit._errors import ConsistencyError

__all__ = ["LayerResult", "SimilarityReport", "ConsistencyReport", "DEFAULT_LAYER_WEIGHTS",
           "normalize_layer_weights"]

#: default weights of the layers in the overall score (renormalized over the layers present).
#: Named apart from ``aggregate``'s ``weights``, which are example counts.
DEFAULT_LAYER_WEIGHTS = {"schema": 0.2, "keys": 0.3, "values": 0.3, "distributions": 0.2}


def normalize_layer_weights(layer_weights: dict[str, float] | None, layers) -> dict[str, float]:
    """Merge ``layer_weights`` over :data:`DEFAULT_LAYER_WEIGHTS`; rescale to sum to 1 over ``layers``.

    Examples
    --------
    >>> normalize_layer_weights({"values": 0}, ["schema", "keys", "values"])
    {'schema': 0.4, 'keys': 0.6, 'values': 0.0}
    """
    merged = dict(DEFAULT_LAYER_WEIGHTS)
    for name, w in (layer_weights or {}).items():
        if name not in DEFAULT_LAYER_WEIGHTS:
            raise ConsistencyError("unknown layer in layer_weights",
                                   where=f"layer_weights[{name!r}]",
                                   expected=f"one of {list(DEFAULT_LAYER_WEIGHTS)}",
                                   found=repr(name))
        if not np.isfinite(w) or w < 0:
            raise ConsistencyError("bad layer weight", where=f"layer_weights[{name!r}]",
                                   expected="a finite number >= 0", found=repr(w))
        merged[name] = float(w)
    total = sum(merged[name] for name in layers)
    if total <= 0:
        raise ConsistencyError("layer weights sum to zero", where="layer_weights",
                               expected="at least one positive weight among "
                                        f"{list(layers)}", found=repr(layer_weights))
    return {name: merged[name] / total for name in layers}


@dataclass(repr=False)
class LayerResult(Displayable):
    """One layer's score and the evidence behind it.

    Attributes
    ----------
    name : str
        ``"schema"``, ``"keys"``, ``"values"`` or ``"distributions"``.
    score : float
        In [0, 1]; 1 means the products agree fully on this layer.
    evidence : polars.DataFrame
        The figures the score comes from (one row per column or per measure).
    notes : list of str
        Plain-language findings (missing columns, worst columns, drifted columns...).
    estimated : bool
        True when computed from sketches rather than from the data.
    error_bounds : dict
        For estimates: what the error bound of each figure is (see :mod:`.sketches`).
    details : dict
        Extra parameters (tolerances, number of shared keys...).
    """

    name: str
    score: float
    evidence: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    estimated: bool = False
    error_bounds: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def _title(self) -> str:
        return f"{self.name}: {fmt(self.score)}{' (estimate)' if self.estimated else ''}"

    def _body(self) -> list:
        findings = list(self.notes) + [f"± {k}: {fmt(v)}" for k, v in self.error_bounds.items()]
        return [Bullets(findings), Table.from_frame(self.evidence)]

    def _render(self) -> list:
        return [Heading(self._title(), level=4)] + self._body()

    def to_frame(self) -> pl.DataFrame:
        """The evidence behind the score (one row per column or per measure)."""
        return self.evidence

    def to_dict(self) -> dict:
        out = {"score": round(self.score, 6), "notes": list(self.notes),
               "estimated": self.estimated, "error_bounds": dict(self.error_bounds)}
        if "dataset_drift" in self.details:  # the distributions layer's dataset verdict
            out["dataset_drift"] = dict(self.details["dataset_drift"])
        return out

    def __repr__(self) -> str:
        return str(self)


@dataclass(repr=False)
class SimilarityReport(Displayable):
    """Every layer's score, the weights and the overall score.

    ``score = sum(weights[layer] * layers[layer].score)``, the weights summing to 1 over the
    layers present (sketch mode has no values layer: raw values never leave their domain).

    Examples
    --------
    >>> import polars as pl, meshkit as mk
    >>> d = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> r = mk.similarity(d, d, keys="id")
    >>> r.score, r.sweep([0.5, 1.0])["consistent"].to_list()
    (1.0, [True, False])
    """

    layers: dict[str, LayerResult]
    weights: dict[str, float]
    keys: list[str]
    mode: str = "exact"
    names: tuple[str, str] = ("left", "right")

    @property
    def score(self) -> float:
        """Weighted overall score in [0, 1]."""
        s = sum(self.weights[n] * self.layers[n].score for n in self.layers)
        return float(min(1.0, max(0.0, round(s, 12))))

    def layer_scores(self) -> dict[str, float]:
        """``{layer: score}``."""
        return {n: layer.score for n, layer in self.layers.items()}

    def sweep(self, thresholds=None) -> pl.DataFrame:
        """How the verdict ``score > θ`` changes with θ.

        Parameters
        ----------
        thresholds : sequence of float, optional
            Defaults to 0, 0.05, ..., 1.
        """
        ts = np.round(np.linspace(0, 1, 21), 2) if thresholds is None else np.asarray(thresholds, float)
        score = self.score
        return pl.DataFrame({"threshold": ts, "score": np.full(len(ts), score),
                             "consistent": score > ts})

    def to_frame(self) -> pl.DataFrame:
        """One row per layer: score, weight, contribution, estimate or not."""
        names = list(self.layers)
        return pl.DataFrame({
            "layer": names,
            "score": [self.layers[n].score for n in names],
            "weight": [self.weights[n] for n in names],
            "contribution": [self.weights[n] * self.layers[n].score for n in names],
            "estimated": [self.layers[n].estimated for n in names],
        })

    def to_dict(self) -> dict:
        return {"score": round(self.score, 6), "mode": self.mode, "keys": self.keys,
                "weights": self.weights,
                "layers": {n: layer.to_dict() for n, layer in self.layers.items()}}

    def _render(self) -> list:
        head = Heading(f"Similarity {self.names[0]} vs {self.names[1]} ({self.mode}): "
                       f"{fmt(self.score)}")
        return [head, Table.from_frame(self.to_frame())] + [
            Details(layer._title(), layer._body()) for layer in self.layers.values()]

    def __repr__(self) -> str:
        return str(self)


@dataclass(repr=False)
class ConsistencyReport(Displayable):
    """The verdict ``similarity > threshold``, the score and the reasons.

    Attributes
    ----------
    consistent : bool
        ``similarity.score > threshold``.
    reasons : list of str
        Every finding that pulls the score down, layer by layer, then the data-standard
        findings (contract conformance, disagreeing logical types or allowed values).
    conformance : polars.DataFrame
        One row per side that has a contract: passed, failed checks.
    standards : polars.DataFrame
        Columns on which the two contracts disagree (logical type, allowed values).
    """

    similarity: SimilarityReport
    threshold: float
    reasons: list[str]
    conformance: pl.DataFrame
    standards: pl.DataFrame

    @property
    def score(self) -> float:
        return self.similarity.score

    @property
    def consistent(self) -> bool:
        return self.score > self.threshold

    @property
    def standards_ok(self) -> bool:
        """True when both sides conform to their contracts and the contracts agree."""
        passed = self.conformance["passed"].all() if self.conformance.height else True
        return bool(passed) and self.standards.height == 0

    def __bool__(self) -> bool:
        return self.consistent

    def to_dict(self) -> dict:
        return {"consistent": self.consistent, "score": round(self.score, 6),
                "threshold": self.threshold, "reasons": list(self.reasons),
                "standards_ok": self.standards_ok,
                "similarity": self.similarity.to_dict()}

    def to_frame(self) -> pl.DataFrame:
        """One row per layer (the similarity's :meth:`SimilarityReport.to_frame`)."""
        return self.similarity.to_frame()

    def raise_if_inconsistent(self, where: str | None = None) -> ConsistencyReport:
        """Raise :class:`~meshkit._errors.ConsistencyError` (carrying this report on
        ``report``) when the products are not consistent; otherwise return the report.

        Examples
        --------
        >>> import polars as pl, meshkit as mk
        >>> d = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
        >>> mk.consistency(d, d, threshold=0.5, keys="id").raise_if_inconsistent().consistent
        True
        >>> mk.consistency(d, d.head(1), threshold=0.9, keys="id").raise_if_inconsistent()
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        meshkit._errors.ConsistencyError: left vs right: products are not consistent (expected similarity > θ = 0.9; found score 0.6667; keys 0.333: ...)
        """
        if self.consistent:
            return self
        names = self.similarity.names
        raise ConsistencyError(
            "products are not consistent", report=self,
            where=where or f"{names[0]} vs {names[1]}",
            expected=f"similarity > θ = {fmt(self.threshold)}",
            found="; ".join([f"score {fmt(self.score)}"] + self.reasons))

    def _render(self) -> list:
        word = "CONSISTENT" if self.consistent else "NOT consistent"
        out = [Heading(Badge(word, self.consistent),
                       f": score {fmt(self.score)} {'>' if self.consistent else '<='} "
                       f"θ = {fmt(self.threshold)}"),
               Bullets(self.reasons)]
        if self.conformance.height:
            out += [Paragraph("contract conformance:"), Table.from_frame(self.conformance)]
        if self.standards.height:
            out += [Paragraph("data-standard disagreements:"), Table.from_frame(self.standards)]
        return out + self.similarity._render()

    def __repr__(self) -> str:
        return str(self)
