"""Hyper-parameters read from the constructor's signature, as in scikit-learn.

A class deriving from :class:`Params` declares its hyper-parameters as keyword arguments of
``__init__`` and stores each one, unchanged, on an attribute of the same name (validation
happens when the object is used, not in ``__init__``). State learned from data ends in ``_``
and is not a parameter. From that one convention come :meth:`Params.get_params`,
:meth:`Params.set_params`, a ``repr`` built from the parameters, and :func:`clone` (a new,
unfitted object with the same parameters) instead of deep-copy-and-mutate.
"""

from __future__ import annotations

import copy
import inspect

from meshkit._errors import FederationError

__all__ = ["Params", "clone"]


class Params:
    """Base class: parameters are ``__init__``'s named arguments, stored on same-named attributes.

    Examples
    --------
    >>> class Step(Params):
    ...     def __init__(self, *, lr=0.1, decay=None):
    ...         self.lr, self.decay = lr, decay
    >>> s = Step(lr=0.5)
    >>> s
    Step(lr=0.5, decay=None)
    >>> s.set_params(decay=0.9).get_params()
    {'lr': 0.5, 'decay': 0.9}
    >>> clone(s) is s, clone(s).get_params() == s.get_params()
    (False, True)
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            names.append(p.name)
        return names

    def get_params(self, deep: bool = False) -> dict:
        """The hyper-parameters, name -> value, in the constructor's order.

        With ``deep=True``, parameters that are themselves :class:`Params` also contribute
        their own parameters as ``name__sub``.
        """
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            out[name] = value
            if deep and isinstance(value, Params):
                out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self, **params) -> Params:
        """Set hyper-parameters by name (``name__sub`` reaches a nested :class:`Params`).

        Raises
        ------
        FederationError
            A name that is not one of the constructor's parameters.
        """
        valid = self._param_names()
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise FederationError("unknown parameter", where=f"{type(self).__name__}.set_params",
                                      expected=f"one of {', '.join(valid) or 'no parameters'}",
                                      found=repr(key))
            if sub:
                nested = getattr(self, name)
                if not isinstance(nested, Params):
                    raise FederationError("not a nested object with parameters",
                                          where=f"{type(self).__name__}.set_params",
                                          expected=f"{name!r} holding parameters", found=repr(key))
                nested.set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def clone(obj):
    """A new object of the same class with the same parameters and no learned state.

    Nested :class:`Params` (and lists or tuples of them) are cloned in turn; other parameter
    values are deep-copied, so the clone shares nothing mutable with ``obj``.

    Examples
    --------
    >>> class Scale(Params):
    ...     def __init__(self, *, factor=2.0):
    ...         self.factor = factor
    >>> s = Scale(factor=3.0)
    >>> s.total_ = 7.0
    >>> c = clone(s)
    >>> c.factor, hasattr(c, "total_")
    (3.0, False)
    """
    if isinstance(obj, (list, tuple)):
        return type(obj)(clone(o) for o in obj)
    if not isinstance(obj, Params):
        return copy.deepcopy(obj)
    params = {k: clone(v) for k, v in obj.get_params(deep=False).items()}
    return type(obj)(**params)
