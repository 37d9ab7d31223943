"""The run-related contract against a real Dagster deployment (webserver + daemon + run launcher)
on a real PostgreSQL server (Dagster's instance storage and the API's tables), with the demo data
(synthetic) and the real assets and jobs; the calibration uses the demo's short chain
(e2e_defs.py). Run after the default suite by scripts/test.sh:

    python -m pytest -m dagster_e2e nascar_dfs_tests/api/test_dagster_e2e.py
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.config import Settings
from api.services.keys import create_key

from .dagster_stack import E2E_MODULE, POSTGRES_INSTANCE, REPO, dagster_stack

pytestmark = [pytest.mark.slow, pytest.mark.dagster_e2e]
DEMO_RACE = "2026-cup-demo-mile-2"  # the demo slate's race


class Live:
    def __init__(self, client: TestClient, headers: dict[str, str], instance, replica) -> None:  # type: ignore[no-untyped-def]
        self.client, self.headers, self.instance = client, headers, instance
        self.replica = replica  # starts a second API process on the same database and Dagster

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


@contextmanager
def _postgres_for_dagster_and_api() -> Iterator[tuple[dict[str, str], str] | None]:
    """A private PostgreSQL server holding the Dagster instance (database `postgres`) and the
    API's tables (database `api`), as in production; None when no PostgreSQL binaries exist
    (then both use SQLite files). scripts/test.sh installs them, so CI always has them."""
    import sqlalchemy as sa

    from nascar_dfs_tests.reliability.servers import postgres_available, private_postgres

    if not postgres_available():
        yield None
        return
    with private_postgres() as pg:
        engine = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE api"))
        engine.dispose()
        dagster_env = {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "trust",  # trust authentication: any password
            "DAGSTER_PG_DB": "postgres",
        }
        yield dagster_env, pg.url.rsplit("/", 1)[0] + "/api"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import os

    import dagster as dg

    work: Path = tmp_path_factory.mktemp("e2e")
    with _postgres_for_dagster_and_api() as pg:
        dagster_env, database_url = pg if pg else ({}, f"sqlite:///{work / 'api.db'}")
        instance_yaml = POSTGRES_INSTANCE if pg else REPO / "dagster.yaml"
        with dagster_stack(work, dagster_env, module=E2E_MODULE, instance_yaml=instance_yaml) as stack:
            names = ("DAGSTER_HOME", "NASCAR_DFS_STORAGE", *dagster_env)
            old = {k: os.environ.get(k) for k in names}
            os.environ.update(
                {"DAGSTER_HOME": str(stack.home), "NASCAR_DFS_STORAGE": str(stack.storage), **dagster_env}
            )
            try:
                settings = Settings(
                    database_url=database_url,
                    dagster_url=stack.url,
                    worker_interval_s=0.5,
                    data_dir=REPO / "nascar_dfs" / "demo_data",
                    submit_per_minute=100,
                    active_runs_per_key=10,
                )
                app = create_app(settings)

                def replica():  # type: ignore[no-untyped-def]
                    from nascar_dfs_tests.reliability.servers import running_api

                    env = {**stack.env, "NASCAR_DFS_API_DATA_DIR": str(settings.data_dir)}
                    return running_api(
                        database_url,
                        work / "replica.log",
                        factory="api.app:app_from_env",
                        env=env,
                        dagster_url=stack.url,
                        worker_interval_s="0.5",
                    )

                with TestClient(app) as client:
                    key = create_key(app.state.ctx.engine, "e2e", "admin", time.time()).secret_key
                    instance = dg.DagsterInstance.get()
                    yield Live(client, {"Authorization": f"Bearer {key}"}, instance, replica)
                    instance.dispose()
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v


@pytest.mark.timeout(900)
def test_submit_to_dk_upload_csv_through_real_runs(live: Live) -> None:
    resp = live.submit(DEMO_RACE, {"lineups": 20, "max_exposure": 0.6, "scenarios": 2000})
    assert resp.status_code == 202, resp.text
    assert int(resp.headers["retry-after"]) > 0
    rid = resp.json()["id"]
    assert resp.headers["location"] == f"/v1/lineup-requests/{rid}"
    # The model must be calibrated first, so the results cannot be there yet (api.md §3, 2).
    for result in ("lineups", "dk-upload.csv"):
        early = live.client.get(f"/v1/lineup-requests/{rid}/{result}", headers=live.headers)
        assert early.status_code == 409 and early.json()["type"].endswith("/run-not-finished")
        assert int(early.headers["retry-after"]) > 0
    done = live.wait(rid, {"succeeded", "failed", "canceled"}, timeout_s=780)
    assert done["status"] == "succeeded", done.get("error")
    assert done["seen"][0] == "queued" and "running" in done["seen"]
    assert done["progress"] == {"phase": "optimization", "percent": 100.0}
    upload = live.client.get(f"/v1/lineup-requests/{rid}/dk-upload.csv", headers=live.headers)
    assert upload.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(upload.text)))
    assert len(rows) == 21 and all(len(r) >= 6 for r in rows)
    lineups = live.client.get(f"/v1/lineup-requests/{rid}/lineups", headers=live.headers).json()["lineups"]
    assert len(lineups) == 20
    # The JSON and the CSV are one build's (the CSV written from exactly these lineups).
    json_ids = [frozenset(d["dk_id"] for d in lu["drivers"]) for lu in lineups]
    assert json_ids == [frozenset(int(cell) for cell in row[:6]) for row in rows[1:]]
    runs = live.runs_of(rid)
    assert {r.job_name for r in runs} >= {"calibration_job", "lineup_job"}
    for run in runs:
        # The HTTP request id reaches the run, so worker logs can be joined to the API's (§8).
        assert run.tags["nascar/http_request_id"] == resp.headers["x-request-id"]
        if run.job_name == "lineup_job":
            assert run.tags["dagster/partition"] == f"{DEMO_RACE}|{done['spec_key']}"
            assert run.tags["dagster/partition/race"] == DEMO_RACE
            assert run.tags["dagster/partition/spec"] == done["spec_key"]
    # Cancel after success: a conflict that changes nothing (§3, 3).
    late = live.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=live.headers)
    assert late.status_code == 409 and late.json()["type"].endswith("/run-already-finished")
    again = live.client.get(f"/v1/lineup-requests/{rid}", headers=live.headers).json()
    assert again["status"] == "succeeded" and not again["cancel_requested"]
    metrics = live.client.get("/metrics").text
    assert 'dfs_lineup_requests_finished_total{outcome="succeeded"}' in metrics


def test_health_sees_the_real_database_dagster_storage_and_daemon(live: Live) -> None:
    deadline = time.monotonic() + 60
    while True:  # the checks are time-boxed to 1 s; on a loaded machine one may miss a round
        resp = live.client.get("/v1/health", headers=live.headers)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert resp.status_code == 200, resp.text
    checks = resp.json()["checks"]
    for name in ("database:responseTime", "dagster-storage:responseTime", "dagster-daemon:heartbeat"):
        assert checks[name][0]["status"] == "pass", checks
    ready = live.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] in ("pass", "warn")


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
    live.wait(rid, {"succeeded", "failed", "canceled"}, timeout_s=300)
    assert len([r for r in live.runs_of(rid) if "dagster/parent_run_id" not in r.tags]) <= 1


def test_a_failing_run_is_a_failed_request_with_problem_details(live: Live) -> None:
    """§3, 4: the six dearest demo drivers (66,000 in salary) locked cannot fit the 50,000 cap:
    the spec is well formed, so the API accepts it, and the real lineup run fails."""
    dearest = ["Demo Driver 02", "Demo Driver 21", "Demo Driver 23", "Demo Driver 34"]
    spec = {"lineups": 2, "scenarios": 500, "locks": [*dearest, "Demo Driver 33", "Demo Driver 36"]}
    resp = live.submit(DEMO_RACE, spec)
    assert resp.status_code == 202, resp.text
    rid = resp.json()["id"]
    done = live.wait(rid, {"succeeded", "failed", "canceled"}, timeout_s=300)
    assert done["status"] == "failed"
    error = done["error"]
    assert error["type"].endswith("/run-failed") and error["status"] >= 400 and error["detail"]
    assert "Traceback" not in error["detail"] and "/work" not in error["detail"]
    # The root cause's own sentence, not Dagster's "Error occurred while executing op ..." around it.
    assert not error["detail"].startswith("Error occurred while executing"), error["detail"]
    assert any(r.status.value == "FAILURE" for r in live.runs_of(rid))
    for result in ("lineups", "dk-upload.csv"):
        got = live.client.get(f"/v1/lineup-requests/{rid}/{result}", headers=live.headers)
        assert got.status_code == 409 and got.json()["type"].endswith("/run-failed")


def test_cancel_terminates_the_real_run(live: Live) -> None:
    # Another race has no model yet: its calibration run is long enough to be canceled mid-way.
    races = [r["race_id"] for r in live.client.get("/v1/races", headers=live.headers).json()["items"]]
    race = next(r for r in races if r != DEMO_RACE and r.startswith("2026-cup-demo"))
    rid = live.submit(race, {"lineups": 3}).json()["id"]
    live.wait(rid, {"running"}, timeout_s=300)
    resp = live.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=live.headers)
    assert resp.status_code == 202 and resp.json()["status"] == "canceling"
    done = live.wait(rid, {"canceled", "succeeded", "failed"}, timeout_s=240)
    assert done["status"] == "canceled"
    assert any(r.status.value == "CANCELED" for r in live.runs_of(rid))
    # Canceled: no results, and a second cancel is a no-op answered 200 (§3, 3).
    for result in ("lineups", "dk-upload.csv"):
        gone = live.client.get(f"/v1/lineup-requests/{rid}/{result}", headers=live.headers)
        assert gone.status_code == 409 and gone.json()["type"].endswith("/run-canceled")
    runs_before = len(live.runs_of(rid))
    second = live.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=live.headers)
    assert second.status_code == 200 and second.json()["status"] == "canceled"
    assert len(live.runs_of(rid)) == runs_before


@pytest.mark.timeout(900)
def test_two_api_replicas_get_exactly_one_lineup_run_after_the_calibration(live: Live) -> None:
    """Two API processes on one database, both relaying and reconciling the same request: the
    lineup run after its calibration is Dagster's to launch (the run-status sensor, keyed by the
    request id), so there is one, however many replicas watch the request (issue 14)."""
    import httpx

    # A new slate (one average changed) makes the request rebuild race_slate first: a calibration
    # run, then the lineup run.
    slate = (REPO / "nascar_dfs" / "demo_data" / "DKSalaries.csv").read_text()
    changed = slate.replace(",DTA,36.89,", ",DTA,36.91,", 1)
    assert changed != slate
    with live.replica() as other:
        put = live.client.put(
            f"/v1/races/{DEMO_RACE}/slate",
            content=changed.encode(),
            headers={**live.headers, "Content-Type": "text/csv"},
        )
        assert put.status_code == 200, put.text
        resp = live.submit(DEMO_RACE, {"lineups": 4, "max_exposure": 0.9, "scenarios": 1000})
        assert resp.status_code == 202, resp.text
        rid = resp.json()["id"]
        with httpx.Client(base_url=other.base_url, headers=live.headers, timeout=30) as replica:
            deadline = time.monotonic() + 780
            while (got := replica.get(f"/v1/lineup-requests/{rid}").json())["status"] not in (
                "succeeded",
                "failed",
                "canceled",
            ):
                assert time.monotonic() < deadline, got
                time.sleep(1.0)
            assert got["status"] == "succeeded", got.get("error")
            time.sleep(3)  # more passes of both reconcilers after the success: still one run
            assert replica.get(f"/v1/lineup-requests/{rid}/dk-upload.csv").status_code == 200
    roots = [r for r in live.runs_of(rid) if "dagster/parent_run_id" not in r.tags]
    assert sorted(r.job_name for r in roots) == ["calibration_job", "lineup_job"]
    (lineup,) = [r for r in roots if r.job_name == "lineup_job"]
    assert lineup.tags["dagster/sensor_name"] == "lineups_after_calibration"
    assert lineup.tags["dagster/run_key"] == rid
    assert lineup.tags["nascar/owner"] == "e2e" and lineup.tags["nascar/step"] == "lineups"
    history = live.client.get(f"/v1/lineup-requests/{rid}", headers=live.headers).json()["history"]
    assert [(h["step"], h["status"]) for h in history] == [
        ("calibration", "succeeded"),
        ("lineups", "succeeded"),
    ]
