"""Dagster fault injection: a real webserver and daemon on the project's dagster.yaml (queued
coordinator, 2 concurrent runs, run monitoring, one automatic retry), with a code location whose
job only sleeps (fault_defs.py), so the instance's behaviour is what is tested."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.instance.ref import InstanceRef
from dagster_graphql import DagsterGraphQLClient

from .servers import DagsterProcesses, dagster_processes

pytestmark = [pytest.mark.slow, pytest.mark.fault_injection]

MODULE = "nascar_dfs_tests.reliability.fault_defs"
TEST_TAG = "nascar-test/case"
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterProcesses]:
    with dagster_processes(tmp_path_factory.mktemp("dagster"), MODULE) as processes:
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


def _submit(stack: DagsterProcesses, case: str, seconds: float) -> str:
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.port, timeout=60)
    return client.submit_job_execution(
        "sleep_job",
        run_config={"ops": {"sleep_then_succeed": {"config": {"seconds": seconds}}}},
        tags={TEST_TAG: case},
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
    submitted = {_submit(stack, case, seconds=6) for _ in range(4)}

    def some_started_rest_queued() -> bool:
        statuses = [r.status for r in _runs(instance, case)]
        return DagsterRunStatus.STARTED in statuses and DagsterRunStatus.QUEUED in statuses

    _wait(some_started_rest_queued, 180, "a started run with others still queued")
    queued_before = {r.run_id for r in _runs(instance, case) if r.status == DagsterRunStatus.QUEUED}
    stack.daemon.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    stack.daemon.wait(30)  # type: ignore[union-attr]
    time.sleep(3)
    # Without a daemon nothing is dequeued, and nothing queued is lost.
    still = {r.run_id: r.status for r in _runs(instance, case)}
    assert queued_before <= set(still)
    assert all(still[run_id] == DagsterRunStatus.QUEUED for run_id in queued_before)
    stack.start_daemon()

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


@pytest.mark.timeout(420)
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_run_worker_is_retried_to_success(
    stack: DagsterProcesses, instance: DagsterInstance, signum: signal.Signals
) -> None:
    """SIGKILL: a crash (worker and step child die). SIGTERM: an eviction; the worker forwards it
    to its step and the run must end failed and be retried, never stay STARTED."""
    case = f"kill-{signum.name}-{uuid.uuid4().hex[:8]}"
    run_id = _submit(stack, case, seconds=20)
    _wait(lambda: instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED, 180, "the run to start")
    # Kill while the op is sleeping: both the worker and its step started.
    _wait(lambda: len(_worker_and_step_pids(instance, run_id)) == 2, 60, "the step to start")
    worker, step = _worker_and_step_pids(instance, run_id)
    for pid in (worker, step) if signum == signal.SIGKILL else (worker,):
        os.kill(pid, signum)

    _wait(lambda: instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE, 120, "the run to fail")
    retried = lambda: [r for r in _runs(instance, case) if r.tags.get("dagster/parent_run_id") == run_id]  # noqa: E731
    _wait(lambda: bool(retried()), 120, "the automatic retry")
    (retry,) = retried()
    _wait(lambda: instance.get_run_by_id(retry.run_id).status in DONE, 180, "the retry to finish")
    assert instance.get_run_by_id(retry.run_id).status == DagsterRunStatus.SUCCESS
    assert retry.tags["dagster/retry_number"] == "1"
    assert instance.get_run_by_id(run_id).tags.get("dagster/will_retry") == "true"
    assert len(_runs(instance, case)) == 2  # one retry only (max_retries: 1)


@pytest.mark.timeout(420)
def test_cancel_ends_queued_and_running_runs_canceled_before_their_step_finishes(
    stack: DagsterProcesses, instance: DagsterInstance
) -> None:
    case = f"cancel-{uuid.uuid4().hex[:8]}"
    run_ids = [_submit(stack, case, seconds=60) for _ in range(3)]

    def two_started_one_queued() -> bool:
        statuses = sorted(instance.get_run_by_id(r).status.value for r in run_ids)
        return statuses.count("STARTED") == 2 and statuses.count("QUEUED") == 1

    _wait(two_started_one_queued, 180, "two started runs and one queued (max_concurrent_runs: 2)")
    _wait(
        lambda: all(
            len(_worker_and_step_pids(instance, r)) == 2
            for r in run_ids
            if instance.get_run_by_id(r).status == DagsterRunStatus.STARTED
        ),
        60,
        "steps to start",
    )
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.port, timeout=60)
    for run_id in run_ids:
        client.terminate_run(run_id)

    _wait(lambda: all(instance.get_run_by_id(r).status in DONE for r in run_ids), 120, "the runs to end")
    assert [instance.get_run_by_id(r).status for r in run_ids] == [DagsterRunStatus.CANCELED] * 3
    # The 60 s step was interrupted, not waited for; and a user cancel is not retried.
    assert all(
        not instance.get_records_for_run(r, of_type=DagsterEventType.STEP_SUCCESS).records for r in run_ids
    )
    assert len(_runs(instance, case)) == 3
