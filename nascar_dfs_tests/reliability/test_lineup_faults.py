"""Fault injection on real lineup requests: the real API (uvicorn, Dagster launcher), a Dagster
webserver and daemon serving the platform's own code location (pipeline_defs.py: every asset and
job, a short MCMC chain) on deploy/postgres/dagster.yaml, PostgreSQL on loopback for both (a server
of the test's own), and the demo data.

What is broken: the run worker of a running lineup run (SIGKILL = crash, SIGTERM = eviction), and
a user cancel in each phase (queued, calibrating, simulating, optimizing). To break a run *inside*
a phase on two shared cores, the assets hold at the start of a phase while a gate file exists
(phase_gate.py: the phase_hooks resource of pipeline_defs.py, its folder given through
NASCAR_DFS_TEST_PHASE_GATE_DIR); a run is kept queued by a tag concurrency limit of 0 on one API
key's owner (added to the instance).

The module calibrates one race once (the first request that needs the model); every other test
reuses it. Each test has its own timeout.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from api.core.db import create_db_engine
from api.services.keys import create_key
from nascar_dfs.platform.io_manager import output_path

from .conftest import REPO
from .phase_gate import GATE_DIR_ENV
from .servers import ApiProcess, postgres_available, postgres_instance_yaml, private_postgres, start_api
from .servers import dagster_processes as dagster_servers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.fault_injection,
    pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries not installed"),
]

MODULE = "nascar_dfs_tests.reliability.pipeline_defs"
DEMO_RACE = "2026-cup-demo-mile-2"  # the race of the demo slate (DKSalaries.csv)
HELD_OWNER = "held-in-queue"  # its runs never leave the queue (tag concurrency limit 0)
DK_CAP = 50_000
TERMINAL = {"succeeded", "failed", "canceled"}
DONE_RUN = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@dataclass
class Platform:
    api: ApiProcess
    instance: DagsterInstance
    gates: Path
    storage: Path
    headers: dict[str, dict[str, str]]  # owner -> Authorization header
    dagster_port: int

    def client(self, owner: str = "alice") -> httpx.Client:
        return httpx.Client(base_url=self.api.base_url, headers=self.headers[owner], timeout=30)

    def submit(self, race: str, spec: dict[str, Any], owner: str = "alice") -> dict[str, Any]:
        with self.client(owner) as c:
            resp = c.post(
                "/v1/lineup-requests",
                json={"race_id": race, "spec": spec},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        assert resp.status_code == 202, resp.text
        return resp.json()

    def get(self, request_id: str, owner: str = "alice") -> dict[str, Any]:
        with self.client(owner) as c:
            resp = c.get(f"/v1/lineup-requests/{request_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait(self, what: str, condition, timeout_s: float, every_s: float = 0.5):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = condition()
            if got:
                return got
            if self.api.proc.poll() is not None:
                raise AssertionError(f"the API exited:\n{self.api.log.read_text()[-3000:]}")
            time.sleep(every_s)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def wait_request(
        self, request_id: str, statuses: set[str], timeout_s: float, owner: str = "alice"
    ) -> dict:
        def reached() -> dict | None:
            got = self.get(request_id, owner)
            return got if got["status"] in statuses else None

        return self.wait(f"request {request_id} to be {statuses}", reached, timeout_s, every_s=1.0)

    def runs(self, request_id: str) -> list[Any]:
        return list(self.instance.get_runs(RunsFilter(tags={"nascar/request_id": request_id})))

    # The phase gate (phase_gate.py).
    def hold(self, phase: str) -> None:
        (self.gates / f"{phase}.reached").unlink(missing_ok=True)
        (self.gates / f"{phase}.hold").touch()

    def release(self, phase: str) -> None:
        (self.gates / f"{phase}.hold").unlink(missing_ok=True)

    def pid_in(self, phase: str, timeout_s: float) -> int:
        marker = self.gates / f"{phase}.reached"
        self.wait(f"a run to reach {phase}", marker.exists, timeout_s)
        return int(marker.read_text().strip() or "0") or self.pid_in(phase, 5)

    def cancel(self, request_id: str, owner: str = "alice") -> None:
        with self.client(owner) as c:
            resp = c.post(f"/v1/lineup-requests/{request_id}/cancel")
        assert resp.status_code == 202, resp.text


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("pipeline-faults")
    gates, storage = work / "gates", work / "storage"
    gates.mkdir()
    with private_postgres() as pg:
        held = [{"key": "nascar/owner", "value": HELD_OWNER, "limit": 0}]
        instance_yaml = postgres_instance_yaml(pg, "dagster", held)
        admin = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE api"))
        admin.dispose()
        api_db = pg.url.rsplit("/", 1)[0] + "/api"
        env = {
            "NASCAR_DFS_STORAGE": str(storage),
            GATE_DIR_ENV: str(gates),
            # scripts/test.sh exports NUMBA_OPT=0 for the default suite; a graph compiled at level
            # 0 samples ~37x slower per gradient (fit.py), which the short fit would pay in full.
            "NUMBA_OPT": "3",
        }
        with dagster_servers(work, MODULE, instance_yaml, env) as dagster:
            api_env = {**dagster.env, "NASCAR_DFS_API_DATA_DIR": str(REPO / "nascar_dfs" / "demo_data")}
            api = start_api(
                api_db,
                work / "api.log",
                factory="api.app:app_from_env",
                env=api_env,
                dagster_url=dagster.url,
                worker_interval_s="0.5",
            )
            engine = create_db_engine(api_db)
            headers = {
                owner: {
                    "Authorization": f"Bearer {create_key(engine, owner, 'user', time.time()).secret_key}"
                }
                for owner in ("alice", HELD_OWNER)
            }
            engine.dispose()
            try:
                with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster.home))) as instance:
                    yield Platform(api, instance, gates, storage, headers, dagster.port)
            finally:
                for hold in gates.glob("*.hold"):
                    hold.unlink()
                api.stop()


def _other_race(platform: Platform) -> str:
    with platform.client() as c:
        races = [r["race_id"] for r in c.get("/v1/races").json()["items"]]
    return next(r for r in races if r != DEMO_RACE and r.startswith("2026-cup-demo"))


def _assert_nothing_served(platform: Platform, done: dict[str, Any], owner: str = "alice") -> None:
    """409 for both result endpoints, no result file in storage, no lineups materialization."""
    rid, race, spec = done["id"], done["race_id"], done["spec_key"]
    with platform.client(owner) as c:
        for path in ("lineups", "dk-upload.csv"):
            resp = c.get(f"/v1/lineup-requests/{rid}/{path}")
            assert resp.status_code == 409, resp.text
            assert resp.headers["content-type"].startswith("application/problem+json")
    for asset in ("lineups", "dk_upload_csv"):
        assert not output_path(platform.storage, asset, [race, spec]).exists(), f"partial {asset} stored"
    for run in platform.runs(rid):
        mats = platform.instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records
        names = {r.event_log_entry.asset_materialization.asset_key.path[-1] for r in mats}
        assert not names & {"lineups", "dk_upload_csv"}, names


@pytest.mark.timeout(180)
def test_cancel_while_queued_ends_canceled_and_never_starts(platform: Platform) -> None:
    done_before = platform.submit(DEMO_RACE, {"lineups": 3, "scenarios": 1000}, owner=HELD_OWNER)
    rid = done_before["id"]

    def queued_in_dagster() -> bool:
        runs = platform.runs(rid)
        return bool(runs) and all(r.status == DagsterRunStatus.QUEUED for r in runs)

    platform.wait("the run to be queued in Dagster", queued_in_dagster, 120)
    time.sleep(3)  # several dequeue intervals (1 s): it stays queued
    assert queued_in_dagster()
    history = platform.get(rid, HELD_OWNER)["history"]
    assert [(h["step"], h["status"]) for h in history] == [("calibration", "queued")]

    platform.cancel(rid, HELD_OWNER)
    done = platform.wait_request(rid, TERMINAL, 90, HELD_OWNER)
    assert done["status"] == "canceled"
    (run,) = platform.runs(rid)
    assert platform.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    assert not platform.instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START).records
    assert [h["status"] for h in done["history"]] == ["canceled"]
    _assert_nothing_served(platform, done, HELD_OWNER)


@pytest.mark.timeout(240)
def test_cancel_while_calibrating_stores_no_model_and_serves_nothing(platform: Platform) -> None:
    race = _other_race(platform)  # no model yet: the request starts with a calibration run
    platform.hold("calibrating")
    try:
        rid = platform.submit(race, {"lineups": 3, "scenarios": 1000})["id"]
        platform.pid_in("calibrating", 180)
        assert platform.get(rid)["progress"]["phase"] == "calibration"
        platform.cancel(rid)
        done = platform.wait_request(rid, TERMINAL, 90)
    finally:
        platform.release("calibrating")
    assert done["status"] == "canceled"
    runs = platform.runs(rid)
    assert [r.tags.get("nascar/step") for r in runs] == ["calibration"]  # no lineup run followed
    assert platform.instance.get_run_by_id(runs[0].run_id).status == DagsterRunStatus.CANCELED
    mats = platform.instance.get_records_for_run(
        runs[0].run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    assert "calibrated_model" not in {
        r.event_log_entry.asset_materialization.asset_key.path[-1] for r in mats
    }
    assert [(h["step"], h["status"]) for h in done["history"]] == [("calibration", "canceled")]
    _assert_nothing_served(platform, done)


def _assert_valid_lineups(platform: Platform, done: dict[str, Any], expected: int) -> None:
    with platform.client() as c:
        lineups = c.get(f"/v1/lineup-requests/{done['id']}/lineups").json()["lineups"]
        upload = c.get(f"/v1/lineup-requests/{done['id']}/dk-upload.csv")
    assert len(lineups) == expected
    for lineup in lineups:
        drivers = lineup["drivers"]
        assert len(drivers) == 6 and len({d["dk_id"] for d in drivers}) == 6, drivers
        assert all(d["salary"] is not None for d in drivers)
        assert sum(d["salary"] for d in drivers) <= DK_CAP
    assert upload.status_code == 200
    rows = list(csv.reader(io.StringIO(upload.text)))
    assert len(rows) == expected + 1  # header + one row per lineup


@pytest.mark.timeout(900)  # the first request of the module calibrates: minutes on loaded cores
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_run_worker_of_a_lineup_request_is_retried_to_valid_lineups(
    platform: Platform, signum: signal.Signals
) -> None:
    """SIGKILL: the worker crashes. SIGTERM: it is evicted (graceful shutdown of a run worker):
    either way the run must end FAILURE — never stay STARTED — be retried once, and the request
    must end succeeded with valid lineups and a history that shows the failed attempt."""
    lineups = 4 if signum == signal.SIGKILL else 5
    platform.hold("simulating")
    try:
        rid = platform.submit(DEMO_RACE, {"lineups": lineups, "scenarios": 1000})["id"]
        pid = platform.pid_in("simulating", 840)
        (run,) = [r for r in platform.runs(rid) if r.tags.get("nascar/step") == "lineups"]
        starts = platform.instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START).records
        # lineup_job runs in process: the process inside the phase is the run worker itself.
        assert [r.event_log_entry.dagster_event.pid for r in starts] == [pid]
        os.kill(pid, signum)
        platform.wait(
            "the killed run to fail",
            lambda: platform.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE,
            120,
        )
    finally:
        platform.release("simulating")
    done = platform.wait_request(rid, TERMINAL, 240)
    assert done["status"] == "succeeded", (done["error"], done["history"])
    _assert_valid_lineups(platform, done, lineups)

    lineup_runs = [r for r in platform.runs(rid) if r.tags.get("nascar/step") == "lineups"]
    assert len(lineup_runs) == 2  # one retry only
    retry = next(r for r in lineup_runs if r.run_id != run.run_id)
    assert retry.tags["dagster/parent_run_id"] == run.run_id and retry.tags["dagster/retry_number"] == "1"
    assert platform.instance.get_run_by_id(retry.run_id).status == DagsterRunStatus.SUCCESS

    history = [h for h in done["history"] if h["step"] == "lineups"]
    assert [(h["attempt"], h["status"], h["retry_of_attempt"]) for h in history] == [
        (1, "failed", None),
        (2, "succeeded", 1),
    ]
    assert history[0]["failure"] and history[0]["ended_at"]
    assert run.run_id not in str(done) and retry.run_id not in str(done)  # ids stay internal
    assert all(h["status"] == "succeeded" for h in done["history"] if h["step"] == "calibration")
    assert done["error"] is None


@pytest.mark.timeout(900)
@pytest.mark.parametrize("phase", ["simulating", "optimizing"])
def test_cancel_while_running_a_phase_ends_canceled_with_nothing_served(
    platform: Platform, phase: str
) -> None:
    # A spec of its own, so its scenario set and lineups must be built by this request.
    lineups = {"simulating": 6, "optimizing": 7}[phase]
    platform.hold(phase)
    try:
        rid = platform.submit(DEMO_RACE, {"lineups": lineups, "scenarios": 1000})["id"]
        platform.pid_in(phase, 840)
        expected = {"simulating": "scenarios", "optimizing": "optimization"}[phase]
        platform.wait(
            f"the request to show {expected}", lambda: platform.get(rid)["progress"]["phase"] == expected, 30
        )
        platform.cancel(rid)
        done = platform.wait_request(rid, TERMINAL, 90)
    finally:
        platform.release(phase)
    assert done["status"] == "canceled"
    (run,) = [r for r in platform.runs(rid) if r.tags.get("nascar/step") == "lineups"]
    assert platform.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    assert all(r.status in DONE_RUN for r in platform.runs(rid))
    assert [h["status"] for h in done["history"] if h["step"] == "lineups"] == ["canceled"]
    _assert_nothing_served(platform, done)
