"""Bounded load test of the REST API on loopback: mixed submits and polls.

Starts the real app under uvicorn (one worker) with the fake Dagster launcher (runs stay queued,
so this measures the API and its database, not the pipeline), creates an API key, then runs
`--users` concurrent virtual users for `--duration` seconds or until `--max-requests` requests,
whichever comes first. Each user submits a lineup request (fresh Idempotency-Key) and then polls
its status `--polls-per-submit` times, listing its requests once per cycle.

    python benchmarks/load_api.py [--users 8] [--duration 20] [--max-requests 3000]
                                  [--database-url postgresql+psycopg2://...]

Prints throughput, latency percentiles per operation and the error rate (any non-2xx or transport
error). Rate limits are switched off and the active-run cap raised: both would otherwise turn a
load test into a test of the limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
RACE = "2024-cup-phoenix-2"


def make_app():  # type: ignore[no-untyped-def]
    """uvicorn factory (run in the server process): the real app, fake launcher, env settings."""
    from api.app import create_app
    from api.launcher import FakeLauncher
    from api.settings import Settings

    return create_app(Settings(), launcher=FakeLauncher(races=[RACE]))


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    errors: int = 0
    requests: int = 0

    def record(self, op: str, started: float, status: int) -> None:
        self.latencies[op].append(time.perf_counter() - started)
        self.statuses[op][status] += 1
        self.requests += 1
        if not 200 <= status < 300:
            self.errors += 1


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", "")]
        ),
        "NASCAR_DFS_API_DATABASE_URL": database_url,
        "NASCAR_DFS_API_RATE_LIMITS_ENABLED": "false",
        "NASCAR_DFS_API_ACTIVE_RUNS_PER_KEY": "1000000",
        "NASCAR_DFS_API_SUBMIT_PER_DAY": "1000000",
    }


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "load_api:make_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "5",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=_server_env(database_url), cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
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
    from api.db import create_db_engine
    from api.keys import create_key

    engine = create_db_engine(database_url)
    try:
        return create_key(engine, f"load-{uuid.uuid4().hex[:8]}", "user", time.time()).secret_key
    finally:
        engine.dispose()


async def virtual_user(
    client: httpx.AsyncClient, tally: Tally, stop: float, args: argparse.Namespace
) -> None:
    payload = {"race_id": RACE, "spec": {"lineups": 20, "max_exposure": 0.6}}
    while time.monotonic() < stop and tally.requests < args.max_requests:
        started = time.perf_counter()
        try:
            resp = await client.post(
                "/v1/lineup-requests", json=payload, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            tally.record("submit", started, resp.status_code)
        except httpx.HTTPError:
            tally.record("submit", started, 0)
            continue
        location = resp.headers.get("location")
        for _ in range(args.polls_per_submit if location else 0):
            if time.monotonic() >= stop or tally.requests >= args.max_requests:
                return
            started = time.perf_counter()
            try:
                tally.record("poll", started, (await client.get(location)).status_code)
            except httpx.HTTPError:
                tally.record("poll", started, 0)
        started = time.perf_counter()
        try:
            tally.record("list", started, (await client.get("/v1/lineup-requests")).status_code)
        except httpx.HTTPError:
            tally.record("list", started, 0)


async def run_load(base_url: str, key: str, args: argparse.Namespace) -> tuple[Tally, float]:
    tally = Tally()
    limits = httpx.Limits(max_connections=args.users, max_keepalive_connections=args.users)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30, limits=limits
    ) as client:
        began = time.monotonic()
        stop = began + args.duration
        await asyncio.gather(*(virtual_user(client, tally, stop, args) for _ in range(args.users)))
        return tally, time.monotonic() - began


def report(tally: Tally, elapsed: float, args: argparse.Namespace, database: str) -> None:
    print(f"load_api: {args.users} users, {elapsed:.1f} s, database {database}, 1 uvicorn worker")
    print(
        f"requests {tally.requests}, throughput {tally.requests / elapsed:.1f} req/s, "
        f"errors {tally.errors} ({100 * tally.errors / max(tally.requests, 1):.2f} %)"
    )
    print(f"{'op':<8}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses")
    for op, values in tally.latencies.items():
        ms = np.asarray(values) * 1000
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses[op].items()))
        print(f"{op:<8}{len(ms):>7}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{ms.max():>9.1f}  {codes}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (upper bound)")
    parser.add_argument("--max-requests", type=int, default=3000, help="total requests (upper bound)")
    parser.add_argument("--polls-per-submit", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    if args.users < 1 or args.duration <= 0 or args.max_requests < 1 or args.polls_per_submit < 0:
        parser.error("--users, --duration and --max-requests must be positive, --polls-per-submit >= 0")

    with tempfile.TemporaryDirectory(prefix="load_api-") as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'api.db'}"
        port = _free_port()
        server = start_server(database_url, port, Path(tmp) / "server.log")
        try:
            key = create_api_key(database_url)
            tally, elapsed = asyncio.run(run_load(f"http://127.0.0.1:{port}", key, args))
        finally:
            server.terminate()
            server.wait(15)
        report(tally, elapsed, args, database_url.split(":", 1)[0])
    return 0 if tally.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
