"""The run-related contract against a real Dagster deployment (webserver + daemon + run launcher),
with the demo data (synthetic). Slow: a calibration takes minutes on 2 cores.

    python -m pytest -m slow nascar_dfs_tests/api/test_dagster_e2e.py
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.settings import Settings

from .dagster_stack import REPO, dagster_stack

pytestmark = [pytest.mark.slow, pytest.mark.dagster_e2e]
DEMO_RACE = "2026-cup-demo-mile-2"  # the demo slate's race


class Live:
    def __init__(self, client: TestClient, headers: dict[str, str], instance) -> None:  # type: ignore[no-untyped-def]
        self.client, self.headers, self.instance = client, headers, instance

    def submit(self, race: str, spec: dict, key: str | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(
            "/v1/lineup-requests",
            json={"race_id": race, "spec": spec},
            headers={**self.headers, "Idempotency-Key": key or uuid.uuid4().hex},
        )

    def wait(self, request_id: str, until: set[str], timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while time.monotonic() < deadline:
            got = self.client.get(f"/v1/lineup-requests/{request_id}", headers=self.headers).json()
            if not seen or seen[-1] != got["status"]:
                seen.append(got["status"])
            if got["status"] in until:
                got["seen"] = seen
                return got
            time.sleep(1.0)
        raise AssertionError(f"request {request_id} still {seen} after {timeout_s} s")

    def runs_of(self, request_id: str) -> list:
        import dagster as dg

        return list(self.instance.get_runs(filters=dg.RunsFilter(tags={"nascar/request_id": request_id})))


def _api_database(work: Path) -> str:
    """PostgreSQL (a fresh schema) when NASCAR_DFS_TEST_PG_DSN is set, as in CI; else SQLite."""
    import os

    import sqlalchemy as sa

    from api.db import create_db_engine

    dsn = os.environ.get("NASCAR_DFS_TEST_PG_DSN")
    if not dsn:
        return f"sqlite:///{work / 'api.db'}"
    schema = f"api_e2e_{uuid.uuid4().hex[:10]}"
    engine = create_db_engine(dsn)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    base = dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import os

    import dagster as dg

    work: Path = tmp_path_factory.mktemp("e2e")
    with dagster_stack(work) as stack:
        old = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "NASCAR_DFS_STORAGE")}
        os.environ.update({"DAGSTER_HOME": str(stack.home), "NASCAR_DFS_STORAGE": str(stack.storage)})
        try:
            settings = Settings(
                database_url=_api_database(work),
                dagster_url=stack.url,
                worker_interval_s=0.5,
                data_dir=REPO / "nascar_dfs" / "demo_data",
                submit_per_minute=100,
                active_runs_per_key=10,
            )
            app = create_app(settings)
            with TestClient(app) as client:
                key = create_key(app.state.ctx.engine, "e2e", "admin", time.time()).secret_key
                yield Live(client, {"Authorization": f"Bearer {key}"}, dg.DagsterInstance.get())
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def test_submit_to_dk_upload_csv_through_real_runs(live: Live) -> None:
    resp = live.submit(DEMO_RACE, {"lineups": 20, "max_exposure": 0.6, "scenarios": 2000})
    assert resp.status_code == 202, resp.text
    rid = resp.json()["id"]
    done = live.wait(rid, {"succeeded", "failed", "canceled"}, timeout_s=1500)
    assert done["status"] == "succeeded", done.get("error")
    assert done["seen"][0] == "queued" and "running" in done["seen"]
    rows = list(
        csv.reader(
            io.StringIO(
                live.client.get(f"/v1/lineup-requests/{rid}/dk-upload.csv", headers=live.headers).text
            )
        )
    )
    assert len(rows) == 21 and all(len(r) >= 6 for r in rows)
    lineups = live.client.get(f"/v1/lineup-requests/{rid}/lineups", headers=live.headers).json()["lineups"]
    assert len(lineups) == 20
    for run in live.runs_of(rid):
        if run.job_name == "lineup_job":
            assert run.tags["dagster/partition"] == f"{DEMO_RACE}|{done['spec_key']}"
            assert run.tags["dagster/partition/race"] == DEMO_RACE
            assert run.tags["dagster/partition/spec"] == done["spec_key"]


def test_preview_reads_the_calibrated_model(live: Live) -> None:
    """Runs after the first test calibrated the demo race's model."""
    spec = {"lineups": 5, "views": [{"kind": "finish_top", "driver": "Demo Driver 02", "k": 10}]}
    resp = live.client.post(
        "/v1/specs/preview", json={"race_id": DEMO_RACE, "spec": spec}, headers=live.headers
    )
    assert resp.status_code == 200, resp.text
    assert 0.0 < resp.json()["acceptance_rate"] < 1.0


def test_concurrent_duplicates_make_one_real_run(live: Live) -> None:
    import concurrent.futures as cf

    key = uuid.uuid4().hex
    spec = {"lineups": 5, "max_exposure": 0.8, "scenarios": 1000}
    with cf.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: live.submit(DEMO_RACE, spec, key), range(8)))
    ids = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(ids) == 1
    (rid,) = ids
    live.wait(rid, {"succeeded", "failed", "canceled"}, timeout_s=900)
    assert len([r for r in live.runs_of(rid) if "dagster/parent_run_id" not in r.tags]) <= 1


def test_cancel_terminates_the_real_run(live: Live) -> None:
    # Another race has no model yet: its calibration run is long enough to be canceled mid-way.
    races = [r["race_id"] for r in live.client.get("/v1/races", headers=live.headers).json()["items"]]
    race = next(r for r in races if r != DEMO_RACE and r.startswith("2026-cup-demo"))
    rid = live.submit(race, {"lineups": 3}).json()["id"]
    live.wait(rid, {"running"}, timeout_s=600)
    resp = live.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=live.headers)
    assert resp.status_code == 202 and resp.json()["status"] == "canceling"
    done = live.wait(rid, {"canceled", "succeeded", "failed"}, timeout_s=300)
    assert done["status"] == "canceled"
    assert any(r.status.value == "CANCELED" for r in live.runs_of(rid))
