"""Matrix factorization for implicit feedback, and the leave-one-out protocol to rank it.

In federated collaborative filtering each domain keeps its user factors; only the item
factors and item biases (:meth:`MatrixFactorization.get_parameters`) travel to the server.
"""

from __future__ import annotations

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.metrics import hit_rate_ndcg
from meshkit._federation.models import Model

__all__ = ["MatrixFactorization", "leave_one_out"]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class MatrixFactorization(Model):
    """Implicit-feedback matrix factorization trained with sampled negatives.

    The score of user ``u`` for item ``i`` is ``p_u . q_i + b_i``; each observed
    interaction is a positive and ``negatives`` uniformly drawn items are negatives of a
    logistic loss, with L2 penalty ``reg`` on the factors touched.

    Shared parameters ``[item_factors (n_items, k), item_bias (n_items,)]``; the user factors
    ``user_factors_`` stay local.

    Parameters
    ----------
    n_items : int
        Size of the shared item catalogue (every domain must agree).
    n_users : int or None, default None
        Users of this domain (``None``: ``max(user) + 1`` at the first fit).
    factors : int, default 16
    lr : float, default 0.05
        Per-interaction SGD step.
    reg : float, default 1e-3
    negatives : int, default 4
        Sampled negatives per positive.
    epochs : int, default 1
    batch_size : int, default 256
    mu : float, default 0.0
        FedProx proximal strength on the shared parameters.
    seed : int, default 0

    Examples
    --------
    >>> pairs = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [2, 3], [3, 2], [3, 3]])
    >>> mf = MatrixFactorization(n_items=4, factors=4, lr=0.2, epochs=300, seed=0).fit(pairs)
    >>> bool(mf.score(np.array([0]), np.array([1]))[0] > mf.score(np.array([0]), np.array([3]))[0])
    True
    """

    _fields = ("n_items", "factors", "lr", "epochs", "batch_size")
    _pairs_input = True

    def __init__(self, *, n_items: int, n_users: int | None = None, factors: int = 16,
                 lr: float = 0.05, reg: float = 1e-3, negatives: int = 4, epochs: int = 1,
                 batch_size: int = 256, mu: float = 0.0, seed: int = 0) -> None:
        super().__init__(lr=lr, epochs=epochs, batch_size=batch_size, mu=mu, seed=seed)
        self.n_items, self.n_users, self.factors = n_items, n_users, factors
        self.reg, self.negatives = reg, negatives

    def init_parameters(self, n_features=None, n_outputs=None):
        """Draw the shared item parameters (the same for every domain with the same seed)."""
        rng = np.random.default_rng(self.seed)
        self.params_ = [rng.normal(0.0, 0.1, (self.n_items, self.factors)), np.zeros(self.n_items)]
        return self

    def _init_users(self, n_users: int) -> None:
        rng = np.random.default_rng([self.seed, 1])
        self.user_factors_ = rng.normal(0.0, 0.1, (n_users, self.factors))

    def _prepare(self, X, y=None):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != 2 or not np.issubdtype(X.dtype, np.integer):
            raise FederationError("interactions must be integer (user, item) pairs", where="fit",
                                  expected="an int array of shape (n, 2)", found=f"{X.dtype} {X.shape}")
        if len(X) and (X[:, 1].min() < 0 or X[:, 1].max() >= self.n_items or X[:, 0].min() < 0):
            raise FederationError("item or user id out of range", where="fit",
                                  expected=f"0 <= item < {self.n_items}, user >= 0",
                                  found=f"items {X[:, 1].min()}..{X[:, 1].max()}")
        return X, y

    def fit(self, X, y=None, *, epochs=None, anchor=None, mu=None):
        """Train on ``(user, item)`` interaction pairs ``X``; ``y`` is ignored."""
        X, _ = self._prepare(X)
        if not hasattr(self, "params_"):
            self.init_parameters()
        n_users = self.n_users if self.n_users is not None else int(X[:, 0].max()) + 1
        if not hasattr(self, "user_factors_"):
            self._init_users(n_users)
        elif self.user_factors_.shape[0] < n_users:
            raise FederationError("more users than the model was built for", where="fit",
                                  expected=f"user < {self.user_factors_.shape[0]}", found=f"user {n_users - 1}")
        if not hasattr(self, "rng_"):
            self.rng_ = np.random.default_rng([self.seed, 2])
        mu = self.mu if mu is None else mu
        if mu > 0:
            anchor = [np.array(a, dtype=np.float64) for a in (anchor if anchor is not None else self.params_)]
        P, (Q, b) = self.user_factors_, self.params_
        neg, lr, reg = int(self.negatives), self.lr, self.reg
        labels = np.concatenate([np.ones(1), np.zeros(neg)])
        for _ in range(self.epochs if epochs is None else epochs):
            order = self.rng_.permutation(len(X))
            for start in range(0, len(X), self.batch_size):
                batch = X[order[start:start + self.batch_size]]
                m = len(batch)
                users = np.repeat(batch[:, 0], neg + 1)
                items = np.column_stack([batch[:, 1], self.rng_.integers(0, self.n_items, (m, neg))]).ravel()
                pu, qi = P[users], Q[items]
                err = _sigmoid(np.einsum("ij,ij->i", pu, qi) + b[items]) - np.tile(labels, m)
                gP = err[:, None] * qi + reg * pu
                gQ = err[:, None] * pu + reg * qi
                np.add.at(P, users, -lr * gP)
                np.add.at(Q, items, -lr * gQ)
                np.add.at(b, items, -lr * err)
                if mu > 0:
                    Q -= lr * mu * (Q - anchor[0])
                    b -= lr * mu * (b - anchor[1])
        return self

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores ``p_u . q_i + b_i`` (broadcasting ``users`` against ``items``)."""
        self._check_initialized()
        Q, b = self.params_
        return np.einsum("...k,...k->...", self.user_factors_[users], Q[items]) + b[items]

    def _gradients(self, Xb, yb):  # training is specialised in fit
        raise NotImplementedError

    def evaluate(self, X, y, k: int = 10):
        """HR@k and NDCG@k: ``X`` holds held-out ``(user, item)`` pairs, ``y`` their negatives.

        ``y`` has shape ``(n, n_negatives)`` (see :func:`leave_one_out`); the held-out item is
        ranked among its negatives.
        """
        X, _ = self._prepare(X)
        if not hasattr(self, "user_factors_"):
            self._init_users(int(X[:, 0].max()) + 1 if self.n_users is None else self.n_users)
        candidates = np.column_stack([X[:, 1], np.asarray(y)])
        hr, ndcg = hit_rate_ndcg(self.score(X[:, :1], candidates), k=k)
        return {f"hr@{k}": hr, f"ndcg@{k}": ndcg}


def leave_one_out(pairs, n_items: int, *, n_negatives: int = 99, seed: int = 0,
                  exclude=None):
    """Hold out one interaction per user (with at least two) and draw its negatives.

    Parameters
    ----------
    pairs : array_like of int, shape (n, 2)
        ``(user, item)`` interactions (duplicates are dropped).
    n_items : int
        Catalogue size.
    n_negatives : int, default 99
        Items per held-out pair the user never interacted with (NCF protocol).
    seed : int, default 0
    exclude : array_like, optional
        More ``(user, item)`` pairs that must not be drawn as negatives.

    Returns
    -------
    train : ndarray (m, 2)
    test : ndarray (u, 2)
    negatives : ndarray (u, n_negatives)

    Examples
    --------
    >>> train, test, neg = leave_one_out([[0, 1], [0, 2], [1, 3]], n_items=10, n_negatives=3)
    >>> len(train), test.shape, neg.shape
    (2, (1, 2), (1, 3))
    """
    pairs = np.unique(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=0)
    rng = np.random.default_rng(seed)
    shuffled = pairs[rng.permutation(len(pairs))]
    users, first, counts = np.unique(shuffled[:, 0], return_index=True, return_counts=True)
    held = first[counts >= 2]
    mask = np.zeros(len(shuffled), dtype=bool)
    mask[held] = True
    test = shuffled[mask]
    test = test[np.argsort(test[:, 0], kind="stable")]
    train = shuffled[~mask]
    train = train[np.lexsort((train[:, 1], train[:, 0]))]
    seen = pairs if exclude is None else np.concatenate([pairs, np.asarray(exclude, dtype=np.int64).reshape(-1, 2)])
    seen_keys = np.unique(seen[:, 0] * n_items + seen[:, 1])
    negatives = rng.integers(0, n_items, (len(test), n_negatives))
    for _ in range(1000):
        bad = np.isin(test[:, :1] * n_items + negatives, seen_keys)
        if not bad.any():
            break
        negatives[bad] = rng.integers(0, n_items, int(bad.sum()))
    return train, test, negatives
