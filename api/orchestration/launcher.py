"""How the API starts, stops and reads Dagster runs: the launcher protocol and its data types.

The real launcher is api/orchestration/dagster_launcher.py. The API never waits on a launcher
inside an HTTP request: the outbox relay and the reconciler are its only callers, besides the
readiness probe's ping.
"""

from __future__ import annotations

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


# Dagster status -> lineup-request status: a request is running only once its run worker has
# started (QUEUED, NOT_STARTED and STARTING all read as queued).
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

    def identity_tags(self) -> dict[str, str]:
        """Who asked: every run of the request carries these (nascar_dfs/platform/tags.py)."""
        from nascar_dfs.platform.launch import request_tags

        return request_tags(self.request_id, self.owner, self.http_request_id)

    def tags(self) -> dict[str, str]:
        """The tags of the request's lineup run: what it is (kind, runtime cap), its race x spec
        partition tags and the request's identity, as the platform builds them."""
        from nascar_dfs.platform.launch import lineup_run_tags

        return lineup_run_tags(self.race_id, self.spec_key, self.identity_tags())


@dataclass(frozen=True)
class ReoptimizationLaunch:
    """A re-optimization's run: its inputs (stored by the launcher before the partition is added)."""

    reoptimization_id: str
    race_id: str
    spec_key: str
    entries_csv: str
    changes: dict[str, Any]  # out, to_rear, starts
    owner: str


@dataclass(frozen=True)
class RunStatus:
    """A run's state, following the retry chain to its newest run."""

    run_id: str  # the newest run of the chain (a retry gets a new run id)
    state: RunState
    phase: str | None = None  # calibration | scenarios | optimization
    percent: float = 0.0
    error_message: str | None = None
    # Why Dagster failed the run from outside it (its dagster/failure_reason tag, e.g. START_TIMEOUT
    # when run monitoring gave up on a run that never started); None when a step failed.
    failure_reason: str | None = None


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
    # What the lineups were built on that the user should know ({code, detail}), e.g. a simulated grid.
    warnings: list[dict[str, str]] = field(default_factory=list)


class LauncherError(RuntimeError):
    """Dagster could not be reached or refused the call."""


class Launcher(Protocol):
    def find_run(self, request_id: str) -> str | None:
        """Run id already launched for this request (tag lookup), to close the crash window."""

    def launch(self, request: LaunchRequest) -> str: ...

    def launch_calibration(self, race_id: str, owner: str) -> str: ...

    def find_reoptimization_run(self, reoptimization_id: str) -> str | None:
        """Run id already launched for this re-optimization (tag lookup), to close the crash window."""

    def launch_reoptimization(self, request: ReoptimizationLaunch) -> str: ...

    def reoptimized_entries(self, run_id: str) -> str:
        """The re-optimized DKEntries.csv a succeeded re-optimization run stored."""

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

    def calibrated_at(self, race_id: str) -> float | None:
        """When the race's latest model was materialized (Unix time); None if never."""

    def add_race(self, race_id: str) -> None:
        """Register the race's Dagster dynamic partition (idempotent)."""

    def races(self) -> list[str]:
        """Race ids registered as Dagster dynamic partitions."""
