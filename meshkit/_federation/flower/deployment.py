"""A Flower federation on this machine: a SuperLink and one SuperNode per domain on loopback.

:class:`LocalFederation` starts the processes in a private Flower home (its own
``config.toml`` naming the SuperLink, so the user's own Flower configuration is neither read
nor changed), offline: runtime dependency installation stays disabled, telemetry and update
checks are off (``FLWR_TELEMETRY_ENABLED=0``, ``FLWR_DISABLE_UPDATE_CHECK=1``). Each process
runs in a process group of its own; :meth:`LocalFederation.stop` ends every group it started
(SIGTERM, then SIGKILL), also from ``atexit`` and when a job fails or is interrupted.

A run's outcome is read from its status (``flwr list --run-id ID --format json``), not from an
exit code; a failed run's log (``flwr log ID --show``) goes into the error.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import meshkit
from meshkit._errors import FederationError

__all__ = ["LocalFederation", "flower_tool", "OFFLINE_ENV"]

#: what every Flower process meshkit starts gets in its environment
OFFLINE_ENV = {"FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}

_CONNECTION = "meshkit"
_MARKER = "MESHKIT_FLOWER_FEDERATION"

_APP_TOML = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "meshkit-job"
version = "1.0.0"
description = "A meshkit federated job"
license = "Apache-2.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "meshkit"

[tool.flwr.app.components]
serverapp = "meshkit._federation.flower.apps:server_app"
clientapp = "meshkit._federation.flower.apps:client_app"

[tool.flwr.app.config]
job-file = ""
result-file = ""
"""


def flower_tool(name: str) -> str:
    """The path of one of Flower's commands (``flwr``, ``flower-superlink``...), next to this
    Python first."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FederationError("Flower's command is not installed", where=name,
                              expected="flwr installed: pip install 'meshkit[flower]'", found="no such command")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FederationError(f"the {what} exited while starting", where=what, expected="a running process",
                                  found=f"exit code {process.returncode}; log:\n{_tail(log)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise FederationError(f"the {what} did not start", where=what, expected=f"port {port} open within {timeout:g} s",
                          found=f"closed; log:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _node_config(config: dict, path: Path) -> str:
    """Write a node config as a TOML file (values with spaces and quotes survive, which
    Flower's ``key=value`` form does not); returns its path for ``--node-config``."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return json.dumps(str(v))  # a JSON string is a TOML basic string
    path.write_text("".join(f"{json.dumps(str(k))} = {value(v)}\n" for k, v in config.items()))
    return str(path)


class LocalFederation:
    """A SuperLink and one SuperNode per domain on loopback (free ports), in a private Flower home.

    Parameters
    ----------
    node_configs : dict of str to dict
        Each domain's node config (``domain`` and where its data is, see
        :mod:`~meshkit._federation.flower.domain_data`).
    home : path, optional
        The private Flower home; default a new temporary directory, removed by :meth:`stop`.
    startup_timeout : float, default 60
    tls : dict, optional
        ``{"ca": path, "cert": path, "key": path}``: serve the SuperLink over TLS with this
        certificate (issued for ``127.0.0.1``) and have the nodes and the CLI verify it with
        ``ca``; default plain HTTP on loopback.

    Examples
    --------
    ``with LocalFederation({"a": {...}, "b": {...}}) as fed: status = fed.run({...})``
    """

    def __init__(self, node_configs: dict, *, home=None, startup_timeout: float = 60.0, tls=None) -> None:
        self.node_configs = {name: dict(cfg) for name, cfg in node_configs.items()}
        self.startup_timeout, self.tls = startup_timeout, tls
        self._own_home = home is None
        self.home = Path(tempfile.mkdtemp(prefix="meshkit-flower-")) if home is None else Path(home).resolve()
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    # -- processes --------------------------------------------------------------------------
    def _env(self) -> dict:
        env = dict(os.environ, FLWR_HOME=str(self.home / "flwr"), **OFFLINE_ENV)
        for forced in ("FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS"):  # a Jupyter kernel sets them; the
            env.pop(forced, None)  # CLI's JSON must stay plain
        env["NO_COLOR"] = "1"
        env[_MARKER] = str(self.home)  # how stop() finds the processes Flower starts detached
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        root = str(Path(meshkit.__file__).resolve().parent.parent)  # the same meshkit in every process
        env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
        return env

    def _spawn(self, key: str, argv: list) -> subprocess.Popen:
        log_path = self.home / "logs" / f"{key}.log"
        log = open(log_path, "ab")
        self._logs.append(log)
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=self._env(), cwd=self.home, start_new_session=True)
        self.processes[key] = process
        return process

    def log_of(self, process: str) -> str:
        """The output of one process (``"superlink"`` or ``"node <domain>"``)."""
        return _tail(self.home / "logs" / f"{process}.log", 200)

    def start(self) -> LocalFederation:
        """Start the SuperLink, wait for it, start one SuperNode per domain."""
        atexit.register(self.stop)
        try:
            (self.home / "logs").mkdir(parents=True, exist_ok=True)
            (self.home / "flwr").mkdir(parents=True, exist_ok=True)
            self.port = _free_port()
            address = f"127.0.0.1:{self.port}"
            security = {"insecure": True} if self.tls is None else {"root-certificates": str(self.tls["ca"])}
            lines = ["[superlink]", f'default = "{_CONNECTION}"', "", f"[superlink.{_CONNECTION}]",
                     f'address = "{address}"']
            lines += [f"{k} = {json.dumps(v)}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
                      for k, v in security.items()]
            (self.home / "flwr" / "config.toml").write_text("\n".join(lines) + "\n")
            link_tls = ["--insecure"] if self.tls is None else \
                ["--ssl-ca-certfile", str(self.tls["ca"]), "--ssl-certfile", str(self.tls["cert"]),
                 "--ssl-keyfile", str(self.tls["key"])]
            link = self._spawn("superlink", [flower_tool("flower-superlink"), *link_tls, "--host", "127.0.0.1",
                                             "--port", str(self.port), "--disable-runtime-dependency-installation",
                                             "--database", str(self.home / "superlink.db")])
            _wait_for_port(self.port, link, self.startup_timeout, "SuperLink", self.home / "logs" / "superlink.log")
            node_tls = ["--insecure"] if self.tls is None else ["--root-certificates", str(self.tls["ca"])]
            for number, (name, cfg) in enumerate(self.node_configs.items()):
                config_file = _node_config(cfg, self.home / f"node-{number}.toml")
                self._spawn(f"node {name}", [flower_tool("flower-supernode"), *node_tls, "--superlink", address,
                                             "--host", "127.0.0.1", "--port", str(_free_port()),
                                             "--node-config", config_file])
        except BaseException:
            self.stop()
            raise
        return self

    def kill_node(self, name: str) -> None:
        """End one domain's SuperNode (and its ClientApps) at once, as a machine failing would."""
        self._end(self.processes[f"node {name}"], signal.SIGKILL, grace=2.0)

    def _end(self, process: subprocess.Popen, sig=signal.SIGTERM, grace: float = 5.0) -> None:
        """End ``process``, its process group and every process it started (Flower starts some
        detached, in sessions of their own), SIGKILL after ``grace`` seconds."""
        import psutil

        try:
            family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for member in family:
            try:
                member.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=grace)
        for member in alive:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=grace)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)

    def _strays(self) -> list:
        """Processes carrying this federation's marker that outlived the ones :meth:`stop` ended."""
        import psutil

        mine = []
        for proc in psutil.process_iter(["pid", "uids"]):
            try:
                if proc.info["uids"] and proc.info["uids"].real == os.getuid() and \
                        proc.environ().get(_MARKER) == str(self.home):
                    mine.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
                continue
        return mine

    def stop(self) -> None:
        """End every process this federation started (nodes first); remove a temporary home."""
        import psutil

        try:
            for key in sorted(self.processes, key=lambda k: k == "superlink"):
                if self.processes[key].poll() is None or key == "superlink":
                    self._end(self.processes[key])
            strays = self._strays()
            for proc in strays:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(strays, timeout=5)
        finally:
            for log in self._logs:
                log.close()
            self._logs.clear()
            atexit.unregister(self.stop)
            if self._own_home and self.home.exists() and not getattr(self, "keep_home", False):
                shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> LocalFederation:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- runs -------------------------------------------------------------------------------
    def flwr(self, *args, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """Run one ``flwr`` command against this federation's SuperLink."""
        return subprocess.run([flower_tool("flwr"), *args], capture_output=True, text=True, env=self._env(),
                              cwd=self.home, timeout=timeout, stdin=subprocess.DEVNULL)

    def app_dir(self, components: dict | None = None, config_keys=()) -> Path:
        """The Flower App to submit: meshkit's ServerApp and ClientApp, or other ``components``
        (``{"serverapp": "module:attr", "clientapp": "module:attr"}``, e.g. a bare Flower app
        to compare with) taking the run config keys ``config_keys``."""
        app = self.home / ("app" if components is None else "other-app")
        app.mkdir(exist_ok=True)
        text = _APP_TOML
        if components is not None:
            text = text.split("[tool.flwr.app.components]")[0] + "[tool.flwr.app.components]\n" + "".join(
                f'{k} = "{v}"\n' for k, v in components.items()) + "\n[tool.flwr.app.config]\n" + "".join(
                f'{k} = ""\n' for k in config_keys)
        (app / "pyproject.toml").write_text(text)
        return app

    def submit(self, run_config: dict, components: dict | None = None) -> int:
        """``flwr run`` the meshkit app (or the app of ``components``) with ``run_config``
        (string values); returns the run id."""
        overrides = self.home / "run_config.toml"
        overrides.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in run_config.items()))
        app = self.app_dir(components, list(run_config)) if components is not None else self.app_dir()
        done = self.flwr("run", str(app), _CONNECTION, "--run-config", str(overrides), "--format", "json")
        try:
            return int(json.loads(done.stdout)["run-id"])
        except (ValueError, KeyError, TypeError):
            raise FederationError("Flower refused the run", where="flwr run", expected="a run id",
                                  found=(done.stdout + done.stderr).strip()[-4000:]) from None

    def status(self, run_id: int) -> dict:
        """The run's row of ``flwr list --run-id ID --format json``."""
        done = self.flwr("list", _CONNECTION, "--run-id", str(run_id), "--format", "json")
        try:
            rows = json.loads(done.stdout)["runs"]
            return next(r for r in rows if int(r["run-id"]) == run_id)
        except (ValueError, KeyError, TypeError, StopIteration):
            raise FederationError("cannot read the run's status", where=f"flwr list --run-id {run_id}",
                                  expected="a JSON row for the run",
                                  found=(done.stdout + done.stderr).strip()[-2000:]) from None

    def log(self, run_id: int) -> str:
        """The run's log, as ``flwr log ID --show`` prints it."""
        done = self.flwr("log", str(run_id), _CONNECTION, "--show", timeout=60)
        return (done.stdout + done.stderr).strip()

    def wait(self, run_id: int, timeout: float, poll: float = 0.5) -> dict:
        """Poll the run's status until it is finished; returns the last row."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.status(run_id)
            if str(row.get("status", "")).startswith("finished"):
                return row
            if time.monotonic() > deadline:
                self.flwr("stop", str(run_id), _CONNECTION)
                raise FederationError("the Flower run did not finish in time", where=f"run {run_id}",
                                      expected=f"finished within {timeout:g} s", found=str(row.get("status")))
            time.sleep(poll)
