"""The federation on Flower's Deployment Engine: one SuperNode per domain, meshkit's round loop
in a Flower ServerApp on the Message API.

* :mod:`.apps` -- the ServerApp (meshkit's strategies, DP wrapper and robust rules, unchanged)
  and the ClientApp (trains the domain's numpy model; parameters travel as array records);
* :mod:`.wire` -- the model as JSON between them (never a pickle);
* :mod:`.domain_data` -- the data a SuperNode's node config names: the domain's product, read
  through its governed path (:class:`~.domain_data.ProductSource`);
* :mod:`.deployment` -- :class:`LocalFederation`: a SuperLink and a SuperNode per domain on
  loopback, offline, in a private Flower home, every process stopped afterwards;
* :func:`run_on_flower` -- what ``run_federated(..., engine="flower")`` calls.

``flwr`` is an optional dependency: ``pip install 'meshkit[flower]'``.
"""

from __future__ import annotations

import importlib.util
import pickle
import time

from meshkit._errors import FederationError

__all__ = ["require_flower", "run_on_flower"]


def require_flower() -> None:
    """Raise a :class:`FederationError` saying how to install Flower when ``flwr`` is missing."""
    if importlib.util.find_spec("flwr") is None:
        raise FederationError("the Flower engine needs Flower", where="engine='flower'",
                              expected="flwr installed: pip install 'meshkit[flower]'",
                              found="no module named flwr")


def run_on_flower(model, datasets, strategy, *, domains, rounds, per_round, local_epochs, min_available, seed,
                  connect_timeout: float = 120.0, round_timeout: float = 120.0, run_timeout: float | None = None,
                  federation=None):
    """Run one job on a local Flower federation (one SuperNode per domain) and return its History.

    Parameters
    ----------
    model, strategy, rounds, per_round, local_epochs, min_available, seed
        As :func:`~meshkit._federation.rounds.run_federated` (already checked there).
    datasets : dict of str to ProductSource or DomainData
        Each domain's data: a :class:`~.domain_data.ProductSource` names the product its node
        reads through the domain's governed path; arrays (DomainData) are written into the
        private Flower home for that domain's node only.
    domains : list of str
        The domains in the mesh's order (seeds and sampling follow it).
    connect_timeout, round_timeout : float
        Seconds to wait for every node to connect, and for a domain's reply to one message
        (a node that does not reply in time is a failing domain for that round).
    run_timeout : float, optional
        Seconds for the whole run; default from the two above.
    federation : LocalFederation, optional
        A federation already started (its nodes serving ``domains``); default: start one and
        stop it (every process) when the job ends, fails or is interrupted.
    """
    require_flower()
    from meshkit._federation.flower import domain_data
    from meshkit._federation.flower.deployment import LocalFederation

    own = federation is None
    fed = LocalFederation({}) if own else federation
    try:
        if own:
            missing = [name for name in domains
                       if not isinstance(datasets[name], domain_data.ProductSource) and not hasattr(datasets[name], "X_train")]
            if missing:
                raise FederationError("no data for a domain's local SuperNode", where="datasets",
                                      expected="a ProductSource (or DomainData) for every domain (or "
                                               "flower={'federation': ...} with nodes already serving them)",
                                      found=f"none for {', '.join(missing)}")
            for name in domains:
                if isinstance(datasets[name], domain_data.ProductSource):
                    fed.node_configs[name] = datasets[name].node_config(name)
                else:
                    path = domain_data.save(datasets[name], fed.home / f"domain-{len(fed.node_configs)}.npz")
                    fed.node_configs[name] = {"domain": name, "data": str(path)}
            fed.start()
        job_file, result_file = fed.home / "job.pkl", fed.home / "result.pkl"
        result_file.unlink(missing_ok=True)
        with open(job_file, "wb") as fh:
            pickle.dump({"domains": list(domains), "model": model, "strategy": strategy, "rounds": rounds,
                         "per_round": per_round, "local_epochs": local_epochs, "min_available": min_available,
                         "seed": seed, "connect_timeout": connect_timeout, "round_timeout": round_timeout}, fh)
        submitted = time.perf_counter()
        run_id = fed.submit({"job-file": str(job_file), "result-file": str(result_file)})
        accepted = time.perf_counter()
        row = fed.wait(run_id, run_timeout or connect_timeout + rounds * 2.5 * round_timeout + 60)
        outcome = None
        if result_file.exists():
            with open(result_file, "rb") as fh:
                outcome = pickle.load(fh)  # written by the ServerApp this call started
        if row["status"] != "finished:completed" or outcome is None or "error" in outcome:
            log = fed.log(run_id)[-6000:]
            if outcome is not None and "error" in outcome:  # meshkit's own error, with the run's log
                error = outcome["error"]
                error.add_note(f"Flower run {run_id} status {row['status']}; its log:\n{log}")
                raise error
            raise FederationError("the Flower run failed", where=f"run {run_id}",
                                  expected="status finished:completed",
                                  found=f"status {row['status']} ({row.get('status-details')}); log:\n{log}")
        history = outcome["history"]
        history.timing = {"submit": accepted - submitted, **(history.timing or {}),
                          "job": time.perf_counter() - submitted}
        if hasattr(strategy, "__dict__"):  # learned state (e.g. the DP wrapper's ε) back on the caller's object
            strategy.__dict__.update(outcome["strategy"].__dict__)
        return history
    finally:
        if own:
            fed.stop()
