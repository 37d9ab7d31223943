"""Real servers on loopback for the benchmarks and the end-to-end tests: a Dagster deployment
(webserver + daemon, a temporary DAGSTER_HOME with the project's dagster.yaml, or
deploy/postgres/dagster.yaml with DAGSTER_PG_* in `extra_env`, and a temporary storage folder),
and a private, throwaway PostgreSQL server.

The PostgreSQL server is the caller's own (initdb in a temp dir, free loopback port) rather than
the shared cluster of scripts/services/postgres.sh: stopping the shared one would fail everyone
else using it at the same time. The tests import this module (nascar_dfs_tests/api/dagster_stack.py,
nascar_dfs_tests/reliability/servers.py); it imports nothing of theirs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PG_BIN_ROOT = Path("/usr/lib/postgresql")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class DagsterStack:
    home: Path
    storage: Path
    url: str
    env: dict[str, str]


def wait_http(url: str, timeout_s: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with {p.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up within {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


POSTGRES_INSTANCE = REPO / "deploy" / "postgres" / "dagster.yaml"
STACK_CACHE = (
    Path(os.environ.get("NASCAR_DFS_CACHE_DIR") or Path.home() / ".cache" / "nascar-dfs") / "dagster-stack"
)


@contextmanager
def dagster_stack(
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    module: str = "nascar_dfs.definitions",
    instance_yaml: Path = REPO / "dagster.yaml",
) -> Iterator[DagsterStack]:
    home, storage = workdir / "dagster_home", workdir / "storage"
    home.mkdir(parents=True, exist_ok=True)
    storage.mkdir(parents=True, exist_ok=True)
    shutil.copy(instance_yaml, home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NASCAR_DFS_STORAGE": str(storage),
        # A compile cache of these stacks' own, compiled at numba's default level: scripts/test.sh
        # exports NUMBA_OPT=0 for the suite, and graph code compiled at level 0 samples ~37x
        # slower (nascar_dfs/core/model/fit.py) and would then be reused from the shared cache.
        # Run workers read PyTensor's cache location from PYTENSOR_FLAGS (as under `nascar-dfs up`).
        "NASCAR_DFS_CACHE_DIR": str(STACK_CACHE),
        "PYTENSOR_FLAGS": f"base_compiledir={STACK_CACHE / 'pytensor'}",
        **(extra_env or {}),
    }
    if "NUMBA_OPT" not in (extra_env or {}):
        env.pop("NUMBA_OPT", None)
    port = free_port()
    bindir = Path(sys.executable).parent
    logs = (workdir / "webserver.log").open("wb"), (workdir / "daemon.log").open("wb")
    # Create the instance's tables once, before two processes race to do it (alembic then
    # records two heads in a fresh SQLite storage and every later read fails).
    subprocess.run(
        [str(bindir / "dagster"), "instance", "migrate"],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs = [
        subprocess.Popen(
            [
                str(bindir / "dagster-webserver"),
                "-m",
                module,
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            cwd=REPO,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    try:
        wait_http(f"http://127.0.0.1:{port}/server_info", 120, procs)
        procs.append(
            subprocess.Popen(
                [str(bindir / "dagster-daemon"), "run", "-m", module],
                env=env,
                cwd=REPO,
                stdout=logs[1],
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        yield DagsterStack(home, storage, f"http://127.0.0.1:{port}", env)
    finally:
        for p in procs:
            _stop(p)
        for f in logs:
            f.close()


def _pg_bin(tool: str) -> Path:
    versions = sorted(PG_BIN_ROOT.glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise FileNotFoundError(f"no PostgreSQL server binaries under {PG_BIN_ROOT}")
    return versions[-1] / tool


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb/postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(_pg_bin("pg_ctl")), "-D", str(self.data_dir), "-w", "-t", "30", *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off"
        self._ctl("-o", opts, "-l", str(self.data_dir / "server.log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()


def postgres_available() -> bool:
    return any(PG_BIN_ROOT.glob("*/bin/initdb")) and (
        os.geteuid() != 0 or shutil.which("runuser") is not None
    )


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL server on a free loopback port, trust auth; stopped and deleted afterwards.

    Its directory is made directly under the system temp dir: pytest's tmp_path sits below a
    0700 directory the postgres user (needed when running as root) cannot traverse.
    """
    root = Path(tempfile.mkdtemp(prefix="nascar-dfs-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = PrivatePostgres(root / "pgdata", free_port())
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(_pg_bin("initdb")),
                    "-D",
                    str(server.data_dir),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        server.start()
        yield server
    finally:
        if server.running():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
