"""One call from a scenario to what the notebooks train: datasets, a model, its metric.

Everything is read from what the scenario declares: its supervised
:class:`~meshkit.scenarios.Task` (:func:`prepare`) and its
:class:`~meshkit.scenarios.Interactions` (:func:`prepare_recommender`). No scenario is
recognised by its name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshkit._errors import FederationError
from meshkit._federation.data import DomainData, federated_standardize, from_arrays
from meshkit._federation.models import Model
from meshkit._federation.recommender import MatrixFactorization
from meshkit._federation.zoo import make_model
from meshkit.tutorial.recommender import interaction_datasets

__all__ = ["Setup", "prepare", "prepare_recommender", "compare_strategies", "strategy_table",
           "domain_datasets", "private_runs", "secure_against_plain", "recommender_comparison"]


@dataclass(repr=False)
class Setup:
    """Per-domain datasets, a prototype model and the metric to report.

    ``scaling`` is the federation's ``(mean, std)`` the datasets were standardized with
    (:func:`~meshkit._federation.data.federated_standardize`), so a domain that reads its own
    product (:func:`~meshkit.tutorial.engines.training_inputs`) standardizes the same way;
    None when the features are not standardized (the recommender).
    """

    datasets: dict[str, DomainData]
    model: Model
    metric: str
    metrics: tuple[str, ...]
    scaling: tuple[np.ndarray, np.ndarray] | None = None

    def sizes(self) -> list[dict]:
        """One row per domain: its name and train/test sizes."""
        return [{"domain": n, "train": d.n_train, "test": d.n_test} for n, d in self.datasets.items()]

    def __repr__(self) -> str:
        return f"Setup({list(self.datasets)}, model={self.model!r}, metric={self.metric!r})"


def prepare(scenario, *, model: str = "logistic", lr: float = 0.05, seed: int = 0, frames=None,
            **model_options) -> Setup:
    """Turn a scenario's supervised task into a :class:`Setup` for local or federated training.

    Each domain's training product (``scenario.task.products``) gives features standardized
    with the federation's statistics (kept as ``Setup.scaling``) and labels; the model is ``model`` (``"logistic"`` or ``"mlp"``), reported by accuracy.

    Parameters
    ----------
    scenario : Scenario
    model : str, default "logistic"
    lr : float, default 0.05
    seed : int, default 0
        Seeds the splits and the model.
    frames : dict, optional
        Products as read from the store (default: the scenario's frames).
    **model_options
        More model hyper-parameters (``hidden=``, ``batch_size=``...).

    Raises
    ------
    FederationError
        The scenario declares no supervised task, or ``model`` is not a classifier.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> prepare(load_scenario("healthcare", scale=0.1)).metric
    'accuracy'
    >>> list(prepare(load_scenario("retail", scale=0.1)).datasets)
    ['orders', 'clickstream']
    """
    if model not in ("logistic", "mlp"):
        raise FederationError("a supervised task trains a classifier", where="model",
                              expected="logistic or mlp", found=repr(model))
    datasets = domain_datasets(scenario, seed=seed, frames=frames, standardize=False)
    scaling = federated_standardize(datasets)
    proto = make_model(model, lr=lr, seed=seed, n_classes=2, **model_options)
    return Setup(datasets, proto, "accuracy", ("accuracy", "auc", "log_loss"), scaling)


def prepare_recommender(scenario, *, lr: float = 0.05, seed: int = 0, frames=None,
                        **model_options) -> Setup:
    """Turn a scenario's interactions into a :class:`Setup` for matrix factorization.

    Each domain of ``scenario.interactions`` gives leave-one-out splits of its interactions;
    the model is :class:`~meshkit.MatrixFactorization`, reported by HR@10.

    Raises
    ------
    FederationError
        The scenario declares no interactions.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> rec = prepare_recommender(load_scenario("retail", scale=0.1))
    >>> rec.metric, list(rec.datasets)
    ('hr@10', ['orders', 'clickstream'])
    """
    datasets, n_users, n_items = interaction_datasets(scenario, seed=seed, frames=frames)
    proto = MatrixFactorization(n_items=n_items, n_users=n_users, lr=lr, seed=seed, **model_options)
    return Setup(datasets, proto, "hr@10", ("hr@10", "ndcg@10"))


def compare_strategies(setup: Setup, strategies: dict, **run_options) -> tuple[list[dict], dict]:
    """Run the same federated training once per strategy.

    Parameters
    ----------
    setup : Setup
    strategies : dict of str to dict
        Strategy name -> its options (see :func:`~meshkit._federation.get_strategy`).
    **run_options
        Passed to :func:`~meshkit._federation.run_federated` (``rounds``, ``fraction``...);
        ``progress`` (default True) also shows a ``tqdm.auto`` bar over the strategies.

    Returns
    -------
    rows : list of dict
        One row per strategy: ``strategy`` (name and options), the final metrics, and
        ``note`` (empty, or why the strategy could not run, e.g. Krum with too few domains).
    curves : dict of str to ndarray
        The setup's metric per round, for the strategies that ran.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> rows, _ = compare_strategies(prepare(load_scenario("healthcare", scale=0.1)),
    ...                              {"fedavg": {}, "bulyan": {"f": 1}}, rounds=1, progress=False)
    >>> [r["note"][:19] for r in rows]
    ['', 'bulyan: f: f=1 is t']
    """
    from meshkit._federation.rounds import run_federated
    from meshkit._federation.strategies import get_strategy

    from tqdm.auto import tqdm

    rows, curves = [], {}
    for name, options in tqdm(strategies.items(), desc="strategies", total=len(strategies),
                              disable=not run_options.get("progress", True)):
        strategy = get_strategy(name, **(options or {}))
        label = type(strategy).__name__ + (
            f"({', '.join(f'{k}={v}' for k, v in options.items())})" if options else "")
        try:
            history = run_federated(setup.model, setup.datasets, strategy, **run_options)
        except FederationError as exc:
            rows.append({"strategy": label, **{m: None for m in setup.metrics}, "note": str(exc)})
            continue
        rows.append({"strategy": label, **{k: round(v, 4) for k, v in history.final.items()}, "note": ""})
        curves[label] = history.metric(setup.metric)
    return rows, curves


def strategy_table(rows: list[dict]):
    """The rows of :func:`compare_strategies` as a frame; the ``note`` column only when a
    strategy could not run (it says why).

    Examples
    --------
    >>> strategy_table([{"strategy": "FedAvg", "accuracy": 0.8, "note": ""}]).columns
    ['strategy', 'accuracy']
    >>> strategy_table([{"strategy": "Krum(f=1)", "accuracy": None, "note": "needs 5"}]).columns
    ['strategy', 'accuracy', 'note']
    """
    import polars as pl

    frame = pl.DataFrame(rows)
    if "note" in frame.columns and not any(frame["note"].to_list()):
        frame = frame.drop("note")
    return frame


def secure_against_plain(thetas: dict, weights: dict) -> dict:
    """FedAvg of the same parameters in the clear and under secure aggregation.

    Parameters
    ----------
    thetas : dict of str to list of ndarray
        Each domain's parameters.
    weights : dict of str to float
        Each domain's weight (its number of examples).

    Returns
    -------
    dict
        ``domains``, ``max_difference`` (the largest coordinate difference between the two
        results), ``error_bound`` (the fixed-point bound secure aggregation states for this
        sum, :class:`~meshkit._federation.secagg.SecureAggregation`'s ``reports_``) and
        ``within_bound``.

    Examples
    --------
    >>> import numpy as np
    >>> out = secure_against_plain({"a": [np.array([1.0, 2.0])], "b": [np.array([3.0, 6.0])],
    ...                             "c": [np.array([0.0, 1.0])]}, {"a": 1, "b": 3, "c": 2})
    >>> out["domains"], out["within_bound"]
    (3, True)
    """
    from meshkit._federation.aggregation import aggregate
    from meshkit._federation.secagg import SecureAggregation
    from meshkit._federation.strategies import FedAvg

    names = list(thetas)
    plain = aggregate(thetas, weights)
    secure = aggregate(thetas, weights, secure=True)
    stated = SecureAggregation(FedAvg())
    stated.aggregate_fit(1, None, [(list(thetas[n]), weights[n]) for n in names])
    bound = float(stated.reports_[0]["error_bound"])
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(plain, secure))
    return {"domains": len(names), "max_difference": diff, "error_bound": bound,
            "within_bound": diff <= bound}


def domain_datasets(scenario, *, test_size: float = 0.25, seed: int = 0,
                    standardize: bool = True, frames=None) -> dict[str, DomainData]:
    """Per-domain train/test splits of a scenario's supervised task, keyed by domain name.

    Parameters
    ----------
    scenario : meshkit.scenarios.Scenario
        A scenario whose ``task`` is declared.
    test_size : float, default 0.25
    seed : int, default 0
        Seed of the splits.
    standardize : bool, default True
        Standardize features with :func:`federated_standardize`.
    frames : dict of str to polars.DataFrame, optional
        The training products as read elsewhere (e.g. from the run's product store);
        default ``scenario.frames``.

    Raises
    ------
    FederationError
        The scenario declares no task, or a training product or column is missing.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> data = domain_datasets(load_scenario("healthcare", scale=0.1), seed=0)
    >>> all(d.X_train.shape[1] == d.X_test.shape[1] for d in data.values())
    True
    """
    task = scenario.task
    if task is None or not task.products:
        raise FederationError("the scenario declares no supervised task",
                              where=f"scenario {scenario.name!r}",
                              expected="Scenario.task with one training product per domain",
                              found="task=None")
    frames = {**scenario.frames, **(frames or {})}
    parts = []
    for domain, product in task.products.items():
        if product not in frames:
            raise FederationError("a declared training product is missing",
                                  where=f"domain {domain!r}", expected=repr(product),
                                  found=", ".join(sorted(frames)) or "no products")
        frame = frames[product]
        missing = [c for c in [*task.features, task.target] if c not in frame.columns]
        if missing:
            raise FederationError("the training product lacks the task's columns",
                                  where=f"product {product!r}", expected=", ".join(missing),
                                  found=", ".join(frame.columns))
        parts.append((frame.select(task.features).to_numpy().astype(np.float64),
                      frame[task.target].to_numpy().astype(np.int64)))
    data = from_arrays(parts, names=list(task.products), test_size=test_size, seed=seed)
    if standardize:
        federated_standardize(data)
    return data


def private_runs(setup: Setup, noise_multipliers, *, clip_norm: float, rounds: int,
                 fraction: float = 1.0, local_epochs: int = 1, seed: int = 0,
                 num_sampled: int | None = None, delta: float = 1e-5,
                 noise_seed: int | None = None) -> list[dict]:
    """The same federated training once per noise multiplier, with DP-FedAvg.

    The noise comes from the OS CSPRNG (so the metrics differ from run to run); ε comes from
    dp-accounting's RDP accountant (:attr:`~meshkit.DPFedAvg.epsilon_`) for ``rounds`` rounds
    Poisson-sampled at ``num_sampled / len(setup.datasets)``.

    Parameters
    ----------
    setup : Setup
    noise_multipliers : sequence of float
    clip_norm : float
        L2 clipping norm of each domain's update.
    rounds, fraction, local_epochs, seed
        As in :func:`~meshkit.run_federated`; ``seed`` seeds sampling and training, never
        the privacy noise.
    num_sampled : int, optional
        The expected number of domains sampled per round, the noise denominator (McMahan et
        al. 2018); default what ``fraction`` samples, ``ceil(fraction * n_domains)``.
    delta : float, default 1e-5
    noise_seed : int, optional
        Seed the noise (tests only: such a run is labelled NOT PRIVATE, ``private`` False).

    Returns
    -------
    list of dict
        One row per noise multiplier: ``noise_multiplier``, ``epsilon`` (at ``delta``, 2
        decimals; ``None`` when unbounded), ``private`` (False for seeded noise or no noise)
        and the final metrics (4 decimals).

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> rows = private_runs(prepare(load_scenario("healthcare", scale=0.1)), [1.0],
    ...                     clip_norm=0.5, rounds=2)
    >>> rows[0]["noise_multiplier"], rows[0]["epsilon"] > 0, rows[0]["private"]
    (1.0, True, True)
    """
    import math

    from meshkit._federation.privacy import DPFedAvg
    from meshkit._federation.rounds import run_federated

    n_domains = len(setup.datasets)
    if num_sampled is None:
        num_sampled = max(1, math.ceil(fraction * n_domains))
    rows = []
    for z in noise_multipliers:
        private = DPFedAvg(noise_multiplier=z, clip_norm=clip_norm, num_sampled=num_sampled,
                           num_domains=n_domains, delta=delta, seed=noise_seed)
        history = run_federated(setup.model, setup.datasets, private, rounds=rounds,
                                fraction=fraction, local_epochs=local_epochs, seed=seed,
                                progress=False)
        eps = private.epsilon_
        rows.append({"noise_multiplier": z, "epsilon": round(eps, 2) if np.isfinite(eps) else None,
                     "private": private.privacy_spent()["private"],
                     **{k: round(v, 4) for k, v in history.final.items()}})
    return rows


def recommender_comparison(scenario, *, store=None, rounds: int = 10, lr: float = 0.05,
                           seed: int = 0) -> dict:
    """Notebook 03's recommender section on the scenario's own interactions, or why not.

    Parameters
    ----------
    scenario : Scenario
    store : ProductStore, optional
        Read the interaction products from it (the run's store); default the scenario's
        frames.
    rounds, lr, seed
        As in :func:`~meshkit.tutorial.recommender.compare_recommenders`.

    Returns
    -------
    dict
        ``rows`` and ``history`` of :func:`~meshkit.tutorial.recommender.compare_recommenders`
        (floats rounded to 4 decimals) and ``skipped``: ``None``, or the one-line reason the
        section did not run (the scenario declares no interactions). Never other data.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> recommender_comparison(load_scenario("finance", scale=0.1))["skipped"]
    "mesh 'finance' declares no interactions: no recommender to train"
    """
    from meshkit.tutorial.recommender import compare_recommenders

    from meshkit.tutorial.user_mesh import skip_reason

    if scenario.interactions is None:
        return {"rows": [], "history": None, "skipped": skip_reason(scenario, "recommender")}
    frames = None
    if store is not None:
        frames = {name: store.read(name) for name in scenario.interactions.products}
    rec = prepare_recommender(scenario, lr=lr, seed=seed, frames=frames)
    out = compare_recommenders(rec.datasets, rec.model.n_users, rec.model.n_items,
                               lr=lr, rounds=rounds, seed=seed)
    rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for r in out["rows"]]
    return {"rows": rows, "history": out["history"], "skipped": None}
