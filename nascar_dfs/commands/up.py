"""`nascar-dfs up`: the whole platform in the foreground (Dagster webserver + daemon, REST API).

Children are started with default signal handling in their own sessions, and this process
forwards Ctrl-C/SIGTERM to every one of them and waits: a child that inherited "ignore SIGINT"
from a background shell would otherwise ignore SIGTERM too (Dagster maps SIGTERM onto the SIGINT
handler, and a background job of a non-interactive shell inherits SIGINT = ignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from nascar_dfs.cli import CliError

HELP = "start the platform in the foreground: Dagster webserver and daemon (+ REST API); Ctrl-C stops all"
STOP_GRACE_SECONDS = 20.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=3000, help="Dagster webserver port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, default=8000, help="REST API port (default 8000)")
    parser.add_argument("--no-api", action="store_true", help="do not start the REST API")


def _tool(name: str) -> str:
    """The console script installed next to this interpreter (same environment), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise CliError(f"{name} not found: install the project with `pip install -e .`")
    return found


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _start(name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    print(f"starting {name}: {' '.join(cmd)}", flush=True)
    return subprocess.Popen(cmd, env=env, preexec_fn=_default_signals, start_new_session=True)


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, proc in children.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in {STOP_GRACE_SECONDS:.0f} s: killing it", flush=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _register_race_partitions() -> int:
    import dagster as dg

    from nascar_dfs.core.data.calendar import read_calendar
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.resources import NascarData

    with dg.DagsterInstance.get() as instance:
        return len(register_races(instance, read_calendar(NascarData().root()).race_ids()))


def _environment(home: Path, args: argparse.Namespace) -> dict[str, str]:
    from nascar_dfs.core.model.fit import configure_compile_cache

    configure_compile_cache()  # sets PYTENSOR_FLAGS / NUMBA_OPT for the run workers we spawn
    env = dict(os.environ, DAGSTER_HOME=str(home))
    env.setdefault("NASCAR_DFS_API_DAGSTER_URL", f"http://{args.host}:{args.port}")
    env.setdefault("NASCAR_DFS_API_PUBLIC_BASE_URL", f"http://{args.host}:{args.api_port}")
    return env


def run(args: argparse.Namespace) -> int:
    from nascar_dfs.platform.instance import prepare_dagster_home, uses_postgres

    home = prepare_dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    env = _environment(home, args)
    added = _register_race_partitions()
    database = "PostgreSQL" if uses_postgres(os.environ) else "SQLite"
    print(f"instance {home} ({database}); {added} new race partitions registered", flush=True)

    stop = {"requested": False}

    def request_stop(signum: int, _frame: object) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    target = ["-m", "nascar_dfs.definitions"]
    children = {
        "webserver": _start(
            "webserver", [_tool("dagster-webserver"), *target, "-h", args.host, "-p", str(args.port)], env
        ),
        "daemon": _start("daemon", [_tool("dagster-daemon"), "run", *target], env),
    }
    if not args.no_api and importlib.util.find_spec("api.app") is not None:
        children["api"] = _start(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:app_from_env",
                "--factory",
                "--host",
                args.host,
                "--port",
                str(args.api_port),
            ],
            env,
        )
    try:
        ui = f"http://{args.host}:{args.port}"
        if _wait_http(f"{ui}/server_info", children["webserver"], timeout=120):
            print(f"Dagster UI: {ui}  (Assets > calibrated_model > Materialize to start)", flush=True)
        if "api" in children:
            print(f"REST API:   http://{args.host}:{args.api_port}/docs", flush=True)
        print("Ctrl-C stops everything", flush=True)
        while not stop["requested"]:
            dead = [name for name, proc in children.items() if proc.poll() is not None]
            if dead:
                print(f"{', '.join(dead)} exited: stopping the rest", flush=True)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping...", flush=True)
        _stop_all(children)
