"""Notebook 03's "one machine or many": the same job on the local engine and on Flower.

:func:`training_inputs` gives the main training run its data for the engine asked for (the
setup's arrays in this process; each domain's governed product on Flower);
:func:`governed_sources` puts each domain's training product in a governed store with a
training service allowed to read it for the purpose "federated training" (a home per domain
with its own master key; every key from ``os.urandom``); :func:`compare_engines` runs the
same small job on both engines from those sources and says whether they agree and where
Flower's time goes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from meshkit._errors import FederationError
from meshkit._federation.data import check_scaling
from meshkit._federation.flower import require_flower
from meshkit._federation.flower.domain_data import ProductSource
from meshkit._federation.rounds import run_federated
from meshkit._federation.strategies import get_strategy
from meshkit._security.domain_home import TRAINING_PURPOSE, export_domain_home, new_master_key
from meshkit._security.model import SecurityModel
from meshkit._security.policy import Policy, as_product_info
from meshkit._security.store import SecureStore
from meshkit._security.tokens import Identity, Principal

__all__ = ["training_inputs", "governed_sources", "compare_engines", "engine_table", "FLOWER_MISSING"]

#: what the comparison records when Flower is not installed
FLOWER_MISSING = "Flower is not installed: pip install 'meshkit[flower]' (the flower extra) to run this section"


def training_inputs(setup, engine: str, source, frames: dict, folder) -> dict:
    """What the main training run trains on, for ``engine``.

    ``"local"``: the setup's datasets, unchanged. ``"flower"``: each domain's training
    product in a governed store (:func:`governed_sources`, built in ``folder``), read by the
    domain's own node with the "federated training" token and standardized with the
    federation's statistics the setup was standardized with (``setup.scaling``): every
    domain trains on the same rows and the same numbers as in ``setup.datasets``, so the same
    job gives the same parameters on either engine.

    Parameters
    ----------
    setup : Setup
        From :func:`~meshkit.tutorial.experiment.prepare` (its ``scaling`` set).
    engine : {"local", "flower"}
    source : Scenario or UserMesh
        Declares the task (the setup was prepared from it).
    frames : dict of str to polars.DataFrame
        The training products the setup was prepared from.
    folder : path
        Where the governed store, homes, keys and tokens go (``"flower"`` only; emptied first).

    Raises
    ------
    FederationError
        An unknown engine, Flower not installed (how to install it), or a setup that does not
        say how it was standardized.
    """
    if engine == "local":
        return setup.datasets
    if engine != "flower":
        raise FederationError("unknown engine", where="engine", expected="'local' or 'flower'", found=repr(engine))
    require_flower()
    if setup.scaling is None:
        raise FederationError("the setup does not say how its features were standardized", where="setup.scaling",
                              expected="the federation's (mean, std) (prepare sets it)", found="None")
    return governed_sources(source, frames, folder, scaling=setup.scaling)


def governed_sources(source, frames: dict, folder, *, standardize: bool = True, scaling=None,
                     token_seconds: int = 3600) -> dict[str, ProductSource]:
    """Each domain's training product in a governed store, read by its training service.

    For every domain of ``source.task`` (a scenario, or the user's mesh): an owner and a
    training service ``train-<domain>`` (new Ed25519 identities), a grant letting the service
    read the task's columns of the domain's product for the purpose "federated training",
    the product published encrypted, the domain's home (:func:`~meshkit.export_domain_home`)
    under a new master key, and the service's token (``token_seconds`` long) in a file.

    Parameters
    ----------
    source : Scenario or UserMesh
        Declares the task (features, target, one product per domain).
    frames : dict of str to polars.DataFrame
        The training products as published in the run.
    folder : path
        A new folder for the store, the homes, the master keys and the tokens (emptied
        first: every run gets new keys).
    standardize : bool, default True
        Each domain standardizes its features with its own training statistics (unless
        ``scaling`` is given).
    scaling : (mean, std), optional
        The federation's statistics, one per feature
        (:func:`~meshkit._federation.data.federated_standardize`): every domain standardizes
        with them instead of its own.

    Returns
    -------
    dict of str to ProductSource
        Domain -> where its node (or the local engine) reads its training data.
    """
    import shutil

    task = source.task
    if task is None or not task.products:
        raise FederationError("the mesh declares no supervised task", where="governed_sources",
                              expected="a task with one training product per domain", found="task=None")
    if scaling is not None:  # refused before anything is written
        check_scaling(scaling, len(task.features), where="governed_sources")
    folder = Path(folder).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    by_name = {p.name: p for p in source.mesh.products()}
    infos = [as_product_info(by_name[product]) for product in task.products.values()]
    columns = [*task.features, task.target]
    people = {}
    for info in infos:
        owner = info.owner or f"owner-{info.domain}"
        people[owner] = Principal(owner, "person", info.domain, ("owner",))
        people[f"train-{info.domain}"] = Principal(f"train-{info.domain}", "service", info.domain)
    identities = {name: Identity.generate(p) for name, p in people.items()}  # os.urandom
    grants = [{"principal": f"train-{info.domain}", "product": info.name, "action": "read",
               "columns": columns, "purpose": TRAINING_PURPOSE} for info in infos]
    model = SecurityModel.build(infos, identities=identities.values(), policy=Policy.from_dict({"grants": grants}))
    store = SecureStore(folder / "store", model)
    sources = {}
    for info in infos:
        store.publish(info.name, frames[info.name], identities[info.owner or f"owner-{info.domain}"])
        key_file = folder / f"{info.domain}.master.key"
        home = export_domain_home(store, info.domain, folder / f"home-{info.domain}",
                                  master_key=new_master_key(key_file))
        token = folder / f"{info.domain}.token"
        token.write_text(identities[f"train-{info.domain}"].issue_token(
            audience=model.audience, ttl=token_seconds, purpose=TRAINING_PURPOSE))
        token.chmod(0o600)
        sources[info.domain] = ProductSource(info.name, home, key_file, token, tuple(task.features), task.target,
                                             standardize=standardize and scaling is None, scaling=scaling)
    return sources


def compare_engines(model, sources: dict, *, strategy: str = "fedavg", rounds: int = 2, seed: int = 0,
                    local_epochs: int = 1) -> dict:
    """The same job (every domain every round, same seed) on the local engine and on Flower.

    Both engines read every domain's product through its governed path (the local engine in
    this process, Flower in each domain's SuperNode), with the same tokens.

    Returns
    -------
    dict
        ``engines``: one row per engine (its final metrics and wall time); ``max_abs_diff``:
        the largest difference between the two engines' final parameters, ``agree``: whether
        it is below 1e-6; ``timing``: where
        Flower's time went (:func:`engine_table`); ``skipped``: why Flower did not run
        (:data:`FLOWER_MISSING`), else None.
    """
    options = dict(rounds=rounds, seed=seed, local_epochs=local_epochs, progress=False)
    started = time.perf_counter()
    local = run_federated(model, sources, get_strategy(strategy), **options)
    local_seconds = time.perf_counter() - started
    rows = [{"engine": "local", **local.final, "seconds": local_seconds}]
    out = {"strategy": strategy, "rounds": rounds, "domains": list(sources), "engines": rows,
           "max_abs_diff": None, "agree": None, "timing": {"local": {"job": local_seconds}}, "skipped": None}
    try:
        require_flower()
    except FederationError:
        out["skipped"] = FLOWER_MISSING
        return out
    from meshkit._federation.flower.deployment import LocalFederation

    fed = LocalFederation({name: src.node_config(name) for name, src in sources.items()})
    try:
        started = time.perf_counter()
        fed.start()
        startup = time.perf_counter() - started
        flower = run_federated(model, sources, get_strategy(strategy), engine="flower",
                               flower={"federation": fed}, **options)
    finally:
        fed.stop()
    rows.append({"engine": "flower", **flower.final, "seconds": startup + flower.timing["job"]})
    out["max_abs_diff"] = float(max(np.max(np.abs(np.asarray(a) - np.asarray(b)))
                                    for a, b in zip(local.parameters, flower.parameters)))
    out["agree"] = out["max_abs_diff"] < 1e-6
    out["timing"]["flower"] = {"startup": startup, **flower.timing}
    return out


def engine_table(comparison: dict) -> pl.DataFrame:
    """Where the time goes, one row per phase: seconds on each engine (None: no such phase)."""
    local = comparison["timing"]["local"]
    flower = comparison["timing"].get("flower")
    rounds = comparison["rounds"]
    rows = [("start-up: SuperLink and a SuperNode per domain", None, flower and flower["startup"]),
            ("submit the run (flwr run)", None, flower and flower["submit"]),
            ("discovery: each node reads its product (governed)", None, flower and flower["discovery"]),
            ("rounds, mean per round", local["job"] / rounds, flower and float(np.mean(flower["rounds"]))),
            ("  of which local training (slowest domain)", None, flower and float(np.mean(flower["training"]))),
            ("ServerApp start and finish", None,
             flower and flower["job"] - flower["submit"] - flower["discovery"] - sum(flower["rounds"])),
            ("total", local["job"], flower and flower["startup"] + flower["job"])]
    return pl.DataFrame([{"phase": p, "local engine (s)": a, "Flower (s)": b} for p, a, b in rows],
                        schema={"phase": pl.String, "local engine (s)": pl.Float64, "Flower (s)": pl.Float64})
