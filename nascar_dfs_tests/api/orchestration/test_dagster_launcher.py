"""DagsterLauncher against a real (temporary) Dagster instance, with the webserver's GraphQL
answered by a stub: run lookup by tag, the retry chain, reading the lineup run Dagster launches
after a calibration (never launching it), and what a launch sends (partition tags, dynamic
partitions, the request's tags)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest

from api.core.config import Settings
from api.orchestration.dagster_launcher import DagsterLauncher
from api.orchestration.launcher import LauncherError, LaunchRequest, RunState
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.tags import REQUEST_ID as REQUEST_TAG
from nascar_dfs.platform.tags import STEP as STEP_TAG
from nascar_dfs_tests.platform.graphql import asset_graph_answer

RACE = "2026-cup-demo-mile-2"


class GraphQLStub:
    """Records GraphQL calls; launchRun answers with a new run id, the asset-graph query with what a
    real code server of the project's definitions answered."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        self.calls.append(payload)
        query = payload["query"]
        if "repositoriesOrError" in query:
            nodes = [
                {"name": "__repository__", "location": {"name": "loc"}, "jobs": [{"name": "lineup_job"}]}
            ]
            return httpx.Response(200, json={"data": {"repositoriesOrError": {"nodes": nodes}}})
        if "assetNodes" in query:
            return httpx.Response(200, json={"data": asset_graph_answer()})
        if "addDynamicPartition" in query:
            return httpx.Response(
                200, json={"data": {"addDynamicPartition": {"__typename": "AddDynamicPartitionSuccess"}}}
            )
        if "launchRun" in query:
            return httpx.Response(
                200,
                json={
                    "data": {
                        "launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": uuid.uuid4().hex}}
                    }
                },
            )
        return httpx.Response(200, json={"data": {"terminateRun": {"__typename": "TerminateRunSuccess"}}})

    def of(self, mutation: str) -> list[dict]:
        return [c["variables"] for c in self.calls if mutation in c["query"]]


@pytest.fixture
def launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DagsterLauncher, GraphQLStub, object]]:
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(tmp_path / "storage"))
    stub = GraphQLStub()
    with dg.instance_for_test() as instance:
        dl = DagsterLauncher(Settings(database_url="sqlite://", dagster_url="http://dagster.test"))
        dl._instance = instance
        dl._http = httpx.Client(base_url="http://dagster.test", transport=httpx.MockTransport(stub))
        yield dl, stub, instance


def _run(instance, status: dg.DagsterRunStatus, **tags: str) -> str:  # type: ignore[no-untyped-def]
    run = dg.DagsterRun(
        job_name=tags.pop("job", "lineup_job"),
        run_id=uuid.uuid4().hex,
        status=status,
        tags={k.replace("__", "/"): v for k, v in tags.items()},
    )
    instance.add_run(run)
    return run.run_id


def test_find_run_returns_the_root_of_the_request_chain(launcher) -> None:  # type: ignore[no-untyped-def]
    dl, _, instance = launcher
    root = _run(instance, dg.DagsterRunStatus.FAILURE, **{"nascar__request_id": "req-1"})
    _run(
        instance,
        dg.DagsterRunStatus.STARTED,
        **{"nascar__request_id": "req-1", "dagster__parent_run_id": root},
    )
    assert dl.find_run("req-1") == root
    assert dl.find_run("req-unknown") is None


def test_status_follows_auto_retries_to_the_newest_run(launcher) -> None:  # type: ignore[no-untyped-def]
    dl, _, instance = launcher
    retry = _run(instance, dg.DagsterRunStatus.STARTED, **{"nascar__request_id": "r"})
    first = _run(
        instance,
        dg.DagsterRunStatus.FAILURE,
        **{"nascar__request_id": "r", "dagster__auto_retry_run_id": retry},
    )
    status = dl.run_status(first)
    assert status.state == RunState.STARTED and status.run_id == retry
    assert dl.run_status("no-such-run").state == RunState.NOT_FOUND


def test_a_failure_the_retry_daemon_has_not_read_stays_pending_however_old(  # type: ignore[no-untyped-def]
    launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run interrupted while `nascar-dfs up` stopped fails with the daemon already gone; the
    platform may come back hours later, and the request must still follow the retry then."""
    dl = launcher[0]
    retries = {"run_retries": {"enabled": True, "max_retries": 1}}  # as in dagster.yaml
    with dg.instance_for_test(overrides=retries) as instance:
        monkeypatch.setattr(dl, "_instance", instance)
        run_id = _run(instance, dg.DagsterRunStatus.STARTED, **{"nascar__request_id": "r"})
        instance.report_run_failed(instance.get_run_by_id(run_id), "interrupted")
        assert instance.get_run_by_id(run_id).tags["dagster/will_retry"] == "true"
        failure = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[-1]
        later = time.time() + 3600
        monkeypatch.setattr("api.orchestration.dagster_launcher.time.time", lambda: later)
        cursor = "EVENT_LOG_CONSUMER_CURSOR-PIPELINE_FAILURE"

        # A daemon that never ran skips older failures, so no retry comes: the request fails.
        assert dl.run_status(run_id).state == RunState.FAILURE
        instance.daemon_cursor_storage.set_cursor_values({cursor: str(failure.storage_id - 1)})
        assert dl.run_status(run_id).state == RunState.STARTED  # the daemon will read it on its return
        # Read, and an hour without a retry run: the retry did not happen.
        instance.daemon_cursor_storage.set_cursor_values({cursor: str(failure.storage_id)})
        assert dl.run_status(run_id).state == RunState.FAILURE


def _calibration(instance, status: dg.DagsterRunStatus, request: str, then: str | None) -> str:  # type: ignore[no-untyped-def]
    tags = {
        REQUEST_TAG.replace("/", "__"): request,
        STEP_TAG.replace("/", "__"): "calibration",
        "dagster__partition": RACE,
        "nascar__spec": "0123456789abcdef",
        "nascar__owner": "alice",
    }
    if then is not None:
        tags["nascar__then"] = then
    return _run(instance, status, job="calibration_job", **tags)


def test_after_a_succeeded_calibration_the_launcher_reads_the_lineup_run_dagster_launches(launcher) -> None:  # type: ignore[no-untyped-def]
    dl, stub, instance = launcher
    cal = _calibration(instance, dg.DagsterRunStatus.SUCCESS, "r2", "scenario_set,lineups,dk_upload_csv")
    waiting = dl.run_status(cal)  # Dagster's sensor has not launched the lineup run yet
    assert (waiting.run_id, waiting.state, waiting.phase) == (cal, RunState.STARTED, "calibration")
    with pytest.raises(LauncherError):  # a cancel now has nothing to stop yet: asked again later
        dl.terminate(cal)
    lineup = _run(
        instance,
        dg.DagsterRunStatus.STARTED,
        **{
            REQUEST_TAG.replace("/", "__"): "r2",
            STEP_TAG.replace("/", "__"): "lineups",
            "dagster__partition": f"{RACE}|0123456789abcdef",
        },
    )
    again = dl.run_status(cal)
    assert again.run_id == lineup and again.state == RunState.STARTED
    dl.terminate(cal)
    (terminated,) = stub.of("terminateRun")
    assert terminated["runId"] == lineup  # the run that is running, not the finished calibration
    assert stub.of("launchRun") == []  # the API never launched the lineup run


def test_a_calibration_that_ends_its_plan_is_the_request_s_success(launcher) -> None:  # type: ignore[no-untyped-def]
    """The plan rebuilt calibration assets only (lineups current): no lineup run follows."""
    dl, stub, instance = launcher
    cal = _calibration(instance, dg.DagsterRunStatus.SUCCESS, "r3", None)
    status = dl.run_status(cal)
    assert (status.run_id, status.state, status.percent) == (cal, RunState.SUCCESS, 100.0)
    assert stub.of("launchRun") == []


def test_a_start_timeout_of_run_monitoring_reaches_the_status(launcher) -> None:  # type: ignore[no-untyped-def]
    dl, _, instance = launcher
    run_id = _run(
        instance,
        dg.DagsterRunStatus.FAILURE,
        **{"nascar__request_id": "r4", "dagster__failure_reason": "START_TIMEOUT"},
    )
    status = dl.run_status(run_id)
    assert status.state == RunState.FAILURE and status.failure_reason == "START_TIMEOUT"
    assert status.error_message == "the run worker did not start in time"


def test_launch_registers_spec_and_race_then_calibrates_first(launcher) -> None:  # type: ignore[no-untyped-def]
    dl, stub, instance = launcher
    instance.add_dynamic_partitions("race", [RACE])  # what the stubbed addDynamicPartition would do
    spec = ConstraintSpec(lineups=20, max_exposure=0.6)
    instance.add_dynamic_partitions("spec", [spec.key])
    request = LaunchRequest(
        request_id="req-9",
        race_id=RACE,
        spec_key=spec.key,
        spec_json=spec.canonical_json(),
        owner="alice",
        http_request_id="rid-1",
    )
    dl.launch(request)
    added = {(v["name"], v["key"]) for v in stub.of("addDynamicPartition")}
    assert added == {("race", RACE), ("spec", spec.key)}
    assert (dl.storage_root() / "specs" / f"{spec.key}.json").read_text() == spec.canonical_json()
    (launched,) = stub.of("launchRun")
    tags = {t["key"]: t["value"] for t in launched["params"]["executionMetadata"]["tags"]}
    assert launched["params"]["selector"]["jobName"] == "calibration_job"  # no model yet
    assert tags["dagster/partition"] == RACE and tags["nascar/spec"] == spec.key
    assert tags[REQUEST_TAG] == "req-9" and tags["nascar/http_request_id"] == "rid-1"
    assert tags["nascar/owner"] == "alice" and tags[STEP_TAG] == "calibration"
    assert tags["dagster/max_runtime"] == "3600"
    # What follows, for Dagster's sensor to launch: the plan's lineup step.
    assert tags["nascar/then"] == "scenario_set,lineups,dk_upload_csv"
