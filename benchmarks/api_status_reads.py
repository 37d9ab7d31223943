"""Status-read latency of a real API server on loopback: GET /v1/lineup-requests/{id} at a fixed
request rate (default 100 req/s for 30 s), open loop, reporting p50/p95/p99 (target p99 <= 50 ms).

    python benchmarks/api_status_reads.py [--rate 100] [--seconds 30] [--database-url URL]
                                          [--workers N] [--owners 100]

The server is uvicorn in a subprocess whose runs stay queued (benchmarks/queued_launcher.py;
status reads never touch Dagster: they read the API's own tables), SQLite by default or
PostgreSQL via --database-url. The reads come from --owners API keys round-robin, each polling
its own request, with the default limits on: every read authenticates, counts against its
owner's read limit and loads the request.
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
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RACE = "2024-cup-phoenix-2"


def make_app():  # type: ignore[no-untyped-def]
    """uvicorn factory: the real app, runs that stay queued (settings from the environment)."""
    from queued_launcher import QueuedLauncher

    from api.app import create_app
    from api.core.config import Settings

    return create_app(Settings(), launcher=QueuedLauncher(races=[RACE]))


def _seed(database_url: str, owners: int) -> list[str]:
    from api.core.db import create_db_engine, migrate
    from api.services.keys import create_key

    engine = create_db_engine(database_url)
    migrate(engine, time.time())
    tag = uuid.uuid4().hex[:6]
    keys = [create_key(engine, f"bench-{tag}-{i}", "user", time.time()).secret_key for i in range(owners)]
    engine.dispose()
    return keys


async def _drive(base: str, keys: list[str], rate: float, seconds: float) -> tuple[list[float], int]:
    """One request per owner, then GETs of those requests round-robin at `rate` (open loop)."""
    async with httpx.AsyncClient(
        base_url=base, timeout=5.0, limits=httpx.Limits(max_connections=64)
    ) as client:
        targets: list[tuple[str, dict[str, str]]] = []
        for key in keys:
            headers = {"Authorization": f"Bearer {key}"}
            created = await client.post(
                "/v1/lineup-requests",
                json={"race_id": RACE, "spec": {"lineups": 20}},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            created.raise_for_status()
            targets.append((created.headers["location"], headers))
        latencies: list[float] = []
        errors = 0

        async def one(url: str, headers: dict[str, str]) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                resp = await client.get(url, headers=headers)
                if resp.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - t0)

        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*targets[i % len(targets)])))
        await asyncio.gather(*tasks)
        return latencies, errors


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--owners",
        type=int,
        default=100,
        help="API keys (owners) polling one request each; 100 at 100 req/s = 60 reads/min each, "
        "inside the default read limit of 120/min, which stays on",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="api-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'api.db'}"
    keys = _seed(database_url, args.owners)
    env = {
        **os.environ,
        "NASCAR_DFS_API_DATABASE_URL": database_url,
        "PYTHONPATH": f"{REPO}:{REPO / 'benchmarks'}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api_status_reads:make_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(args.workers),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "server.log").open("wb"),
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        latencies, errors = asyncio.run(_drive(base, keys, args.rate, args.seconds))
    finally:
        server.terminate()
        server.wait(10)
    ms = np.array(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(
        f"status reads: {len(ms)} requests at {args.rate:g}/s for {args.seconds:g} s ({backend}, "
        f"{args.workers} uvicorn worker(s), {args.owners} owners), errors {errors}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {ms.max():.1f}  (target p99 <= 50)")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
