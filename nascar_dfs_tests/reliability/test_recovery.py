"""Stopping and crashing the whole platform: `nascar-dfs up` itself (webserver, daemon, code
servers, run workers, the API), on the production instance settings of deploy/postgres/dagster.yaml
(run monitoring every 5 s, 120 s start timeout, one automatic retry), PostgreSQL for Dagster and the
API on a server of the test's own, the demo data, and the platform's pipeline with a short chain
(recovery_defs.py).

What is broken: `up` gets SIGTERM while a run is in progress (it finishes within the grace period,
or is interrupted when the grace period ends and handed over to Dagster's run retries); every
platform process gets SIGKILL while a lineup run is still starting or already started (a host
crash); the run worker and its code server die under a live daemon; a server fails to start.
Runs are held inside a phase by the phase gate (phase_gate.py, the phase_hooks of pipeline_defs.py),
and before the run starts by a hold in recovery_defs.py. Every process `up` starts carries a
marker in its environment, so "no platform process is left" is checked on /proc, whatever
re-parented or re-sessioned them.

The recovery figures (seconds from the restart to the orphaned run's failover and to the request's
success) are printed with `-s` and kept as test properties.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef

from api.core.db import create_db_engine
from api.orchestration.dagster_launcher import RETRY_WAIT_S
from api.services.keys import create_key
from nascar_dfs.platform.instance import prepare_dagster_home
from nascar_dfs.platform.io_manager import output_path
from nascar_dfs.platform.run_workers import HOST_TAG, process_state
from nascar_dfs_tests.api.dagster_stack import free_port

from .conftest import REPO
from .phase_gate import GATE_DIR_ENV
from .recovery_defs import STARTING
from .servers import create_database, postgres_available, private_postgres, processes_with_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.fault_injection,
    pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries not installed"),
]

MODULE = "nascar_dfs_tests.reliability.recovery_defs"
DEMO_RACE = "2026-cup-demo-mile-2"
MARKER = "NASCAR_DFS_TEST_PLATFORM"
TERMINAL = {"succeeded", "failed", "canceled"}
LIVENESS_S = 300  # generous on loaded cores; that no timer acted is shown by the failure message
TIMER_MESSAGES = ("taking longer than", "maximum runtime")  # failures by the start timeout / max_runtime


def _wait(what: str, condition: Callable[[], Any], timeout_s: float, every_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@dataclass
class Up:
    """One `nascar-dfs up` of the test, in a session of its own (signals come from the test only)."""

    proc: subprocess.Popen[bytes]
    log: Path
    started: float  # time.monotonic() at start

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def printed(self, text: str) -> bool:
        """Whether `up` itself printed a line starting with `text` (not a server it started)."""
        return any(line.startswith(text) for line in self.log.read_text(errors="replace").splitlines())


@dataclass
class Platform:
    work: Path
    env: dict[str, str]
    instance: DagsterInstance
    api_db: str
    gates: Path
    dagster_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    headers: dict[str, str] = field(default_factory=dict)
    ups: list[Up] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # --- the platform ---------------------------------------------------------------------
    def up(self, grace_s: float, wait_ready: bool = True) -> Up:
        log = self.work / f"up-{len(self.ups) + 1}.log"
        cmd = [sys.executable, "-m", "nascar_dfs.cli", "up", "-m", MODULE, "--grace-period", str(grace_s)]
        cmd += ["--port", str(self.dagster_port), "--api-port", str(self.api_port)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        up = Up(proc, log, time.monotonic())
        self.ups.append(up)
        if wait_ready:
            _wait(f"the platform to serve (log {log})", lambda: self._ready(up), 300, every_s=1.0)
            if not self.headers:
                engine = create_db_engine(self.api_db)
                issued = create_key(engine, "alice", "user", time.time())
                engine.dispose()
                self.headers = {"Authorization": f"Bearer {issued.secret_key}"}
        return up

    def _ready(self, up: Up) -> bool:
        if up.proc.poll() is not None:
            raise AssertionError(f"nascar-dfs up exited with {up.proc.returncode}:\n{up.output()}")
        try:
            ui = httpx.get(f"http://127.0.0.1:{self.dagster_port}/server_info", timeout=2)
            api = httpx.get(f"{self.api_url}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return ui.status_code == 200 and api.status_code == 200

    def processes(self) -> list[int]:
        """Every live process of the platform (`up` and all it started), from /proc."""
        return [
            pid
            for pid in processes_with_env(MARKER, self.env[MARKER])
            if (state := process_state(pid)) is not None and not state.exited
        ]

    def kill_everything(self) -> int:
        """SIGKILL to every platform process at once, as a power loss would; returns how many."""
        killed: set[int] = set()
        deadline = time.monotonic() + 30
        while (pids := self.processes()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.update(pids)
            time.sleep(0.2)
        for up in self.ups:
            if up.proc.poll() is None:
                up.proc.wait(10)
        assert not self.processes(), "platform processes survived SIGKILL"
        return len(killed)

    def stop(self, up: Up, timeout_s: float) -> float:
        """SIGTERM to `up`; seconds until it exited."""
        sent = time.monotonic()
        up.proc.send_signal(signal.SIGTERM)
        try:
            up.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"up did not exit {timeout_s} s after SIGTERM:\n{up.output()}") from None
        return time.monotonic() - sent

    # --- requests and runs ------------------------------------------------------------------
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers=self.headers, timeout=30)

    def submit(self, spec: dict[str, Any]) -> str:
        with self.client() as c:
            resp = c.post(
                "/v1/lineup-requests",
                json={"race_id": DEMO_RACE, "spec": spec},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        assert resp.status_code == 202, resp.text
        return resp.json()["id"]

    def get(self, request_id: str) -> dict[str, Any]:
        with self.client() as c:
            resp = c.get(f"/v1/lineup-requests/{request_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait_request(self, request_id: str, timeout_s: float) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            try:
                got = self.get(request_id)
            except httpx.HTTPError:
                return None
            return got if got["status"] in TERMINAL else None

        return _wait(f"request {request_id} to finish", finished, timeout_s, every_s=1.0)

    def runs(self, request_id: str, step: str | None = None) -> list[Any]:
        tags = {"nascar/request_id": request_id} | ({"nascar/step": step} if step else {})
        return sorted(
            self.instance.get_runs(RunsFilter(tags=tags)),
            key=lambda r: r.tags.get("dagster/retry_number", "0"),
        )

    def status(self, run_id: str) -> DagsterRunStatus:
        return self.instance.get_run_by_id(run_id).status

    def failure_messages(self, run_id: str) -> list[str]:
        records = self.instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
        return [r.event_log_entry.message for r in records]

    def has_model(self) -> bool:
        return output_path(self.work / "storage", "calibrated_model", [DEMO_RACE]).exists()

    # --- the phase gate -------------------------------------------------------------------
    def hold(self, phase: str) -> None:
        (self.gates / f"{phase}.reached").unlink(missing_ok=True)
        (self.gates / f"{phase}.hold").touch()

    def release(self, phase: str) -> None:
        (self.gates / f"{phase}.hold").unlink(missing_ok=True)

    def pid_in(self, phase: str, timeout_s: float) -> int:
        marker = self.gates / f"{phase}.reached"
        text = _wait(
            f"a run to reach {phase}", lambda: marker.exists() and marker.read_text().strip(), timeout_s
        )
        return int(text)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("recovery")
    gates = work / "gates"
    gates.mkdir()
    with private_postgres() as pg:
        create_database(pg, "dagster")
        api_db = create_database(pg, "api")
        pg_env = {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "trust-auth-ignores-it",
            "DAGSTER_PG_DB": "dagster",
        }
        env = {k: v for k, v in os.environ.items() if k != "NASCAR_DFS_DATA_DIR"}  # the demo data
        env.update(
            pg_env,
            DAGSTER_HOME=str(work / "dagster_home"),  # `up` puts deploy/postgres/dagster.yaml there
            NASCAR_DFS_STORAGE=str(work / "storage"),
            NASCAR_DFS_API_DATABASE_URL=api_db,
            NASCAR_DFS_API_DATA_DIR=str(REPO / "nascar_dfs" / "demo_data"),
            NASCAR_DFS_API_RATE_LIMITS_ENABLED="false",
            NASCAR_DFS_API_ACTIVE_RUNS_PER_KEY="100000",
            NASCAR_DFS_API_WORKER_INTERVAL_S="0.5",
            **{GATE_DIR_ENV: str(gates), MARKER: uuid.uuid4().hex},
            # scripts/test.sh exports NUMBA_OPT=0; the short fit would sample ~37x slower (fit.py).
            NUMBA_OPT="3",
        )
        home = prepare_dagster_home(env)  # what `up` does: deploy/postgres/dagster.yaml
        with pytest.MonkeyPatch.context() as patch:
            for key, value in {**pg_env, "DAGSTER_HOME": str(home)}.items():
                patch.setenv(key, value)  # the instance YAML reads them through {env: ...}
            # Opened here first, so this one process creates Dagster's schema.
            with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
                platform = Platform(work, env, instance, api_db, gates)
                try:
                    yield platform
                finally:
                    for hold in gates.glob("*.hold"):
                        hold.unlink()
                    platform.kill_everything()


def _stop_cleanly(platform: Platform, up: Up, timeout_s: float) -> None:
    platform.stop(up, timeout_s)
    _assert_nothing_left(platform, up)


def _assert_nothing_left(platform: Platform, up: Up) -> None:
    assert up.proc.returncode == 0, up.output()
    assert platform.processes() == [], f"platform processes left after up exited:\n{up.output()}"
    assert up.printed("stopped in") and "no platform process is left" in up.output()


def _ensure_model(platform: Platform) -> None:
    """Tests that break a lineup run need a calibrated model (the first test of the module makes one)."""
    if platform.has_model():
        return
    done = platform.wait_request(platform.submit({"lineups": 2, "scenarios": 1000}), 900)
    assert done["status"] == "succeeded", done


def _assert_retried_after_failover(
    platform: Platform, request_id: str, orphan: Any, done: dict[str, Any]
) -> None:
    assert done["status"] == "succeeded", (done["error"], done["history"])
    messages = platform.failure_messages(orphan.run_id)
    assert len(messages) == 1 and messages[0].startswith("Run worker gone"), messages
    assert not any(t in messages[0] for t in TIMER_MESSAGES)
    assert (
        platform.instance.get_run_by_id(orphan.run_id).tags["dagster/failure_reason"]
        == "UNEXPECTED_TERMINATION"
    )
    lineup_runs = platform.runs(request_id, "lineups")
    assert len(lineup_runs) == 2 and lineup_runs[0].run_id == orphan.run_id
    retry = lineup_runs[1]
    assert retry.tags["dagster/parent_run_id"] == orphan.run_id and retry.tags["dagster/retry_number"] == "1"
    assert platform.status(retry.run_id) == DagsterRunStatus.SUCCESS
    history = [(h["attempt"], h["status"]) for h in done["history"] if h["step"] == "lineups"]
    assert history == [(1, "failed"), (2, "succeeded")]


def _report(record_property: Callable[[str, Any], None], **figures: float) -> None:
    load = os.getloadavg()
    for name, value in figures.items():
        record_property(name, round(value, 1))
    record_property("loadavg", load)
    shown = ", ".join(f"{k} {v:.1f} s" for k, v in figures.items())
    print(f"\nRECOVERY: {shown}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


@pytest.mark.timeout(1500)  # calibrates the demo race (twice: the interrupted run and its retry)
def test_sigterm_hands_a_run_over_when_the_grace_period_ends(
    platform: Platform, record_property: Callable[[str, Any], None]
) -> None:
    """A calibration outlasts the grace period: `up` interrupts it, exits with nothing left, and
    after `up` again (minutes later) Dagster's retry runs it and the request succeeds, with no
    timeout involved."""
    grace_s = 10.0
    up = platform.up(grace_s)
    platform.hold("calibrating")
    try:
        rid = platform.submit({"lineups": 3, "scenarios": 1000})
        platform.pid_in("calibrating", 600)
        (calibration,) = platform.runs(rid, "calibration")
        assert platform.status(calibration.run_id) == DagsterRunStatus.STARTED
        assert HOST_TAG in calibration.tags  # launched by the health-checking launcher
        took = platform.stop(up, grace_s + 120)
    finally:
        platform.release("calibrating")
    _assert_nothing_left(platform, up)
    assert up.printed("grace period over")
    assert took >= grace_s  # the run had its grace period
    interrupted = platform.instance.get_run_by_id(calibration.run_id)
    assert interrupted.status == DagsterRunStatus.FAILURE
    assert interrupted.tags["dagster/will_retry"] == "true"
    assert not any(t in m for m in platform.failure_messages(calibration.run_id) for t in TIMER_MESSAGES)

    # Down for longer than the API would wait for a retry run counted from the run's end.
    time.sleep(RETRY_WAIT_S + 10)
    again = platform.up(grace_s)
    retry = _wait(
        "Dagster's retry of the interrupted run",
        lambda: platform.instance.get_run_by_id(calibration.run_id).tags.get("dagster/auto_retry_run_id"),
        LIVENESS_S,
    )
    retried_after = time.monotonic() - again.started
    done = platform.wait_request(rid, 1200)
    assert done["status"] == "succeeded", (done["error"], done["history"])
    assert platform.status(retry) == DagsterRunStatus.SUCCESS
    calibrations = [(h["attempt"], h["status"]) for h in done["history"] if h["step"] == "calibration"]
    assert calibrations == [(1, "failed"), (2, "succeeded")]
    _report(
        record_property,
        drain=took,
        restart_to_retry=retried_after,
        restart_to_success=time.monotonic() - again.started,
    )
    _stop_cleanly(platform, again, 180)


@pytest.mark.timeout(1200)
def test_sigterm_lets_a_run_finish_within_the_grace_period(
    platform: Platform, record_property: Callable[[str, Any], None]
) -> None:
    """A lineup run finishes while `up` drains: it succeeds once, is never retried, `up` exits as
    soon as it is done (well before the grace period ends), and the request is succeeded after
    the restart."""
    grace_s = 600.0
    up = platform.up(grace_s)
    _ensure_model(platform)
    platform.hold("simulating")
    try:
        rid = platform.submit({"lineups": 4, "scenarios": 1000})
        platform.pid_in("simulating", 600)
        up.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        # Draining: the servers are gone (no new work is accepted), the run is still going.
        _wait("the API to stop", lambda: _refused(platform.api_url), 120)
        (run,) = platform.runs(rid, "lineups")
        assert up.proc.poll() is None and platform.status(run.run_id) == DagsterRunStatus.STARTED
    finally:
        platform.release("simulating")
    up.proc.wait(grace_s)
    took = time.monotonic() - sent
    _assert_nothing_left(platform, up)
    assert not up.printed("grace period over")
    assert platform.status(run.run_id) == DagsterRunStatus.SUCCESS

    again = platform.up(grace_s)
    done = platform.wait_request(rid, 300)
    assert done["status"] == "succeeded", (done["error"], done["history"])
    assert [r.run_id for r in platform.runs(rid, "lineups")] == [run.run_id]  # no retry
    _report(record_property, drain=took, restart_to_success=time.monotonic() - again.started)
    _stop_cleanly(platform, again, 120)


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/livez", timeout=2)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("phase", [STARTING, "simulating"], ids=["run-starting", "run-started"])
def test_kill_9_of_every_platform_process_fails_the_orphan_over_at_the_next_up(
    platform: Platform, phase: str, record_property: Callable[[str, Any], None]
) -> None:
    """A host crash with a lineup run in flight: after `up` again, the orphaned run is failed over
    because its worker is gone — not by the 120 s start timeout nor its 900 s `dagster/max_runtime`
    — Dagster retries it, and the request succeeds."""
    up = platform.up(grace_s=10)
    _ensure_model(platform)
    platform.hold(phase)
    try:
        rid = platform.submit({"lineups": 5 if phase == STARTING else 6, "scenarios": 1000})
        worker = platform.pid_in(phase, 600)
        (orphan,) = platform.runs(rid, "lineups")
        expected = DagsterRunStatus.STARTING if phase == STARTING else DagsterRunStatus.STARTED
        assert platform.status(orphan.run_id) == expected
        killed = platform.kill_everything()
    finally:
        platform.release(phase)
    assert killed >= 6, killed
    assert (state := process_state(worker)) is None or state.exited  # a zombie until init reaps it
    assert up.proc.returncode == -signal.SIGKILL
    assert platform.status(orphan.run_id) == expected  # nothing could tell Dagster

    again = platform.up(grace_s=10, wait_ready=False)
    _wait(
        "the orphan to be failed over",
        lambda: platform.status(orphan.run_id) == DagsterRunStatus.FAILURE,
        LIVENESS_S,
    )
    failed_over = time.monotonic() - again.started
    done = platform.wait_request(rid, 600)
    _assert_retried_after_failover(platform, rid, orphan, done)
    assert again.printed(
        f"run {orphan.run_id} (lineup_job, was {expected.value}) failed over"
    )  # by `up`, at start
    _report(
        record_property, restart_to_failover=failed_over, restart_to_success=time.monotonic() - again.started
    )
    _stop_cleanly(platform, again, 120)


@pytest.mark.timeout(900)
def test_run_monitoring_fails_a_run_whose_worker_and_code_server_died(
    platform: Platform, record_property: Callable[[str, Any], None]
) -> None:
    """Half a crash under a live daemon: the run worker and the code server that launched it are
    SIGKILLed (no process is left to report the run). Run monitoring sees the worker gone and,
    once the daemon's code location is back (its workspace reload), fails the run; it is retried
    and the request succeeds. Before, the run stayed STARTED for its 900 s `dagster/max_runtime`."""
    up = platform.up(grace_s=10)
    _ensure_model(platform)
    platform.hold("simulating")
    try:
        rid = platform.submit({"lineups": 7, "scenarios": 1000})
        worker = platform.pid_in("simulating", 600)
        (orphan,) = platform.runs(rid, "lineups")
        code_server = process_state(worker).ppid  # type: ignore[union-attr]
        for pid in (code_server, worker):
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        platform.release("simulating")
    _wait(
        "monitoring to fail the orphan",
        lambda: platform.status(orphan.run_id) == DagsterRunStatus.FAILURE,
        LIVENESS_S,
    )
    failed_after = time.monotonic() - killed_at
    records = platform.instance.get_records_for_run(
        orphan.run_id, of_type=DagsterEventType.RUN_FAILURE
    ).records
    message = records[-1].event_log_entry.message
    assert "Detected run worker status NOT_FOUND" in message and "no longer exists" in message, message
    done = platform.wait_request(rid, 600)
    assert done["status"] == "succeeded", (done["error"], done["history"])
    assert [(h["attempt"], h["status"]) for h in done["history"] if h["step"] == "lineups"] == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    _report(record_property, kill_to_failure=failed_after)
    _stop_cleanly(platform, up, 120)


@pytest.mark.timeout(600)
def test_a_server_that_fails_to_start_stops_everything_already_started(platform: Platform) -> None:
    with socketserver_on(platform.api_port):  # the API cannot bind its port
        up = platform.up(grace_s=10, wait_ready=False)
        try:
            up.proc.wait(300)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"up kept running with its API down:\n{up.output()}") from None
    assert up.proc.returncode == 1, up.output()
    assert up.printed("api exited: stopping the rest")
    assert platform.processes() == [], up.output()


@contextlib.contextmanager
def socketserver_on(port: int) -> Iterator[None]:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        yield
