"""How the API starts, stops and reads Dagster runs: a protocol with a fake and a real launcher.

The API never waits on a launcher inside an HTTP request: the outbox relay and the reconciler
(api/worker.py) are the only callers.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class RunState(StrEnum):
    """Dagster run statuses, plus NOT_FOUND for a run id the instance does not know."""

    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    NOT_FOUND = "NOT_FOUND"


# Dagster status -> lineup-request status (api.md §3 decision 3).
STATUS_FOR_STATE: dict[RunState, str] = {
    RunState.QUEUED: "queued",
    RunState.NOT_STARTED: "queued",
    RunState.STARTING: "queued",
    RunState.STARTED: "running",
    RunState.SUCCESS: "succeeded",
    RunState.FAILURE: "failed",
    RunState.CANCELING: "canceling",
    RunState.CANCELED: "canceled",
}


@dataclass(frozen=True)
class LaunchRequest:
    request_id: str
    race_id: str
    spec_key: str
    spec_json: str
    owner: str
    http_request_id: str | None
    max_runtime_s: int

    def tags(self) -> dict[str, str]:
        """Run tags: all three partition tags (dagster.md §1) plus the request's identity."""
        tags = {
            "dagster/partition": f"{self.race_id}|{self.spec_key}",
            "dagster/partition/race": self.race_id,
            "dagster/partition/spec": self.spec_key,
            "nascar/request_id": self.request_id,
            "nascar/owner": self.owner,
            "nascar/kind": "lineups",
            "dagster/max_runtime": str(self.max_runtime_s),
        }
        if self.http_request_id:
            tags["nascar/http_request_id"] = self.http_request_id
        return tags


@dataclass(frozen=True)
class RunStatus:
    """A run's state, following the retry chain to its newest run."""

    run_id: str  # the newest run of the chain (a retry gets a new run id)
    state: RunState
    phase: str | None = None  # calibration | scenarios | optimization
    percent: float = 0.0
    error_message: str | None = None


@dataclass(frozen=True)
class RunAttempt:
    """One Dagster run of a request: its calibration or lineup run, or a retry of one."""

    run_id: str
    step: str  # calibration | lineups
    attempt: int  # 1 for the first run of the step, 2 for Dagster's automatic retry of it
    retry_of: str | None  # the run this one retries
    state: RunState
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    failure: str | None = None  # why it failed, as Dagster recorded it (sanitised by the worker)


@dataclass(frozen=True)
class RunMetrics:
    """Model-quality numbers recorded by the run (read from Dagster metadata, never invented)."""

    kernel: str
    proposals: int
    rejections: int
    crps: float | None


@dataclass(frozen=True)
class RunResults:
    lineups: list[list[dict[str, Any]]]  # each lineup: drivers as {name, dk_id, salary}
    upload_csv: str  # DraftKings upload CSV text
    contest: dict[str, Any] | None = None  # the run's contest report, when the spec names a contest


class LauncherError(RuntimeError):
    """Dagster could not be reached or refused the call."""


class Launcher(Protocol):
    def find_run(self, request_id: str) -> str | None:
        """Run id already launched for this request (tag lookup), to close the crash window."""

    def launch(self, request: LaunchRequest) -> str: ...

    def launch_calibration(self, race_id: str, owner: str) -> str: ...

    def terminate(self, run_id: str) -> None: ...

    def run_status(self, run_id: str) -> RunStatus: ...

    def run_history(self, request_id: str) -> list[RunAttempt]:
        """Every run launched for the request (found by its tag, retries included), oldest first."""

    def results(self, run_id: str) -> RunResults: ...

    def run_metrics(self, run_id: str) -> RunMetrics | None: ...

    def ping(self) -> None:
        """Raise if the Dagster instance storage cannot be read."""

    def daemon_heartbeat_age(self) -> float | None:
        """Seconds since the newest daemon heartbeat; None when there is none."""

    def races(self) -> list[str]:
        """Race ids registered as Dagster dynamic partitions."""


@dataclass
class FakeRun:
    run_id: str
    request: LaunchRequest | None
    state: RunState = RunState.QUEUED
    phase: str | None = None
    percent: float = 0.0
    error_message: str | None = None
    results: RunResults | None = None
    metrics: RunMetrics | None = None
    retried_as: str | None = None
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
            return RunStatus(run.run_id, run.state, run.phase, run.percent, run.error_message)

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
    ) -> None:
        run = self.runs[run_id]
        run.state, run.phase, run.percent, run.error_message = state, phase, percent, error_message
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
