"""Dagster fault injection: a real webserver and daemon on the production instance settings
(deploy/postgres/dagster.yaml: PostgreSQL on loopback, queued coordinator, 2 concurrent runs, run
monitoring, one automatic retry), with a code location whose job only sleeps (fault_defs.py), so
the instance's behaviour is what is tested. A killed run worker and a cancel in each phase are
tested on real lineup requests in test_lineup_faults.py."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef
from dagster_graphql import DagsterGraphQLClient

from .servers import (
    DagsterProcesses,
    dagster_processes,
    postgres_available,
    postgres_instance_yaml,
    private_postgres,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.fault_injection,
    pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries not installed"),
]

MODULE = "nascar_dfs_tests.reliability.fault_defs"
TEST_TAG = "nascar-test/case"
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterProcesses]:
    with private_postgres() as pg:
        instance_yaml = postgres_instance_yaml(pg, "dagster")
        with dagster_processes(tmp_path_factory.mktemp("dagster"), MODULE, instance_yaml) as processes:
            yield processes


@pytest.fixture(scope="module")
def instance(stack: DagsterProcesses) -> Iterator[DagsterInstance]:
    # dagster.yaml reads DAGSTER_HOME through {env: ...}: point this process at the same instance.
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(stack.home)
    try:
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(stack.home))) as inst:
            yield inst
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def _submit(stack: DagsterProcesses, case: str, seconds: float, **tags: str) -> str:
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.port, timeout=60)
    return client.submit_job_execution(
        "sleep_job",
        run_config={"ops": {"sleep_then_succeed": {"config": {"seconds": seconds}}}},
        tags={TEST_TAG: case, **tags},
    )


def _runs(instance: DagsterInstance, case: str):  # type: ignore[no-untyped-def]
    return instance.get_runs(RunsFilter(tags={TEST_TAG: case}))


def _wait(condition, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _starts(instance: DagsterInstance, run_id: str) -> int:
    return len(instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START).records)


@pytest.mark.timeout(420)
def test_daemon_restart_with_queued_runs_starts_each_once(
    stack: DagsterProcesses, instance: DagsterInstance
) -> None:
    case = f"daemon-restart-{uuid.uuid4().hex[:8]}"
    # runs long enough that none finishes (and frees a slot) while the daemon is being stopped
    submitted = {_submit(stack, case, seconds=20) for _ in range(4)}

    def some_started_rest_queued() -> bool:
        statuses = [r.status for r in _runs(instance, case)]
        return DagsterRunStatus.STARTED in statuses and DagsterRunStatus.QUEUED in statuses

    _wait(some_started_rest_queued, 180, "a started run with others still queued")
    stack.daemon.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    try:
        stack.daemon.wait(30)  # type: ignore[union-attr]
        # Sampled once the daemon is gone: a run it dequeued while stopping is not "queued" here.
        queued = {r.run_id for r in _runs(instance, case) if r.status == DagsterRunStatus.QUEUED}
        assert queued, "every run left the queue before the daemon stopped"
        time.sleep(3)
        # Without a daemon nothing is dequeued, and nothing queued is lost.
        still = {r.run_id: r.status for r in _runs(instance, case)}
        assert queued <= set(still)
        assert all(still[run_id] == DagsterRunStatus.QUEUED for run_id in queued)
    finally:
        if stack.daemon.poll() is None:  # type: ignore[union-attr]
            stack.daemon.kill()  # type: ignore[union-attr]
            stack.daemon.wait(10)  # type: ignore[union-attr]
        stack.start_daemon()  # the module's other tests need a daemon whatever happened here

    _wait(lambda: all(r.status in DONE for r in _runs(instance, case)), 300, "every run to finish")
    runs = _runs(instance, case)
    assert {r.run_id for r in runs} == submitted, "a run was added (retry or duplicate) or lost"
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs), {r.run_id: r.status for r in runs}
    assert all(_starts(instance, run_id) == 1 for run_id in submitted)


def _worker_and_step_pids(instance: DagsterInstance, run_id: str) -> list[int]:
    """Pids of the run worker (its RUN_START event) and the step process (its STEP_START event):
    every event records the pid of the process that emitted it."""
    pids = []
    for event_type in (DagsterEventType.RUN_START, DagsterEventType.STEP_START):
        records = instance.get_records_for_run(run_id, of_type=event_type).records
        pids += [r.event_log_entry.dagster_event.pid for r in records if r.event_log_entry.dagster_event]
    return [pid for pid in pids if pid is not None]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.timeout(300)
def test_hung_run_worker_is_failed_by_its_max_runtime_tag(
    stack: DagsterProcesses, instance: DagsterInstance
) -> None:
    """A worker that neither exits nor progresses (SIGSTOP: a hung node, a dead mount) is invisible
    to the default launcher; the `dagster/max_runtime` tag every platform run carries is what ends
    it, so no run stays STARTED forever."""
    case = f"hung-{uuid.uuid4().hex[:8]}"
    run_id = _submit(stack, case, seconds=120, **{"dagster/max_runtime": "15"})
    _wait(lambda: bool(_worker_and_step_pids(instance, run_id)), 180, "the run worker to start")
    worker = _worker_and_step_pids(instance, run_id)[0]
    os.kill(worker, signal.SIGSTOP)
    try:
        _wait(lambda: instance.get_run_by_id(run_id).status in DONE, 120, "monitoring to end the run")
    finally:
        for pid in [*_children(worker), worker]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
    messages = [r.event_log_entry.message for r in instance.get_records_for_run(run_id).records]
    assert any("maximum runtime of 15 seconds" in m for m in messages), messages[-5:]
    assert not instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS).records
