"""Real processes for the fault-injection tests: the API under uvicorn (fake Dagster launcher),
Dagster servers of a test's code location, and a private, throwaway PostgreSQL server (its start
and stop live in benchmarks/stack.py, which the API benchmark shares)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml

from benchmarks.stack import PrivatePostgres, free_port, postgres_available, private_postgres  # noqa: F401 (the tests import them from here)

from .conftest import REPO


@dataclass
class ApiProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop(self, timeout_s: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise
        return self.proc.returncode


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"API not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


def start_api(
    database_url: str,
    log: Path,
    graceful_s: int = 10,
    factory: str = "nascar_dfs_tests.api.server_app:make_app",
    env: dict[str, str] | None = None,
    **settings: str,
) -> ApiProcess:
    """uvicorn with the real app; by default the fake launcher and the test routes
    (`factory="api.app:app_from_env"` for the real Dagster launcher); settings as env overrides."""
    port = free_port()
    env = {
        **(env or os.environ),
        "NASCAR_DFS_API_DATABASE_URL": database_url,
        "NASCAR_DFS_API_RATE_LIMITS_ENABLED": "false",
        "NASCAR_DFS_API_ACTIVE_RUNS_PER_KEY": "100000",
        **{f"NASCAR_DFS_API_{k.upper()}": v for k, v in settings.items()},
    }
    if "NASCAR_DFS_STORAGE" not in env:
        # A storage root of this API's own, holding the slates its lineup requests need (409
        # slate-missing otherwise), as an admin's upload would store them.
        from nascar_dfs.platform.slate_store import save_slate, slates_dir
        from nascar_dfs_tests.api.conftest import DEMO_SLATE, OTHER_RACE, RACE

        env["NASCAR_DFS_STORAGE"] = str(log.parent / "api-storage")
        for race in (RACE, OTHER_RACE):
            save_slate(slates_dir(Path(env["NASCAR_DFS_STORAGE"])), race, DEMO_SLATE)
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        str(graceful_s),
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    api = ApiProcess(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_ready(api.base_url, proc, log)
    except BaseException:
        proc.kill()
        proc.wait(5)
        raise
    return api


@contextmanager
def running_api(database_url: str, log: Path, **settings: Any) -> Iterator[ApiProcess]:
    api = start_api(database_url, log, **settings)
    try:
        yield api
    finally:
        if api.proc.poll() is None:
            api.proc.kill()
            api.proc.wait(5)


def create_database(server: PrivatePostgres, name: str) -> str:
    """A new database on the test's server; returns its SQLAlchemy URL."""
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of the processes whose environment has `name=value`: a process tree marked at its root
    (every descendant inherits it, whether re-parented or in a session of its own)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # exited meanwhile, or another user's
            continue
    return found


@dataclass
class DagsterProcesses:
    """Webserver and daemon of a throwaway instance with the project's dagster.yaml, each
    restartable on its own (the helper in nascar_dfs_tests/api keeps them together)."""

    home: Path
    env: dict[str, str]
    module: str
    port: int
    webserver: subprocess.Popen[bytes] | None = None
    daemon: subprocess.Popen[bytes] | None = None
    spawned: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        bindir = Path(sys.executable).parent
        with (self.home / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [str(bindir / name), *args],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.spawned.append(proc)
        return proc

    def start_webserver(self) -> None:
        self.webserver = self._spawn(
            "dagster-webserver", ["-m", self.module, "-h", "127.0.0.1", "-p", str(self.port)]
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.webserver.poll() is not None:
                raise RuntimeError(
                    f"webserver exited:\n{(self.home / 'dagster-webserver.log').read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError("Dagster webserver not up within 180 s")

    def start_daemon(self) -> None:
        self.daemon = self._spawn("dagster-daemon", ["run", "-m", self.module])

    def restart_daemon(self, down_s: float) -> None:
        """SIGTERM to the daemon alone (as a pod deletion would), wait, start a new one. Run
        workers it launched are left running, as they are on Kubernetes (their own pods)."""
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGTERM)
        self.daemon.wait(30)
        time.sleep(down_s)
        self.start_daemon()

    def stop_all(self) -> None:
        for proc in reversed(self.spawned):
            self.stop(proc)
            with contextlib.suppress(ProcessLookupError):  # children left in the group
                os.killpg(proc.pid, signal.SIGKILL)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes] | None, timeout_s: float = 20.0) -> None:
        # The whole process group: the daemon's code server and run workers go with it.
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextmanager
def dagster_processes(
    workdir: Path,
    module: str,
    instance_yaml: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[DagsterProcesses]:
    """Webserver and daemon on a fresh instance: the project's dagster.yaml, or `instance_yaml`."""
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    if instance_yaml is None:
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(instance_yaml)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NASCAR_DFS_STORAGE": str(workdir / "storage"),
        **(extra_env or {}),
    }
    # One process creates the schema before two race to (see benchmarks/stack.py).
    subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "instance", "migrate"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=180,
    )
    stack = DagsterProcesses(home, env, module, free_port())
    try:
        stack.start_webserver()
        stack.start_daemon()
        yield stack
    finally:
        stack.stop_all()


def postgres_instance_yaml(
    server: PrivatePostgres, database: str, extra_tag_limits: list[dict[str, Any]] | None = None
) -> str:
    """deploy/postgres/dagster.yaml (the production instance settings) on `database` of the
    test's server, with run monitoring polled every second so the fault tests stay short."""
    create_database(server, database)
    config = yaml.safe_load((REPO / "deploy" / "postgres" / "dagster.yaml").read_text())
    config["storage"]["postgres"]["postgres_db"].update(
        hostname="127.0.0.1", port=server.port, username="postgres", password="", db_name=database
    )
    config["run_monitoring"].update(
        poll_interval_seconds=1, start_timeout_seconds=60, cancel_timeout_seconds=60
    )
    config["concurrency"]["runs"]["tag_concurrency_limits"] += extra_tag_limits or []
    return yaml.safe_dump(config)
