"""One vocabulary: ``keys`` is the entity key everywhere; ``weights`` are example counts."""

import inspect

import polars as pl
import pytest

import meshkit as mk
import meshkit.tutorial.copy_plan as copy_plan
import meshkit.tutorial.inject as inject
from meshkit._consistency._frames import as_keys

ENTITY_KEY_NAMES = {"on", "key", "key_columns", "entity_key", "id_columns"}


def public_callables():
    items = [(name, getattr(mk, name)) for name in mk.__all__ if name != "__version__"]
    items += [(f"tutorial.{n}", getattr(m, n)) for m in (copy_plan, inject)
              for n in dir(m) if not n.startswith("_")
              and getattr(getattr(m, n), "__module__", None) == m.__name__]
    for name, value in items:
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                if callable(member) and (not attr.startswith("_") or attr == "__init__"):
                    yield f"{name}.{attr}", member
        elif callable(value):
            yield name, value


def parameters(fn):
    fn = fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def test_no_public_callable_names_the_entity_key_otherwise():
    # meshkit._security's ``key`` is a cryptographic key, not an entity key
    offenders = {name: sorted(parameters(fn) & ENTITY_KEY_NAMES)
                 for name, fn in public_callables()
                 if not getattr(fn, "__module__", "").startswith("meshkit._security")}
    assert {n: p for n, p in offenders.items() if p} == {}


def test_weights_is_a_parameter_of_aggregate_only_among_the_formulas():
    assert "weights" in parameters(mk.aggregate)
    for fn in (mk.similarity, mk.consistency, mk.similarity_matrix,
               mk.similarity_from_profiles):
        assert "weights" not in parameters(fn) and "layer_weights" in parameters(fn)
    assert set(mk.DEFAULT_LAYER_WEIGHTS) == {"schema", "keys", "values", "distributions"}


@pytest.mark.parametrize("given, expected", [
    ("id", ["id"]), (["shop", "id"], ["shop", "id"]), (("id",), ["id"]), (None, []),
    ("a,b", ["a,b"]),  # a string is one column name, never split
])
def test_as_keys_reads_a_str_or_a_sequence_of_str(given, expected):
    assert as_keys(given) == expected


@pytest.mark.parametrize("given, fragment", [
    (3, "found int"), (["id", 3], "found 3"), ([""], "found ''"), (["id", "id"], "'id' twice"),
    (b"id", "found bytes"), ({"id"}, "found set"),
])
def test_as_keys_refuses_what_is_not_column_names(given, fragment):
    with pytest.raises(mk.ConsistencyError, match=fragment):
        as_keys(given)


def test_keys_as_a_list_or_a_str_mean_the_same_in_every_entry_point(tmp_path):
    frame = pl.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    changed = pl.DataFrame({"id": [1, 2, 4], "v": ["a", "z", "d"]})
    assert mk.similarity(frame, changed, keys="id").score == \
        mk.similarity(frame, changed, keys=["id"]).score
    store = mk.ProductStore(tmp_path)
    store.publish("copy", changed)
    with pytest.raises(mk.SyncConflictError):
        mk.sync(store, frame, "copy", keys=["id"], policy="stop")
    result = mk.sync(store, frame, "copy", keys=("id",))
    assert (result.inserted, result.updated) == (1, 1)
    diff = mk.diff_versions(store, "copy", keys="id")
    assert diff.summary() == mk.diff_versions(store, "copy", ["id"]).summary()
    assert diff.summary()["changed"] == 1
