"""Data contracts (ODCS v3.0.x, v3.1.0, v3.2.0) and their validation on polars frames.

>>> from meshkit._contracts import DataContract, validate, QualityReport, infer_contract

* :class:`DataContract` reads and writes ODCS (:meth:`~DataContract.from_dict`,
  :meth:`~DataContract.from_yaml`, :meth:`~DataContract.to_dict`,
  :meth:`~DataContract.to_yaml`); anything outside the subset is a
  :class:`~meshkit._errors.ContractError` naming its field path. The subset, and the fact that
  ``mustBeBetween`` is **exclusive** at both ends (as ODCS defines it), are documented in
  :mod:`meshkit._contracts.model`.
* :func:`validate` checks a frame and returns a :class:`QualityReport`.
* :func:`check_relationships` reports referential gaps between the tables of a contract.
* :func:`infer_contract` drafts a contract from a frame.
"""

from meshkit._contracts.infer import infer_contract
from meshkit._contracts.model import (
    METRICS,
    OPERATORS,
    ContractProperty,
    DataContract,
    QualityRule,
    SchemaObject,
)
from meshkit._contracts.relations import Relationship, check_relationships
from meshkit._contracts.report import CheckResult, QualityReport
from meshkit._contracts.types import LOGICAL_TYPES, dtype_matches
from meshkit._contracts.validate import validate

__all__ = [
    "DataContract",
    "ContractProperty",
    "QualityRule",
    "SchemaObject",
    "Relationship",
    "check_relationships",
    "QualityReport",
    "CheckResult",
    "validate",
    "infer_contract",
    "LOGICAL_TYPES",
    "METRICS",
    "OPERATORS",
    "dtype_matches",
]
