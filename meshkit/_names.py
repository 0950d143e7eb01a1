"""Names: one check of product names and one of column requests, shared by every store.

A product is a Delta table folder, so its name must be a folder name the Delta layout does
not reserve: ``_delta_log`` and every name starting with ``_`` or ``.`` are Delta's own
(logs, checkpoints, change data, hidden files that ``vacuum`` skips), and ``|`` / ``=``
would be ambiguous inside the contexts bound into encrypted files.

Examples
--------
>>> check_product_name("orders")
'orders'
>>> check_product_name("_delta_log")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
meshkit._errors.StoreError: product '_delta_log': invalid product name (...)
"""

from __future__ import annotations

import re

from meshkit._errors import StoreError

__all__ = ["check_product_name", "PRODUCT_NAME", "requested_columns"]

#: 1-128 characters: a letter or digit first, then letters, digits, ``_`` or ``-``.
PRODUCT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def check_product_name(name: object) -> str:
    """Return ``name`` when it can name a product; :class:`StoreError` saying why not."""
    if not isinstance(name, str) or not PRODUCT_NAME.match(name):
        reserved = isinstance(name, str) and name[:1] in ("_", ".")
        raise StoreError("invalid product name", where=f"product {name!r}",
                         expected="1-128 letters, digits, '_' or '-', starting with a letter "
                                  "or digit (names starting with '_' or '.' are reserved by "
                                  "the Delta layout)",
                         found=f"{name!r} (reserved by Delta Lake)" if reserved else repr(name))
    return name


def requested_columns(columns, *, where: str, error: type = StoreError) -> list[str] | None:
    """``columns`` as a list, refused (``error``) when a column is asked for more than once.

    Examples
    --------
    >>> requested_columns(("a", "b"), where="read of 'orders'")
    ['a', 'b']
    >>> requested_columns(["a", "a"], where="read of 'orders'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    meshkit._errors.StoreError: read of 'orders': a column is requested more than once (...)
    """
    if columns is None:
        return None
    columns = list(columns)
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise error("a column is requested more than once", where=where,
                    expected="each column once", found=repeated)
    return columns
