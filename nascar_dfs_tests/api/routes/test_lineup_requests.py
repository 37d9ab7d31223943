"""The lineup request as a long-running operation over a (fake) Dagster run (api.md §3)."""

from __future__ import annotations

import csv
import io

from api.orchestration.launcher import RunMetrics, RunState

from ..conftest import OTHER_RACE, Api
from ..helpers import assert_problem, body, fake_results, submit


def test_submit_is_accepted_and_points_at_a_queued_request(api: Api) -> None:
    headers = api.key()
    resp = submit(api, headers)
    assert resp.status_code == 202, resp.text
    assert int(resp.headers["retry-after"]) > 0
    data = resp.json()
    assert resp.headers["location"] == f"/v1/lineup-requests/{data['id']}"
    assert data["status"] == "queued" and data["done"] is False
    got = api.client.get(resp.headers["location"], headers=headers)
    assert got.status_code == 200 and got.json()["status"] == "queued"
    assert "dagster_run_id" not in got.text and "owner" not in got.json()


def test_launch_happens_after_commit_with_all_partition_tags(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    assert api.launcher.launches == []  # the POST itself never calls Dagster
    api.worker.run_once()
    (launched,) = api.launcher.launches
    tags = launched.tags()
    assert tags["dagster/partition"] == f"{data['race_id']}|{data['spec_key']}"
    assert tags["dagster/partition/race"] == data["race_id"]
    assert tags["dagster/partition/spec"] == data["spec_key"]
    assert tags["nascar/request_id"] == data["id"]
    assert tags["nascar/owner"] == "alice"
    assert int(tags["dagster/max_runtime"]) > 0
    api.worker.run_once()
    assert len(api.launcher.launches) == 1


def test_request_walks_queued_running_succeeded_and_serves_results(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers, body(lineups=4)).json()
    url = f"/v1/lineup-requests/{data['id']}"
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    seen = []
    for state, phase, pct in [
        (RunState.STARTING, None, 0.0),
        (RunState.STARTED, "calibration", 10.0),
        (RunState.STARTED, "scenarios", 40.0),
        (RunState.STARTED, "optimization", 80.0),
    ]:
        api.launcher.set_state(run.run_id, state, phase, pct)
        api.worker.run_once()
        got = api.client.get(url, headers=headers).json()
        seen.append((got["status"], got["progress"]["phase"], got["progress"]["percent"]))
        for path in ("/lineups", "/dk-upload.csv"):
            early = api.client.get(url + path, headers=headers)
            assert_problem(early, 409)
            assert early.json()["type"].endswith("run-not-finished")
            assert int(early.headers["retry-after"]) > 0
    assert [s[0] for s in seen] == ["queued", "running", "running", "running"]
    assert [s[1] for s in seen[1:]] == ["calibration", "scenarios", "optimization"]
    assert [s[2] for s in seen] == sorted(s[2] for s in seen)

    api.launcher.succeed(run.run_id, fake_results(4), RunMetrics("views", 1000, 230, 0.41))
    api.worker.run_once()
    final = api.client.get(url, headers=headers)
    assert final.json()["status"] == "succeeded" and final.json()["done"] is True
    assert "retry-after" not in final.headers
    lineups = api.client.get(url + "/lineups", headers=headers).json()["lineups"]
    assert len(lineups) == 4 and all(len(lu["drivers"]) == 6 for lu in lineups)
    csv_resp = api.client.get(url + "/dk-upload.csv", headers=headers)
    assert csv_resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_resp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(csv_resp.text)))
    assert rows[0] == ["D"] * 6 and len(rows) == 5


def test_status_never_moves_backwards_on_a_stale_reading(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    api.launcher.set_state(run.run_id, RunState.STARTED, "scenarios", 50.0)
    api.worker.run_once()
    api.launcher.set_state(run.run_id, RunState.STARTING)  # stale: Dagster replica lag
    api.worker.run_once()
    assert api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()["status"] == "running"


def test_failed_run_reports_a_problem_without_internals(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    api.launcher.set_state(
        run.run_id,
        RunState.FAILURE,
        error_message=(
            "InfeasibleSpecError: max_exposure leaves no lineup at /opt/app/nascar_dfs/core/opt.py line 3\n"
            'Traceback (most recent call last):\n  File "/opt/app/x.py"'
        ),
    )
    api.worker.run_once()
    got = api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()
    assert got["status"] == "failed"
    assert got["error"]["type"].endswith("run-failed") and got["error"]["title"]
    assert "max_exposure" in got["error"]["detail"]
    assert "Traceback" not in str(got) and "/opt/app" not in str(got)
    assert got["error"]["detail"].startswith("InfeasibleSpecError: max_exposure")


def test_orchestrator_exception_names_are_stripped_from_the_error(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    message = "dagster._core.definitions.events.Failure: calibration of r rejected: bulk ESS 71 < 200"
    api.launcher.set_state(run.run_id, RunState.FAILURE, error_message=message)
    api.worker.run_once()
    got = api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()
    assert got["error"]["detail"] == "calibration of r rejected: bulk ESS 71 < 200"
    assert_problem(api.client.get(f"/v1/lineup-requests/{data['id']}/lineups", headers=headers), 409)


def test_run_ids_in_a_failure_message_do_not_reach_the_user(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    message = f"Run {run.run_id} failed: step lineups of run {run.run_id} did not complete"
    api.launcher.set_state(run.run_id, RunState.FAILURE, error_message=message)
    api.worker.run_once()
    got = api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()
    assert got["status"] == "failed"
    assert got["error"]["detail"] == "Run <run> failed: step lineups of run <run> did not complete"
    assert run.run_id not in str(got)


def test_retried_run_is_followed_through_the_chain(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    api.launcher.set_state(run.run_id, RunState.STARTED, "calibration", 5.0)
    api.worker.run_once()
    retry_id = api.launcher.retry(run.run_id)  # worker crash: Dagster retries under a new run id
    api.launcher.succeed(retry_id, fake_results(3))
    api.worker.run_once()
    got = api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()
    assert got["status"] == "succeeded"
    assert len(api.launcher.launches) == 1


def test_history_shows_the_failed_attempt_and_its_retry(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    url = f"/v1/lineup-requests/{data['id']}"
    assert data["history"] == []  # not launched yet
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    api.launcher.set_state(run.run_id, RunState.STARTED, "scenarios", 40.0)
    api.worker.run_once()
    (first,) = api.client.get(url, headers=headers).json()["history"]
    assert (first["step"], first["attempt"], first["status"]) == ("lineups", 1, "running")
    assert first["started_at"] is not None and first["ended_at"] is None

    reason = f"Run execution process for {run.run_id} at /srv/x was terminated by signal 9"
    retry_id = api.launcher.retry(run.run_id, reason)
    api.launcher.set_state(retry_id, RunState.STARTED, "scenarios", 40.0)
    api.worker.run_once()
    got = api.client.get(url, headers=headers)
    assert got.json()["status"] == "running"
    failed, retry = got.json()["history"]
    assert (failed["attempt"], failed["status"], failed["retry_of_attempt"]) == (1, "failed", None)
    assert failed["failure"] == "Run execution process for <run> at <path> was terminated by signal 9"
    assert failed["ended_at"] is not None
    assert (retry["attempt"], retry["status"], retry["retry_of_attempt"]) == (2, "running", 1)
    # Dagster's run ids stay internal (api.md): not in the history, not in the failure text.
    assert run.run_id not in got.text and retry_id not in got.text

    api.launcher.succeed(retry_id, fake_results(3))
    api.worker.run_once()
    got = api.client.get(url, headers=headers).json()
    assert got["status"] == "succeeded"
    assert [(h["attempt"], h["status"]) for h in got["history"]] == [(1, "failed"), (2, "succeeded")]
    assert got["error"] is None  # the failed attempt is history, not the request's outcome
    listed = api.client.get("/v1/lineup-requests", headers=headers).json()["items"]
    assert [h["attempt"] for h in listed[0]["history"]] == [1, 2]


def test_cancel_running_request_terminates_once_and_ends_canceled(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    url = f"/v1/lineup-requests/{data['id']}"
    api.worker.run_once()
    run = api.launcher.only_run_for(data["id"])
    api.launcher.set_state(run.run_id, RunState.STARTED, "scenarios", 30.0)
    api.worker.run_once()
    first = api.client.post(url + "/cancel", headers=headers)
    assert first.status_code == 202
    assert first.json()["cancel_requested"] is True and first.json()["status"] == "canceling"
    api.worker.run_once()
    assert api.launcher.terminations == [run.run_id]
    assert api.client.get(url, headers=headers).json()["status"] == "canceling"
    api.launcher.set_state(run.run_id, RunState.CANCELED)
    api.worker.run_once()
    assert api.client.get(url, headers=headers).json()["status"] == "canceled"
    again = api.client.post(url + "/cancel", headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "canceled"
    api.worker.run_once()
    assert api.launcher.terminations == [run.run_id]
    problem = assert_problem(api.client.get(url + "/dk-upload.csv", headers=headers), 409)
    assert problem["type"].endswith("run-canceled")


def test_cancel_before_launch_skips_the_launch(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    assert api.client.post(f"/v1/lineup-requests/{data['id']}/cancel", headers=headers).status_code == 202
    api.worker.run_once()
    assert api.launcher.launches == []
    assert api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()["status"] == "canceled"


def test_cancel_of_a_succeeded_request_is_a_conflict_and_changes_nothing(api: Api) -> None:
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    api.launcher.succeed(api.launcher.only_run_for(data["id"]).run_id, fake_results(3))
    api.worker.run_once()
    problem = assert_problem(
        api.client.post(f"/v1/lineup-requests/{data['id']}/cancel", headers=headers), 409
    )
    assert problem["type"].endswith("run-already-finished")
    assert api.launcher.terminations == []
    assert (
        api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()["status"] == "succeeded"
    )


def test_a_run_dagster_gives_up_starting_fails_the_request_and_frees_the_slot(api: Api) -> None:
    """The API keeps no start timer: however long a run waits or stays STARTING, only Dagster's
    run monitoring fails it (reason START_TIMEOUT), and the request mirrors that."""
    headers = api.key()
    data = submit(api, headers).json()
    api.worker.run_once()
    api.clock.advance(600)  # waiting in Dagster's queue is not a start failure
    api.worker.run_once()
    assert api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()["status"] == "queued"
    run = api.launcher.only_run_for(data["id"])
    api.launcher.set_state(run.run_id, RunState.STARTING)
    api.worker.run_once()
    api.clock.advance(3600)  # an hour STARTING: still Dagster's call, not the API's
    api.worker.run_once()
    assert api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()["status"] == "queued"
    assert api.launcher.terminations == []
    api.launcher.set_state(
        run.run_id,
        RunState.FAILURE,
        error_message="Run timed out due to taking longer than 120 seconds to start.",
        failure_reason="START_TIMEOUT",
    )
    api.worker.run_once()
    got = api.client.get(f"/v1/lineup-requests/{data['id']}", headers=headers).json()
    assert got["status"] == "failed" and got["error"]["type"].endswith("run-start-timeout")
    assert "120 seconds to start" in got["error"]["detail"]
    assert submit(api, headers).status_code == 202
    assert submit(api, headers).status_code == 202  # two slots free again (cap 2)


def test_list_is_paginated_and_only_the_callers(api: Api) -> None:
    alice, bob = api.key("alice"), api.key("bob")
    mine = []
    for i in range(5):
        api.clock.advance(1)
        resp = submit(api, alice, body(lineups=i + 1))
        mine.append(resp.json()["id"])
        # Finish each so the active-run cap does not interfere.
        api.worker.run_once()
        api.launcher.succeed(api.launcher.only_run_for(mine[-1]).run_id, fake_results(i + 1))
        api.worker.run_once()
    submit(api, bob, body(race_id=OTHER_RACE))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/lineup-requests", headers=alice, params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(mine))
    assert_problem(api.client.get("/v1/lineup-requests", headers=alice, params={"cursor": "!!"}), 400)


def test_unknown_race_and_plan_limit_are_rejected_before_anything_is_stored(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(max_lineups_per_request=150)
    headers = api.key()
    problem = assert_problem(submit(api, headers, body(race_id="1999-cup-nowhere-1")), 422)
    assert "race_id" in str(problem["errors"])
    problem = assert_problem(submit(api, headers, body(lineups=151)), 422)
    assert "lineups" in str(problem["errors"])
    assert api.client.get("/v1/lineup-requests", headers=headers).json()["items"] == []


def test_races_are_listed(api: Api) -> None:
    races = api.client.get("/v1/races", headers=api.key()).json()["items"]
    assert {"race_id": OTHER_RACE} in races


def test_races_come_from_the_real_history_too(make_api, shared_data_dir) -> None:  # type: ignore[no-untyped-def]
    api = make_api(data_dir=shared_data_dir)
    races = {r["race_id"] for r in api.client.get("/v1/races", headers=api.key()).json()["items"]}
    assert {"2024-cup-phoenix-2", "2015-cup-daytona-1"} <= races
    assert submit(api, api.key("zed"), body(race_id="2024-cup-phoenix-2")).status_code == 202
    # A real race without an uploaded slate is refused, never built from the demo slate.
    problem = assert_problem(submit(api, api.key("zed"), body(race_id="2015-cup-daytona-1")), 409)
    assert problem["type"].endswith("slate-missing")
