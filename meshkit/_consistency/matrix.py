"""Pairwise similarity across every product that shares an entity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from meshkit._consistency._frames import as_frame, as_keys, check_keys
from meshkit._consistency.compare import similarity
from meshkit._consistency.sketches import Profile, profile
from meshkit._display import Bullets, Displayable, Heading, Paragraph, Table
from meshkit._errors import ConsistencyError, MeshkitError

__all__ = ["SimilarityMatrix", "similarity_matrix"]


@dataclass(repr=False)
class SimilarityMatrix(Displayable):
    """Scores of every ordered pair (row = reference, column = compared product).

    Attributes
    ----------
    names : list of str
    scores : ndarray
        ``scores[i, j] = similarity(names[i], names[j]).score``; the diagonal is 1.
    reports : dict
        ``(name_i, name_j) -> SimilarityReport``.
    skipped : dict
        Products left out and why (e.g. they lack the entity keys).
    """

    names: list[str]
    scores: np.ndarray
    reports: dict
    skipped: dict

    def to_frame(self) -> pl.DataFrame:
        """Square table: a ``product`` column, then one column per product."""
        return pl.DataFrame({"product": self.names} |
                            {n: self.scores[:, j] for j, n in enumerate(self.names)})

    def to_dict(self) -> dict:
        """JSON-ready: the names, the score matrix (rows = reference) and what was skipped."""
        return {"names": list(self.names),
                "scores": [[round(float(v), 6) for v in row] for row in self.scores],
                "skipped": dict(self.skipped)}

    def _render(self) -> list:
        out = [Heading(f"Similarity matrix ({len(self.names)} products)"),
               Table.from_frame(self.to_frame())]
        if self.skipped:
            out += [Paragraph("skipped:"), Bullets(f"{k}: {v}" for k, v in self.skipped.items())]
        return out

    def __repr__(self) -> str:
        return str(self)


def similarity_matrix(products: dict, keys, *, layer_weights: dict | None = None,
                      mode: str = "exact", **kwargs) -> SimilarityMatrix:
    """Compare every ordered pair of the products that hold the entity ``keys``.

    Parameters
    ----------
    products : dict
        Name -> polars frame (or -> :class:`~meshkit._consistency.Profile` for sketch mode).
    keys : str or list of str
        The shared entity's keys; products without them, or where they are not unique
        (events about the entity rather than the entity), are skipped (see ``skipped``).
    mode : {"exact", "sketch"}
        ``"sketch"`` profiles each frame first and compares profiles only.

    Examples
    --------
    >>> a = pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    >>> m = similarity_matrix({"a": a, "b": a.head(2), "c": pl.DataFrame({"z": [1]})}, "id")
    >>> m.names, m.skipped
    (['a', 'b'], {'c': 'lacks key column(s) id'})
    """
    if mode not in ("exact", "sketch"):
        raise ConsistencyError("unknown mode", where="mode", expected="'exact' or 'sketch'",
                               found=repr(mode))
    keys = as_keys(keys)
    chosen, skipped = {}, {}
    for name, data in products.items():
        cols = data.keys if isinstance(data, Profile) else list(data.collect_schema().names())
        missing = [k for k in keys if k not in cols]
        if missing:
            skipped[name] = f"lacks key column(s) {', '.join(missing)}"
            continue
        if not isinstance(data, Profile):
            try:
                check_keys(as_frame(data, where=name), keys, where=name)
            except MeshkitError as exc:  # events about the entity, not the entity itself
                skipped[name] = exc.message + (f" ({exc.found})" if exc.found else "")
                continue
        if mode == "sketch" and not isinstance(data, Profile):
            data = profile(data, keys, name=name)
        chosen[name] = data
    names = list(chosen)
    if len(names) < 2:
        raise ConsistencyError("fewer than two products share the entity", where=f"keys {keys}",
                               expected="at least two products with those keys",
                               found=f"{names} (skipped: {skipped})")
    scores = np.eye(len(names))
    reports = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                rep = similarity(chosen[a], chosen[b], keys, layer_weights=layer_weights, names=(a, b),
                                 **kwargs)
                reports[(a, b)] = rep
                scores[i, j] = rep.score
    return SimilarityMatrix(names, scores, reports, skipped)
