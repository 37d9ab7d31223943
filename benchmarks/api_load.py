"""Bounded locust load test of the REST API on loopback: mixed submits and polls, one command.

Starts the real app under uvicorn (one worker) with a launcher whose runs stay queued
(benchmarks/queued_launcher.py: this measures the API and its database, not the pipeline),
creates an API key, runs locust headless with the users of benchmarks/api_locustfile.py
(submit -> 4 polls -> lineups (409 while queued) -> list, in a loop) for --duration seconds, and
prints throughput, latency percentiles per operation and the error rate. Locust's CSV files are
kept in --csv-dir.

    python benchmarks/api_load.py [--users 20] [--spawn-rate 10] [--duration 30]
                                  [--database-url postgresql+psycopg2://...] [--budgets]

Rate limits are on, with quotas above what the test sends (a 429 would count as an expected
refusal, not an error); the active-run cap is raised, since its runs never finish. With
--budgets the exit code also enforces the API's smoke budgets: p95 of a status read < 100 ms,
p95 of a submit < 300 ms, no failed request.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RACE = "2024-cup-phoenix-2"
BUDGETS_MS = {"GET /v1/lineup-requests/{id}": 100.0, "POST /v1/lineup-requests": 300.0}


def make_app():  # type: ignore[no-untyped-def]
    """uvicorn factory (in the server process): the real app, runs that stay queued, env settings."""
    from queued_launcher import QueuedLauncher

    from api.app import create_app
    from api.core.config import Settings

    return create_app(Settings(), launcher=QueuedLauncher(races=[RACE]))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "benchmarks")]),
        "NASCAR_DFS_API_DATABASE_URL": database_url,
        "NASCAR_DFS_API_SUBMIT_PER_MINUTE": "100000",
        "NASCAR_DFS_API_SUBMIT_PER_DAY": "1000000",
        "NASCAR_DFS_API_READ_PER_MINUTE": "1000000",
        "NASCAR_DFS_API_ACTIVE_RUNS_PER_KEY": "1000000",
    }
    cmd = [
        *(sys.executable, "-m", "uvicorn", "api_load:make_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise TimeoutError(f"API not ready after 60 s:\n{log.read_text()[-2000:]}")


def create_api_key(database_url: str) -> str:
    from api.core.db import create_db_engine, migrate
    from api.services.keys import create_key

    engine = create_db_engine(database_url)
    try:
        migrate(engine, time.time())
        return create_key(engine, f"load-{uuid.uuid4().hex[:8]}", "user", time.time()).secret_key
    finally:
        engine.dispose()


def run_locust(base_url: str, key: str, args: argparse.Namespace, csv_prefix: Path) -> int:
    locust = shutil.which("locust") or str(Path(sys.executable).parent / "locust")
    cmd = [
        locust,
        *("-f", str(REPO / "benchmarks" / "api_locustfile.py"), "--headless"),
        *("--host", base_url, "-u", str(args.users), "-r", str(args.spawn_rate)),
        *("-t", f"{args.duration}s", "--stop-timeout", "5", "--csv", str(csv_prefix)),
        *("--only-summary", "--loglevel", "WARNING"),
    ]
    env = {**os.environ, "NASCAR_DFS_LOAD_KEY": key, "NASCAR_DFS_LOAD_RACE": RACE}
    # Bounded: locust stops itself after --duration; the timeout only guards a hang.
    with (csv_prefix.parent / "locust.log").open("wb") as log:
        return subprocess.run(
            cmd, env=env, timeout=args.duration + 120, stdout=log, stderr=subprocess.STDOUT
        ).returncode


def report(csv_prefix: Path, args: argparse.Namespace, database: str) -> bool:
    with Path(f"{csv_prefix}_stats.csv").open() as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    print(
        f"api_load: locust {args.users} users for {args.duration} s, 1 uvicorn worker, {database}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"requests {requests}, throughput {float(total['Requests/s']):.1f} req/s, "
        f"errors {failures} ({100 * failures / max(requests, 1):.2f} %)"
    )
    print(f"{'operation':<40}{'n':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}  ms")
    within = failures == 0
    for r in rows:
        name = r["Name"]
        p95 = float(r["95%"])
        budget = BUDGETS_MS.get(name)
        verdict = "" if budget is None else f"  p95 budget {budget:.0f}: {'ok' if p95 < budget else 'MISSED'}"
        within = within and (budget is None or p95 < budget)
        print(
            f"{name:<40}{int(r['Request Count']):>7}{r['50%']:>7}{r['95%']:>7}{r['99%']:>7}"
            f"{float(r['Max Response Time']):>7.0f}{verdict}"
        )
    return within


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--duration", type=int, default=30, help="seconds of load")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--csv-dir", type=Path, default=None, help="keep locust's CSV files here")
    parser.add_argument("--budgets", action="store_true", help="exit 1 when a p95 budget is missed")
    args = parser.parse_args()
    if args.users < 1 or args.duration < 1 or args.spawn_rate <= 0:
        parser.error("--users, --duration and --spawn-rate must be positive")
    with tempfile.TemporaryDirectory(prefix="api_load-") as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'api.db'}"
        key = create_api_key(database_url)
        port = _free_port()
        server = start_server(database_url, port, Path(tmp) / "server.log")
        csv_dir = args.csv_dir or Path(tmp)
        csv_dir.mkdir(parents=True, exist_ok=True)
        try:
            code = run_locust(f"http://127.0.0.1:{port}", key, args, csv_dir / "api_load")
        finally:
            server.terminate()
            server.wait(15)
        database = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        within = report(csv_dir / "api_load", args, database)
    if code != 0:
        return code
    return 0 if (within or not args.budgets) else 1


if __name__ == "__main__":
    sys.exit(main())
