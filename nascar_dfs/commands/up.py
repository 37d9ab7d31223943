"""`nascar-dfs up`: the whole platform in the foreground (Dagster webserver + daemon, REST API).

`up` owns its whole process tree: the three servers, the code servers the webserver and daemon
start, the run workers those start, and their step processes. It is a child subreaper (Linux), so
a process whose parent dies is re-parented to `up` rather than to init, and the tree is found from
/proc at any time. Children start with default signal handling in sessions of their own (a child
that inherited "ignore SIGINT" from a background shell would otherwise ignore SIGTERM too: Dagster
maps SIGTERM onto its SIGINT handler), and get SIGTERM if `up` itself dies.

On SIGTERM or Ctrl-C `up` drains: the servers stop at once (no new run is launched), runs in
progress get the grace period to finish; whatever still runs then is interrupted (SIGTERM: Dagster
marks the run FAILURE, and its run retries re-run it once the platform is back), then killed; runs
left unfinished by a killed worker are failed over the same way. `up` returns only when no process
of its tree is left. At start it fails over runs a previous `up` left behind whose worker is gone
(a host crash, every process killed), so they are retried at once instead of at a timeout
(nascar_dfs/platform/run_workers.py).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from nascar_dfs.cli import CliError

if TYPE_CHECKING:
    from dagster import DagsterInstance

HELP = "start the platform in the foreground: Dagster webserver and daemon (+ REST API); Ctrl-C stops all"
GRACE_ENV = "NASCAR_DFS_UP_GRACE_S"
# Which proxies' X-Forwarded-For the API believes (uvicorn --forwarded-allow-ips): the per-address
# limiter and the audit log key on the client address, so only a known proxy may set it.
FORWARDED_ENV = "NASCAR_DFS_API_FORWARDED_ALLOW_IPS"
DEFAULT_FORWARDED = "127.0.0.1"
DEFAULT_METRICS_PORT = 9464
DEFAULT_GRACE_S = 60.0
INTERRUPT_S = 15.0  # after the grace period: interrupted run workers record their failure and exit
KILL_WAIT_S = 10.0
POLL_S = 0.5
REAP_EVERY = 20  # polls
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def _grace_default() -> float:
    raw = os.environ.get(GRACE_ENV)
    try:
        return float(raw) if raw else DEFAULT_GRACE_S
    except ValueError:
        raise CliError(f"{GRACE_ENV}={raw!r} is not a number of seconds") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=3000, help="Dagster webserver port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, default=8000, help="REST API port (default 8000)")
    parser.add_argument("--no-api", action="store_true", help="do not start the REST API")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULT_METRICS_PORT,
        help=f"port of the REST API's Prometheus /metrics (default {DEFAULT_METRICS_PORT}; "
        "$NASCAR_DFS_API_METRICS_PORT wins when set)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="ADDRESSES",
        help=f"proxies (comma-separated IPs or networks) whose X-Forwarded-For the API trusts "
        f"(default ${FORWARDED_ENV} or {DEFAULT_FORWARDED}: only a proxy on this host)",
    )
    parser.add_argument(
        "-m",
        "--module",
        default="nascar_dfs.definitions",
        help="Python module of the Dagster definitions to serve (default nascar_dfs.definitions)",
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"on SIGTERM/Ctrl-C, how long runs in progress may take to finish before they are "
        f"interrupted and left to Dagster's run retries (default ${GRACE_ENV} or {DEFAULT_GRACE_S:.0f})",
    )


def api_command(args: argparse.Namespace, grace_s: float) -> list[str]:
    """The REST API's uvicorn command line."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:app_from_env",
        "--factory",
        "--host",
        args.host,
        "--port",
        str(args.api_port),
        "--timeout-graceful-shutdown",
        str(max(1, int(grace_s))),
        "--proxy-headers",
        "--forwarded-allow-ips",
        args.forwarded_allow_ips or os.environ.get(FORWARDED_ENV) or DEFAULT_FORWARDED,
    ]


def _tool(name: str) -> str:
    """The console script installed next to this interpreter (same environment), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise CliError(f"{name} not found: install the project with `pip install -e .`")
    return found


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _child_setup() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # `up` killed outright: the servers stop too


class ProcessTree:
    """The processes `up` started and everything below them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stop_requests = 0

    def request_stop(self, _signum: int, _frame: object) -> None:
        self.stop_requests += 1
        if self.stop_requests == 2:
            print("stop requested again: interrupting runs now", flush=True)

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        print(f"starting {name}: {' '.join(cmd)}", flush=True)
        proc = subprocess.Popen(cmd, env=self.env, preexec_fn=_child_setup, start_new_session=True)
        self.children[name] = proc
        return proc

    def alive(self) -> list[int]:
        """Pids of the tree's processes that have not exited (zombies are reaped, not counted)."""
        from nascar_dfs.platform.run_workers import descendants

        ours = {proc.pid for proc in self.children.values()}
        tree = descendants(os.getpid())
        if tree is None:  # no /proc (not Linux): only the servers themselves can be seen
            return [proc.pid for proc in self.children.values() if proc.poll() is None]
        left = []
        for process in tree:
            if not process.exited:
                left.append(process.pid)
            elif process.ppid == os.getpid() and process.pid not in ours:
                with contextlib.suppress(ChildProcessError):  # an orphan re-parented to us
                    os.waitpid(process.pid, os.WNOHANG)
        for proc in self.children.values():
            proc.poll()
        return left

    def send(self, sig: signal.Signals, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def wait_empty(self, seconds: float, until_stop_requests: int | None = None) -> list[int]:
        deadline = time.monotonic() + seconds
        while (left := self.alive()) and time.monotonic() < deadline:
            if until_stop_requests is not None and self.stop_requests >= until_stop_requests:
                break
            time.sleep(POLL_S)
        return left

    def stop(self, grace_s: float) -> None:
        """Drain (module docstring); returns when no process of the tree is left."""
        began = time.monotonic()
        leaders = [proc.pid for proc in self.children.values() if proc.poll() is None]
        self.send(signal.SIGTERM, leaders)  # the servers stop; code servers finish their runs
        print(
            f"waiting up to {grace_s:g} s for runs in progress (Ctrl-C again: interrupt them now)", flush=True
        )
        left = self.wait_empty(grace_s, until_stop_requests=2)
        if left:
            print(
                f"grace period over ({time.monotonic() - began:.0f} s): interrupting {len(left)} "
                "processes; their runs fail and are retried when the platform is back",
                flush=True,
            )
            self.send(signal.SIGTERM, left)
            left = self.wait_empty(INTERRUPT_S)
        while left:
            print(f"killing {len(left)} processes that did not stop: {left}", flush=True)
            self.send(signal.SIGKILL, left)
            left = self.wait_empty(KILL_WAIT_S)
        for proc in self.children.values():
            proc.wait()
        print(f"stopped in {time.monotonic() - began:.1f} s; no platform process is left", flush=True)


def _wait_http(url: str, proc: subprocess.Popen[bytes], tree: ProcessTree, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not tree.stop_requests:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(POLL_S)
    return False


def _prepare_instance(by: str) -> int:
    """Register the race partitions; fail over runs whose worker is gone. Returns races added."""
    import dagster as dg

    from nascar_dfs.core.data.calendar import read_calendar
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.resources import NascarData

    with dg.DagsterInstance.get() as instance:
        _fail_over(instance, by)
        return len(register_races(instance, read_calendar(NascarData().root()).race_ids()))


def _fail_over(instance: DagsterInstance, by: str) -> None:
    from nascar_dfs.platform.run_workers import fail_over_orphaned_runs

    for run in fail_over_orphaned_runs(instance, by):
        print(f"run {run.run_id} ({run.job_name}, was {run.was}) failed over: {run.reason}", flush=True)


def _fail_over_after_stop() -> None:
    import dagster as dg

    try:
        with dg.DagsterInstance.get() as instance:
            _fail_over(instance, "nascar-dfs up, stopping")
    except Exception as exc:  # the next `up` fails them over at its start
        print(f"could not check for runs left behind: {exc}", flush=True)


def _environment(home: Path, args: argparse.Namespace) -> dict[str, str]:
    from nascar_dfs.core.model.fit import configure_compile_cache

    configure_compile_cache()  # sets PYTENSOR_FLAGS / NUMBA_OPT for the run workers we spawn
    env = dict(os.environ, DAGSTER_HOME=str(home))
    env.setdefault("NASCAR_DFS_API_DAGSTER_URL", f"http://{args.host}:{args.port}")
    env.setdefault("NASCAR_DFS_API_PUBLIC_BASE_URL", f"http://{args.host}:{args.api_port}")
    for name, value in api_metrics_environment(args).items():
        env.setdefault(name, value)
    return env


def api_metrics_environment(args: argparse.Namespace) -> dict[str, str]:
    """The API serves /metrics on a port of its own (not on the API port, which may face users)."""
    return {"NASCAR_DFS_API_METRICS_PORT": str(args.metrics_port), "NASCAR_DFS_API_METRICS_HOST": args.host}


def run(args: argparse.Namespace) -> int:
    from nascar_dfs.platform.instance import prepare_dagster_home, uses_postgres

    grace_s = _grace_default() if args.grace_period is None else args.grace_period
    if grace_s < 0:
        raise CliError(f"--grace-period must be >= 0 seconds, not {grace_s:g}")
    home = prepare_dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    env = _environment(home, args)
    added = _prepare_instance("nascar-dfs up, starting")
    storage = "PostgreSQL" if uses_postgres(os.environ) else "SQLite"
    print(f"instance {home} ({storage}); {added} new race partitions registered", flush=True)

    tree = ProcessTree(env)
    signal.signal(signal.SIGINT, tree.request_stop)
    signal.signal(signal.SIGTERM, tree.request_stop)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    target = ["-m", args.module]
    try:
        webserver = tree.start(
            "webserver", [_tool("dagster-webserver"), *target, "-h", args.host, "-p", str(args.port)]
        )
        tree.start("daemon", [_tool("dagster-daemon"), "run", *target])
        if not args.no_api and importlib.util.find_spec("api.app") is not None:
            tree.start("api", api_command(args, grace_s))
        ui = f"http://{args.host}:{args.port}"
        if _wait_http(f"{ui}/server_info", webserver, tree, timeout=120):
            print(f"Dagster UI: {ui}  (Assets > calibrated_model > Materialize to start)", flush=True)
        if "api" in tree.children:
            print(f"REST API:   http://{args.host}:{args.api_port}/docs", flush=True)
            print(f"metrics:    http://{args.host}:{env['NASCAR_DFS_API_METRICS_PORT']}/metrics", flush=True)
        print(f"Ctrl-C stops everything (runs in progress get {grace_s:g} s to finish)", flush=True)
        beats = 0
        while not tree.stop_requests:
            dead = [name for name, proc in tree.children.items() if proc.poll() is not None]
            if dead:
                print(f"{', '.join(dead)} exited: stopping the rest", flush=True)
                return 1
            beats += 1
            if beats % REAP_EVERY == 0:
                tree.alive()  # reaps orphans that exited (a subreaper must)
            time.sleep(POLL_S)
        return 0
    finally:
        print(f"stopping (grace period {grace_s:g} s)...", flush=True)
        tree.stop(grace_s)
        _fail_over_after_stop()
