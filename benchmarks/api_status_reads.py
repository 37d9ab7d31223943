"""Status-read latency of a real API server on loopback: GET /v1/lineup-requests/{id} at a fixed
request rate (default 100 req/s for 30 s), open loop, reporting p50/p95/p99 (target p99 <= 50 ms).

    python benchmarks/api_status_reads.py [--rate 100] [--seconds 30] [--database-url URL] [--workers N]

The server is uvicorn in a subprocess with the fake launcher (status reads never touch Dagster:
they read the API's own table), SQLite by default or PostgreSQL via --database-url.
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
    """uvicorn factory: the real app with the fake launcher (settings from the environment)."""
    from api.app import create_app
    from api.launcher import FakeLauncher
    from api.settings import Settings

    return create_app(Settings(), launcher=FakeLauncher(races=[RACE]))


def _seed(database_url: str) -> tuple[str, str]:
    from api.db import create_db_engine, migrate
    from api.keys import create_key

    engine = create_db_engine(database_url)
    migrate(engine, time.time())
    key = create_key(engine, f"bench-{uuid.uuid4().hex[:6]}", "user", time.time()).secret_key
    engine.dispose()
    return key, database_url


async def _drive(base: str, headers: dict[str, str], rate: float, seconds: float) -> tuple[list[float], int]:
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=5.0, limits=httpx.Limits(max_connections=64)
    ) as client:
        created = await client.post(
            "/v1/lineup-requests",
            json={"race_id": RACE, "spec": {"lineups": 20}},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        created.raise_for_status()
        url = created.headers["location"]
        latencies: list[float] = []
        errors = 0

        async def one() -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                resp = await client.get(url)
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
            tasks.append(asyncio.create_task(one()))
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
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="api-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'api.db'}"
    key, _ = _seed(database_url)
    env = {
        **os.environ,
        "NASCAR_DFS_API_DATABASE_URL": database_url,
        "NASCAR_DFS_API_READ_PER_MINUTE": "1000000",
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
        latencies, errors = asyncio.run(
            _drive(base, {"Authorization": f"Bearer {key}"}, args.rate, args.seconds)
        )
    finally:
        server.terminate()
        server.wait(10)
    ms = np.array(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(
        f"status reads: {len(ms)} requests at {args.rate:g}/s for {args.seconds:g} s ({backend}, "
        f"{args.workers} uvicorn worker(s)), errors {errors}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {ms.max():.1f}  (target p99 <= 50)")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
