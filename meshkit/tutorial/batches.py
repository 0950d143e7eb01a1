"""The batches notebook 01 publishes besides the first: a broken one, and the next day's.

:func:`broken_batch` is what a bad upstream job sends (missing keys, a duplicated key, values
out of range), for the contract to refuse; :func:`next_batch` is a good day's growth (10 %
more rows with new keys), for a new version. Both work on any product whose contract has a
primary key, so the notebook runs on every scenario and on a user's mesh.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> sc = load_scenario("retail", scale=0.1)
>>> product = sc.mesh.product("purchases")
>>> broken = broken_batch(sc.frames["purchases"], product.contract)
>>> broken.height, broken["order_id"].null_count()
(201, 4)
"""

from __future__ import annotations

import polars as pl

from meshkit._errors import ContractError

__all__ = ["broken_batch", "next_batch"]


def _key(contract) -> str:
    if not contract.primary_key:
        raise ContractError("the batch needs the product's key", where=f"contract {contract.id!r}",
                            expected="a primary key column", found="none")
    return contract.primary_key[0]


def broken_batch(frame: pl.DataFrame, contract, *, rows: int = 200) -> pl.DataFrame:
    """The first ``rows`` rows of ``frame`` broken three ways, as a bad upstream job would.

    The first row appears again (a duplicated key), every 50th key (from the 8th) is missing,
    and every 40th value (from the 4th) of the first numeric column other than the key is
    ``-1`` (out of range for counts, prices, sizes). A product without such a column gets
    only the key faults.

    Raises
    ------
    ContractError
        The contract declares no primary key.
    """
    key = _key(contract)
    numeric = next((c for c in contract.columns if c != key
                    and contract.property(c).logical_type in ("integer", "number")), None)
    position = pl.int_range(pl.len())
    changes = [pl.when(position % 50 == 7).then(None).otherwise(pl.col(key)).alias(key)]
    if numeric is not None:
        changes.append(pl.when(position % 40 == 3).then(-1).otherwise(pl.col(numeric))
                       .cast(frame.schema[numeric]).alias(numeric))
    return pl.concat([frame.head(rows), frame.head(1)]).with_columns(changes)


def next_batch(frame: pl.DataFrame, contract, *, growth: float = 0.1) -> pl.DataFrame:
    """``frame`` and a new day of data: its last ``growth`` share of rows again, with new keys.

    New keys are the old ones with ``-r`` appended (text keys) or shifted past the largest
    key (integer keys), so the grown frame still has unique keys and passes the contract.

    Raises
    ------
    ContractError
        The contract declares no primary key.
    """
    key = _key(contract)
    extra = frame.tail(max(1, int(frame.height * growth)))
    if frame.schema[key] == pl.String:
        renamed = (pl.col(key) + "-r").alias(key)
    else:
        renamed = pl.col(key) + frame[key].max() + 1
    return pl.concat([frame, extra.with_columns(renamed)])
