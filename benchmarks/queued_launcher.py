"""The launcher of the API benchmarks (api_load.py, api_status_reads.py): every run is accepted
and stays queued, so a benchmark measures the API and its database, not Dagster or the pipeline.

The API's background worker still does all its work: the relay launches each request (one run,
found again by its request id) and the reconciler reads every unfinished request's status and
run history on each pass, as it would against Dagster.
"""

from __future__ import annotations

import threading
import time
import uuid

from api.orchestration.launcher import (
    LauncherError,
    LaunchRequest,
    RunAttempt,
    RunMetrics,
    RunResults,
    RunState,
    RunStatus,
)


class QueuedLauncher:
    def __init__(self, races: list[str]) -> None:
        self._races = list(races)
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[str, float]] = {}  # request id -> (run id, created at)

    def find_run(self, request_id: str) -> str | None:
        with self._lock:
            run = self._runs.get(request_id)
        return run[0] if run else None

    def launch(self, request: LaunchRequest) -> str:
        run_id = uuid.uuid4().hex
        with self._lock:
            self._runs[request.request_id] = (run_id, time.time())
        return run_id

    def launch_calibration(self, race_id: str, owner: str) -> str:
        return uuid.uuid4().hex

    def terminate(self, run_id: str) -> None:
        """Nothing to stop: no run ever starts."""

    def run_status(self, run_id: str) -> RunStatus:
        return RunStatus(run_id, RunState.QUEUED)

    def run_history(self, request_id: str) -> list[RunAttempt]:
        with self._lock:
            run = self._runs.get(request_id)
        if run is None:
            return []
        return [RunAttempt(run[0], "lineups", 1, None, RunState.QUEUED, created_at=run[1])]

    def results(self, run_id: str) -> RunResults:
        raise LauncherError("benchmark runs stay queued: they have no results")

    def run_metrics(self, run_id: str) -> RunMetrics | None:
        return None

    def ping(self) -> None:
        """No Dagster storage to read: always reachable."""

    def daemon_heartbeat_age(self) -> float | None:
        return None  # there is no daemon (readiness reports it as a warning, not a failure)

    def races(self) -> list[str]:
        return list(self._races)
