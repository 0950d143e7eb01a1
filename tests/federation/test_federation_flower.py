"""The federation on Flower's Deployment Engine: a real SuperLink and one real SuperNode per
domain on loopback, against the local engine on the same job."""

from __future__ import annotations

import sys

import numpy as np
import psutil
import pytest

from meshkit import DPFedAvg, FederationError, FedAvg, FedMedian, LogisticRegression, run_federated
from toy_domains import toy_domains

pytest.importorskip("flwr")


def _toy(n_domains=2, seed=0, rows=60):
    return toy_domains(n_domains, seed=seed, rows=rows)


def _gone(fed) -> None:
    """Every process the federation started has ended, and none carrying its marker is left."""
    for key, proc in fed.processes.items():
        assert proc.poll() is not None, key
        assert not psutil.pid_exists(proc.pid) or psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE, key
    assert fed._strays() == []


def test_engine_without_flower_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "flwr", None)  # flwr not importable, as when the extra is missing
    with pytest.raises(FederationError, match=r"pip install 'meshkit\[flower\]'"):
        run_federated(LogisticRegression(), _toy(), rounds=1, progress=False, engine="flower")


def test_unknown_engine_and_local_only_options_are_refused():
    with pytest.raises(FederationError, match="unknown engine"):
        run_federated(LogisticRegression(), _toy(), rounds=1, progress=False, engine="spark")
    with pytest.raises(FederationError, match="not available on the Flower engine"):
        run_federated(LogisticRegression(), _toy(), rounds=1, progress=False, engine="flower", audit=object())


def test_model_travels_as_json_and_only_meshkit_classes_are_built():
    from meshkit._federation.flower.wire import model_from_spec, model_spec

    model = LogisticRegression(lr=0.3, seed=4)
    assert model_from_spec(model_spec(model)).get_params() == model.get_params()
    with pytest.raises(FederationError, match="outside meshkit"):
        model_from_spec('{"__params__": "os:system", "params": {}}')


@pytest.fixture(scope="module")
def federation():
    """One loopback federation (2 domains) shared by the jobs below; stopped at the end."""
    from meshkit._federation.flower import domain_data
    from meshkit._federation.flower.deployment import LocalFederation

    data = _toy()
    fed = LocalFederation({})
    try:
        for name, d in data.items():
            fed.node_configs[name] = {"domain": name,
                                      "data": str(domain_data.save(d, fed.home / f"{name}.npz"))}
        fed.start()
        yield fed, data
    finally:
        fed.stop()
    _gone(fed)


def _both(federation, strategy_of, rounds=2, **kw):
    fed, data = federation
    model = LogisticRegression(lr=0.5)
    local = run_federated(model, data, strategy_of(), rounds=rounds, seed=3, progress=False, **kw)
    flower = run_federated(model, data, strategy_of(), rounds=rounds, seed=3, progress=False, engine="flower",
                           flower={"federation": fed}, **kw)
    return local, flower


def _same(local, flower):
    assert len(flower.parameters) == len(local.parameters)
    for a, b in zip(local.parameters, flower.parameters):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert [r["answered"] for r in flower.rounds] == [r["answered"] for r in local.rounds]
    for r_local, r_flower in zip(local.rounds, flower.rounds):
        for k, v in r_local["metrics"].items():
            assert r_flower["metrics"][k] == pytest.approx(v, abs=1e-6)


@pytest.mark.slow
def test_fedavg_on_flower_equals_the_local_engine(federation):
    local, flower = _both(federation, FedAvg)
    _same(local, flower)
    assert not np.allclose(flower.parameters[0], 0)  # it trained


@pytest.mark.slow
def test_a_robust_rule_on_flower_equals_the_local_engine(federation):
    _same(*_both(federation, FedMedian, rounds=1))


@pytest.mark.slow
def test_the_dp_wrapper_with_seeded_test_noise_on_flower_equals_the_local_engine(federation):
    local, flower = _both(federation, lambda: DPFedAvg(noise_multiplier=0.5, clip_norm=0.5, num_sampled=2,
                                                       seed=11), rounds=1)
    _same(local, flower)
    assert not np.allclose(local.parameters[0], run_federated(  # the noise is there
        LogisticRegression(lr=0.5), federation[1], FedAvg(), rounds=1, seed=3, progress=False).parameters[0])


@pytest.mark.slow
def test_secure_aggregation_over_flower_messages_equals_the_local_engine(federation):
    """Keys, shares, masked inputs and unmasking travel as Flower messages; the domains' trained
    parameters never leave their nodes unmasked; the result is the local engine's."""
    local, flower = _both(federation, FedAvg, rounds=1, secure=True)
    _same(local, flower)
    assert flower.strategy.startswith("SecureAggregation(")


def test_secure_aggregation_messages_survive_the_flower_records():
    from meshkit._federation.flower.secagg_wire import from_records, to_records
    from meshkit._federation.secagg import SecAggDomain, SecAggServer

    server = SecAggServer(["a", "b", "c"], 4, server_round=1)
    parties = {n: SecAggDomain(n) for n in server.names}

    class Content:  # what a Flower RecordDict offers the decoder
        def __init__(self, records):
            self.config_records = {k: v for k, v in records.items() if k == "secagg"}
            self.array_records = {k: v for k, v in records.items() if k == "masked"}

    def carry(message, kind):
        return from_records(Content(to_records(message)), kind)

    setups = server.setup()
    adverts = [carry(parties[n].advertise_keys(carry(setups[n], "Setup")), "KeyAdvert") for n in server.names]
    keys = server.route_keys(adverts)
    bundles = [carry(parties[n].share_keys(carry(keys[n], "NeighbourKeys")), "ShareBundle") for n in keys]
    forwarded = server.route_shares(bundles)
    x = {n: np.arange(4.0) * (i + 1) for i, n in enumerate(server.names)}
    masked = [carry(parties[n].masked_input(carry(forwarded[n], "ForwardedShares"), x[n]), "MaskedInput")
              for n in forwarded]
    requests = server.collect_masked(masked)
    replies = [carry(parties[n].unmask(carry(requests[n], "UnmaskRequest")), "UnmaskShares") for n in requests]
    np.testing.assert_allclose(server.finish(replies).total, np.arange(4.0) * 6, atol=1e-9)
    with pytest.raises(FederationError, match="unexpected secure-aggregation message"):
        carry(setups["a"], "KeyAdvert")


class KilledAfterFirstRound:
    """On the local engine: a domain whose machine is gone from round 2 on."""

    def __init__(self, client):
        self.client, self.data, self.calls = client, client.data, 0

    def fit(self, parameters, config):
        self.calls += 1
        if self.calls > 1:
            raise ConnectionError("node down")
        return self.client.fit(parameters, config)

    def evaluate(self, parameters):
        if self.calls > 1:
            raise ConnectionError("node down")
        return self.client.evaluate(parameters)


@pytest.mark.slow
def test_a_node_killed_mid_run_is_a_failing_domain_and_below_min_available_the_job_stops():
    """d2's SuperNode is killed (SIGKILL, with its ClientApps) once round 1 is done. Round 2
    then has 2 answers for min_available=3: the job stops naming round 2, d2 and the reason,
    as the local engine does when d2 fails from round 2 on."""
    import threading
    import time

    from meshkit import DomainClient, NotEnoughDomainsError
    from meshkit._federation.flower import domain_data
    from meshkit._federation.flower.deployment import LocalFederation

    data = _toy(3)
    model = LogisticRegression(lr=0.5)
    clients = {name: DomainClient(d, LogisticRegression(lr=0.5, seed=int(np.random.default_rng([3, i]).integers(2**31))))
               for i, (name, d) in enumerate(data.items())}
    clients["d2"] = KilledAfterFirstRound(clients["d2"])
    with pytest.raises(NotEnoughDomainsError) as local:
        run_federated(model, data, FedAvg(), rounds=2, seed=3, min_available=3, progress=False, clients=clients)

    fed = LocalFederation({})
    killed = threading.Event()
    try:
        for name, d in data.items():
            fed.node_configs[name] = {"domain": name, "data": str(domain_data.save(d, fed.home / f"{name}.npz"))}
        fed.start()

        def kill_after_round_one():
            progress = fed.home / "result.progress.json"
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not killed.is_set():
                if progress.exists():
                    fed.kill_node("d2")
                    killed.set()
                    return
                time.sleep(0.02)

        watcher = threading.Thread(target=kill_after_round_one, daemon=True)
        watcher.start()
        with pytest.raises(NotEnoughDomainsError) as flower:
            run_federated(model, data, FedAvg(), rounds=2, seed=3, min_available=3, progress=False,
                          engine="flower", flower={"federation": fed, "round_timeout": 45})
        watcher.join(5)
    finally:
        killed.set()
        fed.stop()
    _gone(fed)
    for caught in (local, flower):
        text = str(caught.value)
        assert "round 2" in text and "2 answered" in text and "failed: d2" in text
    assert "no reply" in str(flower.value) or "error" in str(flower.value)


def _ours(token):
    """Processes of this user that inherited ``token`` (every process a job below started)."""
    found = []
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == psutil.Process().uids().real \
                    and proc.environ().get("MESHKIT_TEST_TOKEN") == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


@pytest.mark.slow
def test_a_failed_run_is_read_from_its_status_and_leaves_no_process(monkeypatch):
    """The job fails inside the ServerApp (Krum with f=1 needs 5 domains): the run's status says
    failed, meshkit raises the ServerApp's error with the run's log, and every process it
    started (SuperLink, SuperNodes, ServerApp, ClientApps) has ended."""
    import uuid

    from meshkit import Krum

    token = uuid.uuid4().hex
    monkeypatch.setenv("MESHKIT_TEST_TOKEN", token)
    with pytest.raises(FederationError) as caught:
        run_federated(LogisticRegression(), _toy(), Krum(f=1), rounds=1, progress=False, engine="flower",
                      flower={"round_timeout": 60})
    assert "2f + 3" in str(caught.value) or "2f+3" in str(caught.value)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "finished:failed" in notes and "log" in notes
    assert _ours(token) == []


def _loopback_certificates(folder):
    """A CA and a server certificate for 127.0.0.1 made here (cryptography x509), as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshkit test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                          x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


@pytest.mark.slow
def test_the_tls_path_on_loopback_gives_the_local_engine_result(tmp_path):
    """SuperLink served over TLS with a certificate made here; the nodes and the CLI verify it
    against the CA; the job's result equals the local engine's."""
    from meshkit._federation.flower import domain_data
    from meshkit._federation.flower.deployment import LocalFederation

    data = _toy()
    fed = LocalFederation({}, tls=_loopback_certificates(tmp_path))
    try:
        for name, d in data.items():
            fed.node_configs[name] = {"domain": name, "data": str(domain_data.save(d, fed.home / f"{name}.npz"))}
        fed.start()
        assert "--insecure" not in fed.processes["superlink"].args
        assert "root-certificates" in (fed.home / "flwr" / "config.toml").read_text()
        model = LogisticRegression(lr=0.5)
        flower = run_federated(model, data, FedAvg(), rounds=1, seed=5, progress=False, engine="flower",
                               flower={"federation": fed})
    finally:
        fed.stop()
    _gone(fed)
    _same(run_federated(model, data, FedAvg(), rounds=1, seed=5, progress=False), flower)


def test_flower_processes_get_plain_output_even_from_a_jupyter_kernel(monkeypatch):
    """A Jupyter kernel forces colours (FORCE_COLOR, CLICOLOR_FORCE); ``flwr run --format json``
    would then print ANSI codes into its JSON and the run id could not be read."""
    from meshkit import LocalFederation

    for name in ("FORCE_COLOR", "CLICOLOR_FORCE"):
        monkeypatch.setenv(name, "1")
    fed = LocalFederation({})
    try:
        env = fed._env()
    finally:
        fed.stop()
    assert env["NO_COLOR"] == "1" and "FORCE_COLOR" not in env and "CLICOLOR_FORCE" not in env
    assert env["FLWR_TELEMETRY_ENABLED"] == "0" and env["FLWR_HOME"].startswith(str(fed.home))
