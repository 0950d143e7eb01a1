"""Small, explicit numpy models for local training in a domain.

Each model exposes its parameters as a list of arrays (:meth:`Model.get_parameters` /
:meth:`Model.set_parameters`), trains for a number of local epochs of mini-batch SGD
(:meth:`Model.fit`, optionally with FedProx's proximal term ``mu/2 * ||w - w_t||^2`` towards
an anchor), and evaluates the metric its task needs (:meth:`Model.evaluate`).

scikit-learn's conventions hold (:mod:`meshkit._federation._base`): constructors only store
keyword hyper-parameters, which are validated when the model is used; ``get_params``,
``set_params`` and ``clone`` read the constructor's signature; the repr is built from the
parameters; learned state ends in ``_``.

Record-level privacy: give a model ``dp=DPSGD(...)`` and :meth:`Model.fit` runs DP-SGD
(per-example clipping and Gaussian noise, vectorized over the batch; see
:mod:`meshkit._federation.dpsgd`); :meth:`Model.epsilon` is the ε it has spent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation._base import Params
from meshkit._federation.dpsgd import DPSGD, _contract, ledger_epsilon
from meshkit._federation.metrics import accuracy, log_loss, rmse, roc_auc

__all__ = ["Model", "LogisticRegression", "LinearRegression", "MLPClassifier"]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _is_count(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


class Model(Params, ABC):
    """Base of the local models: parameters as arrays, mini-batch SGD, a task metric.

    Parameters
    ----------
    lr : float
        Learning rate of local SGD.
    epochs : int
        Local epochs per :meth:`fit` call.
    batch_size : int
        Mini-batch size.
    mu : float
        FedProx proximal strength (``0``: plain local SGD).
    seed : int
        Seed for initialisation and batch order (science, not security: DP noise never
        comes from it).
    dp : DPSGD or None
        Train with DP-SGD (record-level privacy); ``None``: plain SGD.

    Attributes
    ----------
    params_ : list of ndarray
        The parameters.
    dp_ledger_ : list of (float, float, int)
        With ``dp``: ``(noise_multiplier, sampling rate, steps)`` of every :meth:`fit` call.
    """

    #: True when ``X`` holds integer (user, item) pairs rather than features
    _pairs_input: bool = False

    def __init__(self, *, lr: float, epochs: int, batch_size: int, mu: float, seed: int,
                 dp: DPSGD | None = None) -> None:
        self.lr, self.epochs, self.batch_size, self.mu, self.seed = lr, epochs, batch_size, mu, seed
        self.dp = dp

    def _validate(self, epochs=None, mu=None) -> None:
        """Refuse bad hyper-parameters when the model is used (scikit-learn's convention)."""
        epochs = self.epochs if epochs is None else epochs
        mu = self.mu if mu is None else mu
        checks = (("lr", _is_number(self.lr) and np.isfinite(self.lr) and self.lr > 0, "a finite number > 0"),
                  ("epochs", _is_count(epochs) and epochs >= 0, "an int >= 0"),
                  ("batch_size", _is_count(self.batch_size) and self.batch_size >= 1, "an int >= 1"),
                  ("mu", _is_number(mu) and np.isfinite(mu) and mu >= 0, "a finite number >= 0"),
                  ("seed", _is_count(self.seed) and self.seed >= 0, "an int >= 0"),
                  ("dp", self.dp is None or isinstance(self.dp, DPSGD), "None or a DPSGD"))
        for name, ok, expected in checks:
            if not ok:
                found = epochs if name == "epochs" else mu if name == "mu" else getattr(self, name)
                raise FederationError("bad model hyper-parameter", where=f"{type(self).__name__}: {name}",
                                      expected=expected, found=repr(found))
        if self.dp is not None:
            self.dp.validate(type(self).__name__)

    def epsilon(self, delta: float | None = None) -> float:
        """ε spent on this model's training data by DP-SGD so far (``inf`` without ``dp``).

        From dp-accounting's RDP accountant (default orders): every step is a Gaussian
        mechanism sampled at ``batch_size / n_train``; ``delta`` defaults to ``dp.delta``.

        Examples
        --------
        >>> X = np.random.default_rng(0).normal(size=(200, 2)); y = (X[:, 0] > 0).astype(int)
        >>> m = LogisticRegression(dp=DPSGD(noise_multiplier=1.0), batch_size=20, epochs=2).fit(X, y)
        >>> from meshkit._federation.accounting import dp_epsilon
        >>> m.dp_ledger_, m.epsilon() == dp_epsilon(1.0, 0.1, 20)
        ([(1.0, 0.1, 20)], True)
        """
        ledger = getattr(self, "dp_ledger_", [])
        if self.dp is None and not ledger:
            return float("inf")
        if delta is None:
            delta = self.dp.delta if self.dp is not None else 1e-5
        return ledger_epsilon(ledger, delta)

    # -- parameters -------------------------------------------------------------------
    @abstractmethod
    def init_parameters(self, n_features: int, n_outputs: int) -> "Model":
        """Draw initial parameters for ``n_features`` inputs and ``n_outputs`` outputs."""

    def get_parameters(self) -> list[np.ndarray]:
        """Copies of the parameters, in a fixed order."""
        self._check_initialized()
        return [p.copy() for p in self.params_]

    def set_parameters(self, params) -> "Model":
        """Replace the parameters (shapes must match the model's)."""
        params = [np.array(p, dtype=np.float64) for p in params]
        if hasattr(self, "params_"):
            if len(params) != len(self.params_):
                raise FederationError("wrong number of parameter arrays", where=repr(self),
                                      expected=f"{len(self.params_)}", found=f"{len(params)}")
            for k, (new, old) in enumerate(zip(params, self.params_)):
                if new.shape != old.shape:
                    raise FederationError("parameter shape differs", where=f"{self!r}, array {k}",
                                          expected=str(old.shape), found=str(new.shape))
        self.params_ = params
        return self

    def _check_initialized(self) -> None:
        if not hasattr(self, "params_"):
            raise FederationError("model has no parameters yet", where=repr(self),
                                  expected="init_parameters(), set_parameters() or fit() first",
                                  found="an unfitted model")

    # -- training ---------------------------------------------------------------------
    def _factors(self, Xb: np.ndarray, yb: np.ndarray) -> list[tuple[np.ndarray | None, np.ndarray]]:
        """Per-example gradients as outer products, one ``(A, E)`` per parameter array.

        Example ``i``'s gradient of the loss on it alone is ``outer(A[i], E[i])`` (or ``E[i]``
        when ``A`` is ``None``); see :func:`~meshkit._federation.dpsgd.per_example_clipped_sum`.
        """
        raise FederationError("this model has no per-example gradients", where=type(self).__name__,
                              expected="a model supporting DP-SGD (logistic, mlp, linear)", found="dp=...")

    def _penalty_gradients(self) -> list[np.ndarray | None]:
        """Gradients of data-independent penalties (e.g. L2), ``None`` where there is none."""
        return [None] * len(self.params_)

    def _gradients(self, Xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        """Gradient of the mean loss on one mini-batch, one array per parameter."""
        n = len(yb)
        grads = [_contract(A, E) / n if A is not None else E.sum(axis=0) / n for A, E in self._factors(Xb, yb)]
        return [g if pen is None else g + pen for g, pen in zip(grads, self._penalty_gradients())]

    def _private_gradients(self, Xb: np.ndarray, yb: np.ndarray, noise: np.ndarray) -> list[np.ndarray]:
        """DP-SGD's gradient: clipped per-example gradients, summed, noised, over ``batch_size``."""
        grads = self.dp.privatize(self._factors(Xb, yb), int(self.batch_size), noise=noise)
        return [g if pen is None else g + pen for g, pen in zip(grads, self._penalty_gradients())]

    def _n_outputs(self, y: np.ndarray) -> int:
        return 1

    def _prepare(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise FederationError("X must be 2-D with one row per label", where="fit",
                                  expected="X (n, d) and y (n,)", found=f"X {X.shape}, y {y.shape}")
        return X, y

    def fit(self, X, y, *, epochs: int | None = None, anchor=None, mu: float | None = None) -> "Model":
        """Run local mini-batch SGD; returns ``self``.

        Parameters
        ----------
        X, y : array_like
            Local training data.
        epochs : int, optional
            Overrides the constructor's ``epochs``.
        anchor : list of ndarray, optional
            The global parameters of this round, for FedProx's proximal term
            (default: the parameters at the start of this call).
        mu : float, optional
            Overrides the constructor's ``mu``.
        """
        self._validate(epochs, mu)
        X, y = self._prepare(X, y)
        if not hasattr(self, "params_"):
            self.init_parameters(X.shape[1], self._n_outputs(y))
        if not hasattr(self, "rng_"):
            self.rng_ = np.random.default_rng(self.seed)
        mu = self.mu if mu is None else mu
        if mu > 0:
            anchor = [np.array(a, dtype=np.float64) for a in (anchor if anchor is not None else self.params_)]
        n, bs, lr = len(X), int(self.batch_size), self.lr
        epochs = self.epochs if epochs is None else epochs
        private = self.dp is not None
        if private:
            self.dp_ledger_ = list(getattr(self, "dp_ledger_", []))
            done = sum(steps for _, _, steps in self.dp_ledger_)
            noise = self.dp.step_noise(sum(p.size for p in self.params_), epochs * -(-n // bs), done)
            steps = 0
        for _ in range(epochs):
            order = self.rng_.permutation(n)
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                if private:
                    grads = self._private_gradients(X[idx], y[idx], next(noise))
                    steps += 1
                else:
                    grads = self._gradients(X[idx], y[idx])
                for p, g, a in zip(self.params_, grads, anchor if mu > 0 else grads):
                    if mu > 0:
                        g = g + mu * (p - a)
                    p -= lr * g
        if private and steps:
            self.dp_ledger_.append((float(self.dp.noise_multiplier), min(1.0, bs / n), steps))
        return self

    @abstractmethod
    def evaluate(self, X, y) -> dict[str, float]:
        """The task's metrics on ``(X, y)``."""


class _Classifier(Model):
    """Shared parts of the softmax classifiers."""

    def __init__(self, *, n_classes, lr, epochs, batch_size, mu, seed, dp=None):
        super().__init__(lr=lr, epochs=epochs, batch_size=batch_size, mu=mu, seed=seed, dp=dp)
        self.n_classes = n_classes

    def _errors(self, z: np.ndarray, yb: np.ndarray) -> np.ndarray:
        """Per-example gradient of the log-loss with respect to the logits."""
        err = _softmax(z)
        err[np.arange(len(yb)), yb] -= 1.0
        return err

    def _n_outputs(self, y):
        return self.n_classes if self.n_classes is not None else max(2, int(y.max()) + 1)

    def _prepare(self, X, y):
        X, y = super()._prepare(X, y)
        return X, y.astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``."""
        self._check_initialized()
        return _softmax(self._logits(np.asarray(X, dtype=np.float64))[-1])

    def predict(self, X) -> np.ndarray:
        """Most probable class."""
        return np.argmax(self.predict_proba(X), axis=1)

    def evaluate(self, X, y):
        """Log-loss and accuracy, plus AUC for two classes.

        Examples
        --------
        >>> m = LogisticRegression(n_classes=2).set_parameters([np.zeros((1, 2)), np.zeros(2)])
        >>> m.evaluate(np.ones((2, 1)), np.array([0, 1]))["accuracy"]
        0.5
        """
        X, y = self._prepare(X, y)
        proba = self.predict_proba(X)
        out = {"log_loss": log_loss(proba, y), "accuracy": accuracy(proba, y)}
        if proba.shape[1] == 2:
            out["auc"] = roc_auc(proba[:, 1], y)
        return out


class LogisticRegression(_Classifier):
    """Multinomial logistic regression trained by mini-batch SGD on the mean log-loss.

    Parameters ``[coef (d, K), intercept (K,)]``.

    Parameters
    ----------
    n_classes : int or None, default None
        Number of classes (``None``: ``max(y) + 1`` at the first fit, at least 2). Set it
        when domains may miss classes.
    lr : float, default 0.1
    epochs : int, default 1
    batch_size : int, default 32
    l2 : float, default 0.0
        L2 penalty on the coefficients.
    mu : float, default 0.0
        FedProx proximal strength.
    seed : int, default 0
    dp : DPSGD or None, default None
        Train with DP-SGD (record-level privacy).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression(lr=0.5, epochs=200, batch_size=4).fit(X, y)
    >>> model.predict(X).tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, *, n_classes: int | None = None, lr: float = 0.1, epochs: int = 1,
                 batch_size: int = 32, l2: float = 0.0, mu: float = 0.0, seed: int = 0,
                 dp: DPSGD | None = None) -> None:
        super().__init__(n_classes=n_classes, lr=lr, epochs=epochs, batch_size=batch_size, mu=mu, seed=seed,
                         dp=dp)
        self.l2 = l2

    def init_parameters(self, n_features, n_outputs):
        self.params_ = [np.zeros((n_features, n_outputs)), np.zeros(n_outputs)]
        return self

    @property
    def coef_(self):
        return self.params_[0]

    @property
    def intercept_(self):
        return self.params_[1]

    def _logits(self, X):
        W, b = self.params_
        return [X @ W + b]

    def _factors(self, Xb, yb):
        W, b = self.params_
        err = self._errors(Xb @ W + b, yb)
        return [(Xb, err), (None, err)]

    def _penalty_gradients(self):
        return [self.l2 * self.params_[0] if self.l2 else None, None]


class MLPClassifier(_Classifier):
    """One-hidden-layer perceptron (ReLU, softmax output) trained by mini-batch SGD.

    Parameters ``[W1 (d, h), b1 (h,), W2 (h, K), b2 (K,)]``, He-initialised from ``seed``.

    Parameters
    ----------
    hidden : int, default 32
        Hidden units.
    n_classes, lr, epochs, batch_size, mu, seed, dp
        As for :class:`LogisticRegression` (``lr`` default 0.05).

    Examples
    --------
    >>> X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]] * 50); y = np.array([0, 1, 1, 0] * 50)
    >>> MLPClassifier(hidden=16, lr=0.2, epochs=300, seed=1).fit(X, y).evaluate(X, y)["accuracy"]
    1.0
    """

    def __init__(self, *, hidden: int = 32, n_classes: int | None = None, lr: float = 0.05,
                 epochs: int = 1, batch_size: int = 32, mu: float = 0.0, seed: int = 0,
                 dp: DPSGD | None = None) -> None:
        super().__init__(n_classes=n_classes, lr=lr, epochs=epochs, batch_size=batch_size, mu=mu, seed=seed,
                         dp=dp)
        self.hidden = hidden

    def init_parameters(self, n_features, n_outputs):
        rng = np.random.default_rng(self.seed)
        self.params_ = [rng.normal(0.0, np.sqrt(2.0 / n_features), (n_features, self.hidden)),
                        np.zeros(self.hidden),
                        rng.normal(0.0, np.sqrt(2.0 / self.hidden), (self.hidden, n_outputs)),
                        np.zeros(n_outputs)]
        return self

    def _logits(self, X):
        W1, b1, W2, b2 = self.params_
        h = np.maximum(X @ W1 + b1, 0.0)
        return [h, h @ W2 + b2]

    def _factors(self, Xb, yb):
        W2 = self.params_[2]
        h, z = self._logits(Xb)
        err = self._errors(z, yb)
        dh = (err @ W2.T) * (h > 0)
        return [(Xb, dh), (None, dh), (h, err), (None, err)]


class LinearRegression(Model):
    """Linear regression trained by mini-batch SGD on half the mean squared error.

    Parameters ``[coef (d,), intercept ()]``; :meth:`evaluate` reports RMSE.

    Parameters
    ----------
    lr : float, default 0.05
    epochs : int, default 1
    batch_size : int, default 32
    mu : float, default 0.0
    seed : int, default 0
    dp : DPSGD or None, default None
        Train with DP-SGD (record-level privacy).

    Examples
    --------
    >>> X = np.linspace(0, 1, 50)[:, None]; y = 2 * X[:, 0] + 1
    >>> model = LinearRegression(lr=0.5, epochs=300).fit(X, y)
    >>> round(model.evaluate(X, y)["rmse"], 3)
    0.0
    """

    def __init__(self, *, lr: float = 0.05, epochs: int = 1, batch_size: int = 32,
                 mu: float = 0.0, seed: int = 0, dp: DPSGD | None = None) -> None:
        super().__init__(lr=lr, epochs=epochs, batch_size=batch_size, mu=mu, seed=seed, dp=dp)

    def init_parameters(self, n_features, n_outputs=1):
        self.params_ = [np.zeros(n_features), np.zeros(())]
        return self

    def _prepare(self, X, y):
        X, y = super()._prepare(X, y)
        return X, y.astype(np.float64)

    def predict(self, X) -> np.ndarray:
        """Predicted values."""
        self._check_initialized()
        w, b = self.params_
        return np.asarray(X, dtype=np.float64) @ w + b

    def _factors(self, Xb, yb):
        err = self.predict(Xb) - yb
        return [(Xb, err), (None, err)]

    def evaluate(self, X, y):
        X, y = self._prepare(X, y)
        return {"rmse": rmse(self.predict(X), y)}
