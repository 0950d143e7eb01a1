"""The scikit-learn-style parameter base shared by strategies and models."""

import pytest

from meshkit import FederationError
from meshkit._federation._base import Params, clone


class Inner(Params):
    def __init__(self, *, rate=1.0):
        self.rate = rate


class Outer(Params):
    def __init__(self, inner=None, *, size=3, tags=("a",)):
        self.inner, self.size, self.tags = inner, size, tags


def test_get_params_follow_the_signature_in_order():
    o = Outer(Inner(rate=2.0), size=5)
    assert list(o.get_params()) == ["inner", "size", "tags"]
    assert o.get_params(deep=True)["inner__rate"] == 2.0
    assert "inner__rate" not in o.get_params(deep=False)


def test_set_params_sets_nested_and_refuses_unknown_names():
    o = Outer(Inner())
    assert o.set_params(size=9, inner__rate=0.5) is o
    assert (o.size, o.inner.rate) == (9, 0.5)
    with pytest.raises(FederationError, match="unknown parameter") as err:
        o.set_params(sise=1)
    assert "size" in str(err.value.expected)
    with pytest.raises(FederationError):
        o.set_params(size__x=1)


def test_repr_is_built_from_the_parameters():
    assert repr(Outer(Inner(rate=2.0), size=4)) == "Outer(inner=Inner(rate=2.0), size=4, tags=('a',))"


def test_clone_copies_parameters_not_learned_state_and_shares_nothing_mutable():
    o = Outer(Inner(rate=3.0), tags=["x"])
    o.fitted_ = 1
    c = clone(o)
    assert type(c) is Outer and c is not o and c.inner is not o.inner
    assert c.get_params(deep=True)["inner__rate"] == 3.0
    assert not hasattr(c, "fitted_")
    c.tags.append("y")
    assert o.tags == ["x"]
