"""Every model by name, for ``make_model``: the numpy models and matrix factorization.

Apart from :mod:`~meshkit._federation.models` so that the registry can name the recommender,
which itself builds on :class:`~meshkit._federation.models.Model`, without an import cycle.
"""

from __future__ import annotations

from meshkit._errors import FederationError
from meshkit._federation.models import LinearRegression, LogisticRegression, MLPClassifier, Model
from meshkit._federation.recommender import MatrixFactorization

__all__ = ["MODELS", "make_model"]

#: model name -> class
MODELS = {"logistic": LogisticRegression, "mlp": MLPClassifier, "linear": LinearRegression,
          "mf": MatrixFactorization}


def make_model(name: str, **options) -> Model:
    """Build a model by name: ``"logistic"``, ``"mlp"``, ``"linear"`` or ``"mf"``.

    Examples
    --------
    >>> make_model("logistic", lr=0.05)  # doctest: +NORMALIZE_WHITESPACE
    LogisticRegression(n_classes=None, lr=0.05, epochs=1, batch_size=32, l2=0.0, mu=0.0, seed=0,
                       dp=None)
    """
    if name not in MODELS:
        raise FederationError("unknown model", where="model",
                              expected=f"one of {', '.join(MODELS)}", found=repr(name))
    return MODELS[name](**options)
