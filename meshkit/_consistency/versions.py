"""The difference between two versions of a product, by its entity keys.

A product's versions are its Delta table versions (:class:`~meshkit._store.ProductStore`,
whose ``history`` lists them and whose ``restore`` commits an earlier one as the newest,
which is how a product is recovered after a bad sync:
``store.restore(name, result.version_before)``). :func:`diff_versions` says which keys were
added or removed and which rows changed, naming the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from meshkit._consistency._frames import as_keys, check_keys
from meshkit._display import Bullets, Displayable, Heading, Paragraph
from meshkit._errors import ConsistencyError

__all__ = ["VersionDiff", "diff_versions", "diff_frames"]


@dataclass(repr=False)
class VersionDiff(Displayable):
    """Rows added, removed and changed between two versions, by key.

    Attributes
    ----------
    added, removed : polars.DataFrame
        Whole rows present only in the newer / only in the older version.
    changed : polars.DataFrame
        Keys of rows present in both with different values, and ``columns`` (comma-separated
        names of the columns that changed).
    column_changes : dict
        Column -> number of rows where it changed.
    """

    name: str
    old: int | None
    new: int | None
    added: pl.DataFrame
    removed: pl.DataFrame
    changed: pl.DataFrame
    column_changes: dict
    schema_changes: list

    @property
    def is_empty(self) -> bool:
        return not (self.added.height or self.removed.height or self.changed.height
                    or self.schema_changes)

    def summary(self) -> dict:
        return {"added": self.added.height, "removed": self.removed.height,
                "changed": self.changed.height, "column_changes": dict(self.column_changes),
                "schema_changes": list(self.schema_changes)}

    def to_dict(self) -> dict:
        """JSON-ready: the product, both versions and :meth:`summary`."""
        return {"name": self.name, "old": self.old, "new": self.new, **self.summary()}

    def to_frame(self) -> pl.DataFrame:
        """One row per changed column: how many rows changed in it."""
        return pl.DataFrame({"column": list(self.column_changes),
                             "rows_changed": list(self.column_changes.values())},
                            schema={"column": pl.String, "rows_changed": pl.Int64})

    def _render(self) -> list:
        cols = ", ".join(f"{c}: {n}" for c, n in self.column_changes.items()) or "none"
        head = (f"{self.name} v{self.old} -> v{self.new}: {self.added.height} added, "
                f"{self.removed.height} removed, {self.changed.height} changed "
                f"(by column: {cols})")
        out = [Heading(head)]
        if self.schema_changes:
            out += [Paragraph("schema changes:"), Bullets(self.schema_changes)]
        return out

    def __repr__(self) -> str:
        return str(self)


def diff_frames(old: pl.DataFrame, new: pl.DataFrame, keys, *, name: str = "product",
                versions: tuple = (None, None)) -> VersionDiff:
    """The difference between two frames of one product, by entity ``keys``.

    Columns present in only one frame, or whose type changed, are reported in
    ``schema_changes`` and compared as text when both have them.

    Examples
    --------
    >>> a = pl.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    >>> b = pl.DataFrame({"id": [2, 3, 4], "v": ["b", "z", "d"]})
    >>> diff_frames(a, b, "id").summary()["changed"]
    1
    """
    keys = as_keys(keys)
    check_keys(old, keys, where=f"{name} v{versions[0]}")
    check_keys(new, keys, where=f"{name} v{versions[1]}")
    schema_changes = [f"{c} added" for c in new.columns if c not in old.columns]
    schema_changes += [f"{c} removed" for c in old.columns if c not in new.columns]
    common = [c for c in old.columns if c in new.columns and c not in keys]
    for c in common:
        if old.schema[c] != new.schema[c]:
            schema_changes.append(f"{c} {old.schema[c]} -> {new.schema[c]}")
    added = new.join(old.select(keys), on=keys, how="anti").sort(keys)
    removed = old.join(new.select(keys), on=keys, how="anti").sort(keys)

    def side(frame, suffix):
        return frame.select([*keys, *[(pl.col(c) if old.schema[c] == new.schema[c]
                                     else pl.col(c).cast(pl.Utf8)).alias(c + suffix)
                                    for c in common]])

    both = side(old, "__o").join(side(new, "__n"), on=keys, how="inner")
    diffs = {c: ~pl.col(c + "__o").eq_missing(pl.col(c + "__n")) for c in common}
    if diffs:
        both = both.with_columns([d.alias(f"{c}__d") for c, d in diffs.items()])
        changed = both.filter(pl.any_horizontal([pl.col(f"{c}__d") for c in common])).select(
            [*keys, pl.concat_list([pl.when(pl.col(f"{c}__d")).then(pl.lit(c)) for c in common])
             .list.drop_nulls().list.join(", ").alias("columns")]).sort(keys)
        counts = both.select([pl.col(f"{c}__d").sum().alias(c) for c in common]).row(0, named=True)
        column_changes = {c: int(n) for c, n in counts.items() if n}
    else:
        changed = both.select(keys).clear().with_columns(pl.lit("").alias("columns"))
        column_changes = {}
    return VersionDiff(name, versions[0], versions[1], added, removed, changed, column_changes,
                       schema_changes)


def diff_versions(store, name: str, keys, old: int | None = None,
                  new: int | None = None) -> VersionDiff:
    """Compare two versions of a stored product by key.

    Parameters
    ----------
    store : ProductStore
    name : str
    keys : str or list of str
        Entity keys.
    old, new : int, optional
        Versions; default the one before the latest, and the latest.
    """
    latest = store.latest_version(name)
    new = latest if new is None else new
    old = new - 1 if old is None else old
    if old < 0:
        raise ConsistencyError("no earlier version to compare with", where=f"product {name!r}",
                               expected="a product with at least two versions",
                               found=f"versions up to {latest}")
    return diff_frames(store.read(name, version=old), store.read(name, version=new), keys,
                       name=name, versions=(old, new))

