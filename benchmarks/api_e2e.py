"""End to end through a real server: submit -> 150 lineups ready, p50/p95 over N requests.

A real Dagster deployment (webserver + daemon + run launcher, the project's dagster.yaml,
demo data) and the API under uvicorn on loopback with the Dagster launcher. The race's model is
calibrated first (one warm-up request, not timed; the demo's short chain unless --full-fit),
then N requests with distinct specs (so each needs a new scenario set and optimisation) are
submitted one after another and polled every --poll seconds until succeeded.

    python benchmarks/api_e2e.py [--requests 10] [--lineups 150] [--scenarios 10000]
                                 [--postgres] [--full-fit]

With --postgres, Dagster's instance storage and the API's tables live on a private PostgreSQL
server (as in production); default: SQLite files (the embedded default). Each request's time is
split from Dagster's own event log: API launch (submit -> run created), queue (created ->
STARTING: the daemon's dequeue), worker boot (STARTING -> RUN_START: process start and imports),
each step, and API pick-up (RUN_SUCCESS -> the client sees `succeeded`: reconciler and poll).

Targets (issue 6): p50 <= 30 s, p95 <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.stack import POSTGRES_INSTANCE, dagster_stack, free_port, private_postgres  # noqa: E402

QUICK_MODULE = "benchmarks.quick_defs"  # the real definitions with the demo's short chain

RACE = "2026-cup-demo-mile-2"  # the demo slate's race


def _wait_done(client: httpx.Client, url: str, timeout_s: float, poll_s: float) -> tuple[dict, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = client.get(url).json()
        if got["done"]:
            return got, time.time()
        time.sleep(poll_s)
    raise TimeoutError(f"{url} not done after {timeout_s} s")


def _submit(client: httpx.Client, spec: dict) -> tuple[str, str]:
    resp = client.post(
        "/v1/lineup-requests",
        json={"race_id": RACE, "spec": spec},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    resp.raise_for_status()
    return resp.headers["location"], resp.json()["id"]


def _phases(instance, request_id: str, submitted: float, seen_done: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seconds spent in each phase of the request's lineup run, from Dagster's event log."""
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(tags={"nascar/request_id": request_id}))
    if not runs:
        return {}
    run = runs[0]
    record = instance.get_run_record_by_id(run.run_id)
    created = record.create_timestamp.timestamp()
    at: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        at.setdefault(kind, entry.timestamp)
        if kind == "STEP_START":
            steps[f"start:{entry.step_key}"] = entry.timestamp
        elif kind == "STEP_SUCCESS":
            steps[entry.step_key] = entry.timestamp - steps.get(f"start:{entry.step_key}", entry.timestamp)
    out = {"api launch": created - submitted}
    if "PIPELINE_STARTING" in at:
        out["queue"] = at["PIPELINE_STARTING"] - created
        if "PIPELINE_START" in at:
            out["worker boot"] = at["PIPELINE_START"] - at["PIPELINE_STARTING"]
    out.update({k: v for k, v in steps.items() if not k.startswith("start:")})
    if "PIPELINE_SUCCESS" in at:
        out["api pick-up"] = seen_done - at["PIPELINE_SUCCESS"]
    return out


@contextlib.contextmanager
def _storage(work: Path, postgres: bool) -> Iterator[tuple[dict[str, str], str, Path]]:
    """(Dagster env, API database URL, instance YAML): a private PostgreSQL server or SQLite."""
    if not postgres:
        yield {}, f"sqlite:///{work / 'api.db'}", REPO / "dagster.yaml"
        return
    import sqlalchemy as sa

    with private_postgres() as pg:
        engine = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE api"))
        engine.dispose()
        env = {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "trust",
            "DAGSTER_PG_DB": "postgres",
        }
        yield env, pg.url.rsplit("/", 1)[0] + "/api", POSTGRES_INSTANCE


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--lineups", type=int, default=150)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--poll", type=float, default=0.5, help="client poll interval, seconds")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL for Dagster and the API")
    parser.add_argument("--full-fit", action="store_true", help="warm-up with the model's default chain")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="api-e2e-bench-"))
    module = "nascar_dfs.definitions" if args.full_fit else QUICK_MODULE
    seconds: list[float] = []
    outcomes: list[str] = []
    phases: dict[str, list[float]] = defaultdict(list)
    with (
        _storage(work, args.postgres) as (dagster_env, database_url, instance_yaml),
        dagster_stack(work, dagster_env, module=module, instance_yaml=instance_yaml) as stack,
    ):
        os.environ.update({"DAGSTER_HOME": str(stack.home), **dagster_env})
        import dagster as dg

        from api.core.db import create_db_engine, migrate
        from api.services.keys import create_key

        engine = create_db_engine(database_url)
        migrate(engine, time.time())
        key = create_key(engine, "bench", "user", time.time()).secret_key
        engine.dispose()
        port = free_port()
        env = {
            **stack.env,
            "NASCAR_DFS_API_DATABASE_URL": database_url,
            "NASCAR_DFS_API_DAGSTER_URL": stack.url,
            "NASCAR_DFS_API_DATA_DIR": str(REPO / "nascar_dfs" / "demo_data"),
            "NASCAR_DFS_API_WORKER_INTERVAL_S": "0.25",
            "NASCAR_DFS_API_SUBMIT_PER_MINUTE": "1000",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=REPO,
            stdout=(work / "api.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        instance = dg.DagsterInstance.get()
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10
            ) as client:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if client.get("/livez").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.3)
                t0 = time.monotonic()
                url, _ = _submit(client, {"lineups": 5, "scenarios": 1000})
                warm, _ = _wait_done(client, url, 3600, 1.0)
                print(
                    f"warm-up (calibration + first lineups): {warm['status']} "
                    f"in {time.monotonic() - t0:.1f} s",
                    flush=True,
                )
                if warm["status"] != "succeeded":
                    print(f"warm-up failed: {warm.get('error')}")
                    return 1
                for i in range(args.requests):
                    spec = {
                        "lineups": args.lineups,
                        "scenarios": args.scenarios,
                        "max_exposure": round(0.5 + 0.01 * i, 2),
                    }
                    submitted, start = time.time(), time.monotonic()
                    url, rid = _submit(client, spec)
                    done, seen_done = _wait_done(client, url, 1800, args.poll)
                    seconds.append(time.monotonic() - start)
                    outcomes.append(done["status"])
                    split = _phases(instance, rid, submitted, seen_done)
                    for name, value in split.items():
                        phases[name].append(value)
                    detail = ", ".join(f"{k} {v:.1f}" for k, v in split.items())
                    print(f"request {i + 1}: {done['status']} in {seconds[-1]:.1f} s ({detail})", flush=True)
        finally:
            instance.dispose()
            server.terminate()
            server.wait(20)
    p50, p95 = np.percentile(seconds, [50, 95])
    print(
        f"submit -> {args.lineups} lineups ready over {len(seconds)} requests "
        f"({'PostgreSQL' if args.postgres else 'SQLite'}): p50 {p50:.1f} s, p95 {p95:.1f} s "
        f"(targets 30 / 60 s); {outcomes.count('succeeded')} succeeded; load {os.getloadavg()[0]:.1f}"
    )
    print("median seconds by phase: " + ", ".join(f"{k} {np.median(v):.1f}" for k, v in phases.items()))
    return 0 if outcomes.count("succeeded") == len(outcomes) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
