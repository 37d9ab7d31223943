"""The launcher the API tests drive by hand: in memory, it records every call and lets a test set
each run's state, fail a launch or take Dagster down. (Tests that need real runs use the Dagster
stack of dagster_stack.py.)"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from api.orchestration.launcher import (
    LauncherError,
    LaunchRequest,
    ReoptimizationLaunch,
    RunAttempt,
    RunMetrics,
    RunResults,
    RunState,
    RunStatus,
)


@dataclass
class FakeRun:
    run_id: str
    request: LaunchRequest | None
    state: RunState = RunState.QUEUED
    phase: str | None = None
    percent: float = 0.0
    error_message: str | None = None
    failure_reason: str | None = None  # Dagster's dagster/failure_reason (START_TIMEOUT, ...)
    results: RunResults | None = None
    metrics: RunMetrics | None = None
    retried_as: str | None = None
    entries_csv: str | None = None  # a re-optimization run's DKEntries.csv, once it succeeded
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None


class FakeLauncher:
    """In-memory launcher for tests: records calls and lets the test drive each run's state."""

    def __init__(self, races: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self.runs: dict[str, FakeRun] = {}
        self.launches: list[LaunchRequest] = []
        self.calibrations: list[str] = []
        self.terminations: list[str] = []
        self.fail_launch: Exception | None = None
        self.crash_after_launch = False
        self.down = False
        self.heartbeat_age: float | None = 1.0
        self._races = list(races or [])
        self.calibrated: dict[str, float] = {}  # race -> when its model was calibrated
        self.reoptimizations: list[ReoptimizationLaunch] = []

    # --- Launcher protocol -------------------------------------------------------------------
    def find_run(self, request_id: str) -> str | None:
        self._check_up()
        with self._lock:
            for run in self.runs.values():
                if (
                    run.tags.get("nascar/request_id") == request_id
                    and run.tags.get("dagster/root_run_id") is None
                ):
                    return run.run_id
        return None

    def launch(self, request: LaunchRequest) -> str:
        self._check_up()
        if self.fail_launch is not None:
            raise self.fail_launch
        run_id = uuid.uuid4().hex
        with self._lock:
            self.runs[run_id] = FakeRun(run_id, request, tags=request.tags())
            self.launches.append(request)
        if self.crash_after_launch:
            self.crash_after_launch = False
            raise LauncherError("connection reset after the run was created")
        return run_id

    def launch_calibration(self, race_id: str, owner: str) -> str:
        self._check_up()
        run_id = uuid.uuid4().hex
        with self._lock:
            self.runs[run_id] = FakeRun(run_id, None, tags={"nascar/kind": "calibration"})
            self.calibrations.append(race_id)
        return run_id

    def find_reoptimization_run(self, reoptimization_id: str) -> str | None:
        self._check_up()
        with self._lock:
            for run in self.runs.values():
                if run.tags.get("nascar/reoptimization_id") == reoptimization_id:
                    return run.run_id
        return None

    def launch_reoptimization(self, request: ReoptimizationLaunch) -> str:
        self._check_up()
        if self.fail_launch is not None:
            raise self.fail_launch
        run_id = uuid.uuid4().hex
        tags = {"nascar/kind": "reoptimize", "nascar/reoptimization_id": request.reoptimization_id}
        with self._lock:
            self.runs[run_id] = FakeRun(run_id, None, tags=tags)
            self.reoptimizations.append(request)
        return run_id

    def reoptimized_entries(self, run_id: str) -> str:
        self._check_up()
        run = self._newest(run_id)
        if run.entries_csv is None:
            raise LauncherError(f"run {run_id} stored no re-optimized entries")
        return run.entries_csv

    def terminate(self, run_id: str) -> None:
        self._check_up()
        with self._lock:
            self.terminations.append(run_id)
            run = self.runs[run_id]
            if run.state not in (RunState.SUCCESS, RunState.FAILURE, RunState.CANCELED):
                run.state = RunState.CANCELING

    def run_status(self, run_id: str) -> RunStatus:
        self._check_up()
        with self._lock:
            run = self.runs.get(run_id)
            while run is not None and run.retried_as is not None:
                run = self.runs[run.retried_as]
            if run is None:
                return RunStatus(run_id, RunState.NOT_FOUND)
            return RunStatus(
                run.run_id, run.state, run.phase, run.percent, run.error_message, run.failure_reason
            )

    def run_history(self, request_id: str) -> list[RunAttempt]:
        self._check_up()
        with self._lock:
            runs = [r for r in self.runs.values() if r.tags.get("nascar/request_id") == request_id]
            return [
                RunAttempt(
                    run_id=r.run_id,
                    step=r.tags.get("nascar/step", "lineups"),
                    attempt=int(r.tags.get("dagster/retry_number", "0")) + 1,
                    retry_of=r.tags.get("dagster/parent_run_id"),
                    state=r.state,
                    created_at=r.created_at,
                    started_at=r.started_at,
                    ended_at=r.ended_at,
                    failure=r.error_message if r.state == RunState.FAILURE else None,
                )
                for r in sorted(runs, key=lambda r: r.created_at)
            ]

    def results(self, run_id: str) -> RunResults:
        self._check_up()
        run = self._newest(run_id)
        if run.results is None:
            raise LauncherError(f"run {run_id} has no results")
        return run.results

    def run_metrics(self, run_id: str) -> RunMetrics | None:
        return self._newest(run_id).metrics

    def ping(self) -> None:
        self._check_up()

    def daemon_heartbeat_age(self) -> float | None:
        return self.heartbeat_age

    def races(self) -> list[str]:
        return list(self._races)

    def calibrated_at(self, race_id: str) -> float | None:
        return self.calibrated.get(race_id)

    def add_race(self, race_id: str) -> None:
        if race_id not in self._races:
            self._races.append(race_id)

    # --- test controls ----------------------------------------------------------------------
    def only_run_for(self, request_id: str) -> FakeRun:
        runs = [r for r in self.runs.values() if r.tags.get("nascar/request_id") == request_id]
        if len(runs) != 1:
            raise AssertionError(f"expected one run for request {request_id}, found {len(runs)}")
        return runs[0]

    def set_state(
        self,
        run_id: str,
        state: RunState,
        phase: str | None = None,
        percent: float = 0.0,
        error_message: str | None = None,
        failure_reason: str | None = None,
    ) -> None:
        run = self.runs[run_id]
        run.state, run.phase, run.percent, run.error_message = state, phase, percent, error_message
        run.failure_reason = failure_reason
        if state in (RunState.STARTED, RunState.CANCELING) and run.started_at is None:
            run.started_at = time.time()
        if state in (RunState.SUCCESS, RunState.FAILURE, RunState.CANCELED):
            run.ended_at = time.time()

    def succeed(self, run_id: str, results: RunResults, metrics: RunMetrics | None = None) -> None:
        run = self.runs[run_id]
        run.results, run.metrics = results, metrics
        self.set_state(run_id, RunState.SUCCESS, "optimization", 100.0)

    def retry(self, run_id: str, reason: str = "run worker process was terminated by signal 9") -> str:
        """Dagster's auto-retry: the run fails and a new run of the chain takes over (same tags
        plus the retry tags Dagster adds)."""
        old = self.runs[run_id]
        self.set_state(run_id, RunState.FAILURE, old.phase, old.percent, reason)
        new_id = uuid.uuid4().hex
        retry_tags = {
            "dagster/root_run_id": old.tags.get("dagster/root_run_id", run_id),
            "dagster/parent_run_id": run_id,
            "dagster/retry_number": str(int(old.tags.get("dagster/retry_number", "0")) + 1),
        }
        self.runs[new_id] = FakeRun(new_id, old.request, tags={**old.tags, **retry_tags})
        old.retried_as = new_id
        return new_id

    def _newest(self, run_id: str) -> FakeRun:
        run = self.runs[run_id]
        while run.retried_as is not None:
            run = self.runs[run.retried_as]
        return run

    def _check_up(self) -> None:
        if self.down:
            raise LauncherError("dagster unreachable (fault injected)")
