"""The metrics the models report: log-loss, accuracy, AUC, RMSE, HR@k and NDCG@k."""

from __future__ import annotations

import numpy as np

__all__ = ["log_loss", "accuracy", "roc_auc", "rmse", "hit_rate_ndcg"]


def log_loss(proba: np.ndarray, y: np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the true classes.

    Examples
    --------
    >>> round(log_loss(np.array([[0.5, 0.5], [0.1, 0.9]]), np.array([0, 1])), 4)
    0.3993
    """
    p = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(p, eps, 1.0))))


def accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose most probable class is the true one.

    Examples
    --------
    >>> accuracy(np.array([[0.8, 0.2], [0.3, 0.7]]), np.array([0, 0]))
    0.5
    """
    return float(np.mean(np.argmax(proba, axis=1) == y))


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with one class only.

    Examples
    --------
    >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    0.75
    """
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # here: scipy.stats takes seconds to import, and every
    # Flower ClientApp process (one per message) imports this module

    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rmse(pred: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared error.

    Examples
    --------
    >>> rmse(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    """
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(y)) ** 2)))


def hit_rate_ndcg(scores: np.ndarray, k: int = 10) -> tuple[float, float]:
    """HR@k and NDCG@k when column 0 holds the held-out item and the rest are negatives.

    Ties count against the held-out item: its (0-based) rank is the number of negatives
    scored higher than it *or equal to it*, i.e. ``rankdata(-row, method="max")[0] - 1`` in
    scipy's terms, and a NaN score on either side counts against it too. A constant or NaN
    model therefore ranks the held-out item last, never first. (Some papers count ties in
    the item's favour, which lets a constant model score HR@k = 1.0; meshkit does not.)

    Examples
    --------
    >>> hit_rate_ndcg(np.array([[0.9, 0.1, 0.2], [0.1, 0.5, 0.9]]), k=1)
    (0.5, 0.5)
    >>> hit_rate_ndcg(np.zeros((4, 3)), k=2)  # a constant model: every item tied, all missed
    (0.0, 0.0)
    """
    scores = np.asarray(scores, dtype=np.float64)
    rank = (~(scores[:, 1:] < scores[:, :1])).sum(axis=1)  # NaN comparisons are False: against
    hit = rank < k
    ndcg = np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)
    return float(hit.mean()), float(ndcg.mean())
