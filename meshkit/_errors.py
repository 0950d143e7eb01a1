"""One error tree for meshkit.

Every error meshkit raises on purpose is a :class:`MeshkitError`, so a notebook or a
scheduler can catch the whole family at once, and each message says what was expected,
what was found, and where (a file, a field path, a domain, a product). As in httpx, an error
that carries more than its message declares it as a keyword argument of its constructor
(shown in brackets below); nothing is attached to an error after it is built::

    MeshkitError                  any of them [where, expected, found]
    ├── SpecError                 a mesh spec or a data contract is malformed
    │   └── ContractError         a contract outside the supported ODCS v3.1 subset
    ├── DataError                 a frame or a file does not fit what its contract says
    │   └── QualityError          a product failed its contract; not published [report]
    ├── StoreError                the Delta Lake product store refused an operation
    │   └── ConcurrentWriteError  another writer committed first; nothing was changed
    ├── FederationError           bad parameters, shapes or weights for aggregation/rounds
    │   ├── NotEnoughDomainsError fewer domains answered than the round needs
    │   └── PrivacyBudgetError    over budget [epsilon_spent, epsilon_next, max_epsilon, rounds]
    ├── ConsistencyError          products cannot be compared as asked, or disagree [report]
    │   └── SyncConflictError     conflicts under the "stop" sync policy [conflicts]
    ├── SecurityError             the security model refused or could not decide
    │   ├── AuthenticationError   a token or key that does not prove who calls [decision]
    │   ├── AuthorizationError    the caller may not do this to this product [decision]
    │   ├── IntegrityError        a ciphertext, a key or an audit log was tampered with
    │   └── PolicyError           a policy file or grant is malformed
    └── RunError                  the chain or a notebook failed [notebook, cell, output]
        └── ParameterError        unknown parameter names or badly typed values
"""

from __future__ import annotations

__all__ = [
    "MeshkitError",
    "SpecError",
    "ContractError",
    "DataError",
    "QualityError",
    "StoreError",
    "ConcurrentWriteError",
    "FederationError",
    "NotEnoughDomainsError",
    "PrivacyBudgetError",
    "ConsistencyError",
    "SyncConflictError",
    "SecurityError",
    "AuthenticationError",
    "AuthorizationError",
    "IntegrityError",
    "PolicyError",
    "RunError",
    "ParameterError",
]


class MeshkitError(Exception):
    """Base of every error meshkit raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, in one sentence.
    where : str, optional
        The place at fault: a file path, a field path such as
        ``schema[0].properties[2].logicalType``, a domain or a product name.
    expected, found : object, optional
        What meshkit expected there and what it found instead.

    Examples
    --------
    >>> err = SpecError("unknown logical type", where="schema[0].properties[1].logicalType",
    ...                 expected="one of string, integer", found="'text'")
    >>> str(err)
    "schema[0].properties[1].logicalType: unknown logical type (expected one of string, integer; found 'text')"
    """

    def __init__(self, message: str, *, where: str | None = None,
                 expected: object = None, found: object = None) -> None:
        self.message = message
        self.where = where
        self.expected = expected
        self.found = found
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        details = []
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if self.found is not None:
            details.append(f"found {self.found}")
        if details:
            text += f" ({'; '.join(details)})"
        return text


class SpecError(MeshkitError):
    """A mesh spec or a data contract is malformed (bad YAML, missing or mistyped field)."""


class ContractError(SpecError):
    """A data contract uses something outside meshkit's ODCS v3.1 subset, or is malformed."""


class DataError(MeshkitError):
    """Data does not fit: a missing file, an empty product, columns or types unlike the contract."""


class QualityError(DataError):
    """A product failed its contract's checks and was not published.

    The failing :class:`~meshkit._contracts.QualityReport` is kept on ``report``.
    """

    def __init__(self, message: str, *, report=None, **kwargs) -> None:
        self.report = report
        super().__init__(message, **kwargs)


class StoreError(MeshkitError):
    """The product store refused an operation (unknown product, version or timestamp...)."""


class ConcurrentWriteError(StoreError):
    """Another writer committed to the same product first; this write changed nothing."""


class FederationError(MeshkitError):
    """Bad inputs to federated learning: shapes, counts, weights, non-finite parameters."""


class NotEnoughDomainsError(FederationError):
    """Fewer domains answered a round than ``min_available``; the run stopped."""


class PrivacyBudgetError(FederationError):
    """The next private round would take ε past ``max_epsilon``; the run stopped before it.

    ``epsilon_spent`` is ε after the ``rounds`` released so far, ``epsilon_next`` what one
    more round would make it, ``max_epsilon`` the budget.
    """

    def __init__(self, message: str, *, epsilon_spent: float | None = None,
                 epsilon_next: float | None = None, max_epsilon: float | None = None,
                 rounds: int | None = None, **kwargs) -> None:
        self.epsilon_spent = epsilon_spent
        self.epsilon_next = epsilon_next
        self.max_epsilon = max_epsilon
        self.rounds = rounds
        super().__init__(message, **kwargs)


class ConsistencyError(MeshkitError):
    """Two products cannot be compared or synced as asked (no shared columns, bad keys...),
    or, from :meth:`~meshkit._consistency.ConsistencyReport.raise_if_inconsistent`, they are
    not consistent: that :class:`~meshkit._consistency.ConsistencyReport` is kept on ``report``
    (``None`` otherwise).
    """

    def __init__(self, message: str, *, report=None, **kwargs) -> None:
        self.report = report
        super().__init__(message, **kwargs)


class SyncConflictError(ConsistencyError):
    """A sync under the ``"stop"`` policy met conflicting rows; nothing was written.

    The conflicting rows are kept on ``conflicts`` (a polars DataFrame).
    """

    def __init__(self, message: str, *, conflicts=None, **kwargs) -> None:
        self.conflicts = conflicts
        super().__init__(message, **kwargs)


class SecurityError(MeshkitError):
    """The security model refused an operation or could not reach a decision."""


class AuthenticationError(SecurityError):
    """A token or key does not prove who the caller is (forged, expired, wrong audience...).

    When a security decision refused the caller, the decision is kept on ``decision``.
    """

    def __init__(self, message: str, *, decision=None, **kwargs) -> None:
        self.decision = decision
        super().__init__(message, **kwargs)


class AuthorizationError(SecurityError):
    """The caller is not allowed this action on this product; the decision is kept on ``decision``."""

    def __init__(self, message: str, *, decision=None, **kwargs) -> None:
        self.decision = decision
        super().__init__(message, **kwargs)


class IntegrityError(SecurityError):
    """A ciphertext, a wrapped key or an audit log failed its integrity check."""


class PolicyError(SecurityError):
    """A policy file or a grant is malformed or names things that do not exist."""


class RunError(MeshkitError):
    """The notebook chain could not run, or a notebook failed (its name and cell are named).

    Parameters
    ----------
    notebook : str, optional
        The notebook that failed (its name, without ``.ipynb``).
    cell : int, optional
        The execution count of the failing cell (``None`` when no cell failed).
    output : path-like, optional
        The executed notebook, kept in the run directory.
    """

    def __init__(self, message: str, *, notebook: str | None = None, cell: int | None = None,
                 output=None, **kwargs) -> None:
        self.notebook = notebook
        self.cell = cell
        self.output = output
        super().__init__(message, **kwargs)


class ParameterError(RunError):
    """Unknown notebook parameter names or values of the wrong type; nothing was run."""
