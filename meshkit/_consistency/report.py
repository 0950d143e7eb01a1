"""Reports that explain themselves: one layer, a similarity report, a consistency verdict.

Each renders as HTML in a notebook (``_repr_html_``) and as text in a terminal (``str``),
deterministically: numbers are rounded, there are no timestamps or addresses.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import polars as pl

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


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf"
        return f"{v:.4g}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def _table_html(frame: pl.DataFrame, max_rows: int = 20) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in frame.head(max_rows).iter_rows())
    more = f"<p>… {frame.height - max_rows} more rows</p>" if frame.height > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _table_text(frame: pl.DataFrame, max_rows: int = 20) -> str:
    rows = [[_fmt(v) for v in row] for row in frame.head(max_rows).iter_rows()]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(frame.columns)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(frame.columns)] + [line(r) for r in rows]
    if frame.height > max_rows:
        out.append(f"... {frame.height - max_rows} more rows")
    return "\n".join("    " + x for x in out)


@dataclass
class LayerResult:
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

    def __str__(self) -> str:
        tag = " (estimate)" if self.estimated else ""
        out = [f"{self.name}: {self.score:.4f}{tag}"]
        out += [f"  - {n}" for n in self.notes]
        out += [f"  ± {k}: {v}" for k, v in self.error_bounds.items()]
        out.append(_table_text(self.evidence))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        tag = " <em>(estimate)</em>" if self.estimated else ""
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        bounds = "".join(f"<li>± {html.escape(k)}: {html.escape(str(v))}</li>"
                         for k, v in self.error_bounds.items())
        return (f"<h4>{html.escape(self.name)}: {self.score:.4f}{tag}</h4>"
                f"<ul>{notes}{bounds}</ul>{_table_html(self.evidence)}")

    def to_dict(self) -> dict:
        out = {"score": round(self.score, 6), "notes": list(self.notes),
               "estimated": self.estimated, "error_bounds": dict(self.error_bounds)}
        if "dataset_drift" in self.details:  # the distributions layer's dataset verdict
            out["dataset_drift"] = dict(self.details["dataset_drift"])
        return out


@dataclass
class SimilarityReport:
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

    def __str__(self) -> str:
        head = (f"Similarity {self.names[0]} vs {self.names[1]} ({self.mode}): "
                f"{self.score:.4f}")
        return "\n".join([head, _table_text(self.to_frame())]
                         + [str(layer) for layer in self.layers.values()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = (f"<h3>Similarity {html.escape(self.names[0])} vs {html.escape(self.names[1])}"
                f" ({self.mode}): {self.score:.4f}</h3>")
        return head + _table_html(self.to_frame()) + "".join(
            f"<details><summary>{html.escape(n)}: {layer.score:.4f}</summary>"
            f"{layer._repr_html_()}</details>" for n, layer in self.layers.items())


@dataclass
class ConsistencyReport:
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

    def _verdict(self) -> str:
        word = "CONSISTENT" if self.consistent else "NOT consistent"
        return f"{word}: score {self.score:.4f} {'>' if self.consistent else '<='} θ = {self.threshold:g}"

    def __str__(self) -> str:
        out = [self._verdict()] + [f"  - {r}" for r in self.reasons]
        if self.conformance.height:
            out += ["contract conformance:", _table_text(self.conformance)]
        if self.standards.height:
            out += ["data-standard disagreements:", _table_text(self.standards)]
        return "\n".join(out + [str(self.similarity)])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.consistent else "#b42318"
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        parts = [f"<h3 style='color:{color}'>{html.escape(self._verdict())}</h3>",
                 f"<ul>{reasons}</ul>"]
        if self.conformance.height:
            parts += ["<h4>contract conformance</h4>", _table_html(self.conformance)]
        if self.standards.height:
            parts += ["<h4>data-standard disagreements</h4>", _table_html(self.standards)]
        return "".join(parts) + self.similarity._repr_html_()
