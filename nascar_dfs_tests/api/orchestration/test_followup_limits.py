"""Bounded retries (issue 19, item 7): a result store or a cancel's terminate that keeps raising
ends the request failed after a bounded number of attempts, with the root cause in its error,
and frees the owner's active-run slot. On PostgreSQL; the launcher is the in-memory fake
(fakes.py), which can be made to fail on demand where a real Dagster cannot."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from api.orchestration.launcher import LauncherError, RunState

from ..conftest import Api
from ..helpers import submit
from ..services.test_postgres import pg_api, pg_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.postgres


def test_a_result_store_that_keeps_failing_ends_the_request_failed(pg_api: Callable[..., Api]) -> None:  # noqa: F811
    api = pg_api(active_runs_per_key=1, followup_max_attempts=4)
    headers = api.key()
    rid = submit(api, headers).json()["id"]
    api.worker.run_pass()
    run = api.launcher.only_run_for(rid)
    api.launcher.set_state(run.run_id, RunState.SUCCESS, "optimization", 100.0)  # no results
    assert submit(api, headers).status_code == 429  # the slot is held meanwhile
    for _ in range(3):
        api.worker.run_pass()
        got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
        assert got["status"] in ("queued", "running"), got  # still in progress
        api.clock.advance(301)  # past the backoff
    api.worker.run_pass()
    got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
    assert got["status"] == "failed"
    assert got["error"]["type"].endswith("/results-unavailable")
    assert "LauncherError" in got["error"]["detail"] and "no results" in got["error"]["detail"]
    assert "4 attempts" in got["error"]["detail"]
    assert submit(api, headers).status_code == 202  # the slot is free again


def test_a_terminate_that_keeps_failing_ends_the_request_failed(
    pg_api: Callable[..., Api],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = pg_api(active_runs_per_key=1, followup_max_attempts=3)
    headers = api.key()
    rid = submit(api, headers).json()["id"]
    api.worker.run_pass()
    api.launcher.set_state(api.launcher.only_run_for(rid).run_id, RunState.STARTED, "scenarios", 40.0)

    def refuse(run_id: str) -> None:
        raise LauncherError("terminateRun: PythonError")

    monkeypatch.setattr(api.launcher, "terminate", refuse)
    assert api.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=headers).status_code == 202
    for _ in range(3):
        api.worker.run_pass()
        api.clock.advance(301)
    got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
    assert got["status"] == "failed"
    assert got["error"]["type"].endswith("/cancel-failed")
    assert "terminateRun: PythonError" in got["error"]["detail"]
    assert submit(api, headers).status_code == 202
