"""03's explorer: strategy, rounds, fraction, local epochs, μ, privacy and attacks, with a
live convergence plot."""

from __future__ import annotations

from meshkit._errors import MeshkitError
from meshkit.widgets._base import assemble, bind, error_html, to_html, widgets

__all__ = ["TRAINING_STRATEGIES", "training_view", "training_explorer", "training_figure"]

#: the strategies offered by the explorer (names of :func:`meshkit.get_strategy`)
TRAINING_STRATEGIES = ("fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi", "fedadagrad",
                       "fedmedian", "fedtrimmedavg", "krum")


def training_view(setup, *, strategy: str = "fedavg", rounds: int = 10, fraction: float = 1.0,
                  local_epochs: int = 1, mu: float = 0.01, noise_multiplier: float = 0.0,
                  clip_norm: float = 1.0, attack: str = "none", attacked=(), seed: int = 0,
                  dp_seed: int | None = None, on_round=None):
    """One federated run of ``setup`` as the explorer's controls describe it.

    Parameters
    ----------
    setup
        What the notebook trains: ``.model``, ``.datasets`` (domain -> DomainData), ``.metric``.
    strategy : str
        A name of :func:`meshkit.get_strategy`; ``mu`` is its proximal term when it is
        ``"fedprox"`` (and ignored otherwise).
    rounds, fraction, local_epochs, seed
        As in :func:`meshkit.run_federated`.
    noise_multiplier, clip_norm : float
        ``noise_multiplier > 0`` wraps the strategy in :class:`meshkit.DPFixedClipping`
        (server-side clipping at ``clip_norm``, Gaussian noise); 0 trains without privacy.
    attack : str
        ``"none"`` or a name of :data:`meshkit.ATTACKS`, sent by the ``attacked`` domains.
    dp_seed : int or None, default None
        ``None`` draws the privacy noise from the OS CSPRNG (a private run); an int makes it
        reproducible and **not private** (tests).
    on_round : callable, optional
        Called with the history after each round (the live plot).

    Returns
    -------
    History

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> from meshkit.tutorial.experiment import prepare
    >>> setup = prepare(load_scenario("healthcare", scale=0.1))
    >>> h = training_view(setup, strategy="fedprox", mu=0.5, rounds=2)
    >>> len(h.rounds), h.strategy
    (2, 'FedProx(mu=0.5)')
    """
    import math

    from meshkit._federation import ATTACKS, DPFixedClipping, get_strategy, run_federated

    chosen = get_strategy(strategy, **({"mu": mu} if strategy == "fedprox" else {}))
    if noise_multiplier > 0:
        n = len(setup.datasets)
        chosen = DPFixedClipping(chosen, noise_multiplier=noise_multiplier, clip_norm=clip_norm,
                                 num_sampled=max(1, math.ceil(fraction * n)), num_domains=n,
                                 seed=dp_seed)
    attack_of = None if attack == "none" else ATTACKS.get(attack)
    if attack != "none" and attack_of is None:
        from meshkit._errors import FederationError
        raise FederationError("unknown attack", where="attack",
                              expected=f"none or one of {', '.join(ATTACKS)}", found=repr(attack))
    return run_federated(setup.model, setup.datasets, chosen, rounds=rounds, fraction=fraction,
                         local_epochs=local_epochs, seed=seed, progress=False, attack=attack_of,
                         attacked=list(attacked) if attack_of is not None else (),
                         on_round=on_round)


def training_figure(history, metric: str, *, rounds: int | None = None):
    """The convergence plot of one (possibly unfinished) run: ``metric`` per round."""
    from meshkit.viz.federation import convergence_curves

    done = len(history.rounds)
    title = f"{metric} per round" + (f" (round {done} of {rounds})" if rounds else "")
    return convergence_curves({history.strategy: history.metric(metric)}, metric=metric,
                              title=title)


def training_explorer(setup, *, strategy: str = "fedavg", rounds: int = 10, seed: int = 0):
    """Controls over :func:`training_view`, a progress bar and a live convergence plot.

    Every change trains again (sliders act on release); the plot is redrawn after each round.
    Interrupting the kernel (the stop button of JupyterLab) stops the run after the current
    round and keeps the rounds done.
    """
    from meshkit._federation import ATTACKS

    w = widgets()
    domains = list(setup.datasets)
    slider = dict(continuous_update=False, style={"description_width": "initial"})
    controls = {
        "strategy": w.Dropdown(options=TRAINING_STRATEGIES, value=strategy, description="strategy"),
        "rounds": w.IntSlider(value=rounds, min=1, max=50, description="rounds", **slider),
        "fraction": w.FloatSlider(value=1.0, min=0.1, max=1.0, step=0.1, description="fraction",
                                  **slider),
        "local_epochs": w.IntSlider(value=1, min=1, max=5, description="local epochs", **slider),
        "mu": w.FloatSlider(value=0.01, min=0.0, max=2.0, step=0.01, description="μ (fedprox)",
                            **slider),
        "noise_multiplier": w.FloatSlider(value=0.0, min=0.0, max=4.0, step=0.25,
                                          description="DP noise z", **slider),
        "clip_norm": w.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.1,
                                   description="DP clip C", **slider),
        "attack": w.Dropdown(options=["none", *ATTACKS], value="none", description="attack"),
        "attacked": w.SelectMultiple(options=domains, value=tuple(domains[:1]),
                                     description="attacked", rows=min(4, len(domains))),
    }
    progress = w.IntProgress(value=0, min=0, max=rounds, description="rounds done",
                             style={"description_width": "initial"})
    view = w.HTML()

    def update():
        values = {name: c.value for name, c in controls.items()}
        progress.max, progress.value = values["rounds"], 0

        def on_round(history):
            progress.value = len(history.rounds)
            view.value = to_html(training_figure(history, setup.metric, rounds=values["rounds"]))

        try:
            history = training_view(setup, seed=seed, on_round=on_round, **values)
        except MeshkitError as exc:
            view.value = error_html(exc)
            return
        except KeyboardInterrupt:
            view.value += to_html(f"interrupted after round {progress.value}")
            return
        view.value = to_html(training_figure(history, setup.metric), history)

    bind(controls, update)
    update()
    return assemble(controls, view, extra=[progress], title="training explorer")
