"""Embedded default data: deterministic scenarios, one module per scenario.

``load_scenario(name, scale=, seed=)`` returns a :class:`Scenario`: a mesh of domains and
products with ODCS contracts, one polars frame per product (each passes its contract), and
the ground truth that generated them. The same seed gives identical frames.

=================  =================================================================
scenario           domains and products
=================  =================================================================
``retail``         orders, clickstream, customers (PII), catalog over shared users/items;
                   binary target ``purchased`` (a browsed item bought), interactions
``healthcare``     four hospitals' admissions; binary target ``readmitted_30d``
``finance``        three banks' card transactions; binary target ``is_fraud``
``manufacturing``  four plants' sensor readings; binary target ``machine_failure``
=================  =================================================================

``python -m meshkit.scenarios export data/`` writes each scenario's mesh spec, contracts
and small sample files, the folder a user copies to bring their own data.

Examples
--------
>>> from meshkit.scenarios import load_scenario, SCENARIOS
>>> SCENARIOS
('retail', 'healthcare', 'finance', 'manufacturing')
>>> sc = load_scenario("retail", scale=0.1, seed=7)
>>> sc.mesh.product("purchases").domain
'orders'

What a scenario means for training is data it carries, not a name to branch on:

>>> sc.task.products, sc.task.target
({'orders': 'basket_outcomes', 'clickstream': 'view_outcomes'}, 'purchased')
>>> sc.interactions.products
['purchases', 'page_views']
"""

from __future__ import annotations

import difflib
from importlib import import_module

from meshkit._errors import SpecError
from meshkit.scenarios._base import InteractionSource, Interactions, Scenario, Task

__all__ = ["load_scenario", "SCENARIOS", "Scenario", "Task", "Interactions", "InteractionSource"]

#: The embedded scenarios, the default first.
SCENARIOS: tuple[str, ...] = ("retail", "healthcare", "finance", "manufacturing")


def load_scenario(name: str = "retail", *, scale: float = 1.0, seed: int = 42) -> Scenario:
    """Generate an embedded scenario.

    Parameters
    ----------
    name : str
        One of :data:`SCENARIOS`.
    scale : float
        Multiplies the default sizes (``0.1`` for quick runs); must be positive.
    seed : int
        Seed of every random draw; the same seed gives identical frames.

    Returns
    -------
    Scenario

    Raises
    ------
    SpecError
        For an unknown name (the message lists the scenarios), or a bad scale or seed.

    Examples
    --------
    >>> sc = load_scenario("finance", scale=0.1)
    >>> sc.task.target, sc.training_products[0]
    ('is_fraud', 'alpine_transactions')
    """
    if name not in SCENARIOS:
        close = difflib.get_close_matches(str(name), SCENARIOS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"unknown scenario{hint}", where="load_scenario(name=...)",
                        expected=f"one of {', '.join(SCENARIOS)}", found=repr(name))
    module = import_module(f"meshkit.scenarios.{name}")
    return module.build(scale=scale, seed=seed)
