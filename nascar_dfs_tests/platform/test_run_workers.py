"""When a run's worker counts as gone (nascar_dfs/platform/run_workers.py), on a real instance with
real processes: a dead, zombie or reused pid, a code server that is gone, another host or boot.
The live platform (run monitoring and `nascar-dfs up` failing over real runs) is tested in
nascar_dfs_tests/reliability/test_recovery.py."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._core.test_utils import create_run_for_test

from nascar_dfs.platform.run_workers import (
    CLOCK_SLACK_S,
    HOST_TAG,
    LAUNCHER_TAG,
    OWN_CODE_SERVER_WAIT_S,
    Host,
    HostRunLauncher,
    fail_over_orphaned_runs,
    process_state,
    this_process,
    worker_health,
)

REPO = Path(__file__).resolve().parents[2]
HERE = Host.current()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def gone_socket(tmp_path: Path) -> str:
    """Where a code server listened before it was killed: the socket file is left, nobody listens."""
    path = tmp_path / "code-server.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()
    return str(path)


def _run(
    instance: dg.DagsterInstance,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
    host: Host | None = HERE,
    code_server: str | None = None,
) -> dg.DagsterRun:
    tags = {HOST_TAG: host.tag()} if host else {}
    if code_server:
        tags[GRPC_INFO_TAG] = json.dumps({"host": "localhost", "socket": code_server})
    return create_run_for_test(instance, job_name="lineup_job", status=status, tags=tags)


def _worker_started(
    instance: dg.DagsterInstance, run: dg.DagsterRun, pid: int, at: float | None = None
) -> None:
    """The engine event a run worker writes as it starts, optionally with another timestamp."""
    event = DagsterEvent(
        event_type_value=dg.DagsterEventType.ENGINE_EVENT.value,
        job_name=run.job_name,
        message=f"Started process for run (pid: {pid}).",
        event_specific_data=EngineEventData.in_process(pid),
        pid=pid,
    )
    instance.handle_new_event(
        EventLogEntry(
            error_info=None,
            level=logging.DEBUG,
            user_message="",
            run_id=run.run_id,
            timestamp=time.time() if at is None else at,
            dagster_event=event,
        )
    )


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "120"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait(10)
    assert process_state(proc.pid) is None
    return proc.pid


def test_a_dead_worker_whose_code_server_is_gone_is_not_found(
    instance: dg.DagsterInstance, gone_socket: str
) -> None:
    run = _run(instance, code_server=gone_socket)
    pid = _exited_pid()
    _worker_started(instance, run, pid)
    health = worker_health(instance, run)
    assert health.status is WorkerStatus.NOT_FOUND
    assert f"process {pid}" in (health.msg or "")


def test_a_live_worker_is_running_even_when_its_code_server_is_gone(
    instance: dg.DagsterInstance, gone_socket: str, live_process: subprocess.Popen[bytes]
) -> None:
    run = _run(instance, code_server=gone_socket)
    _worker_started(instance, run, live_process.pid)
    assert worker_health(instance, run).status is WorkerStatus.RUNNING


def test_a_pid_now_held_by_a_younger_process_is_not_found(
    instance: dg.DagsterInstance, gone_socket: str, live_process: subprocess.Popen[bytes]
) -> None:
    run = _run(instance, code_server=gone_socket)
    # The worker reported this pid long before the process now holding it started: pid reuse.
    _worker_started(instance, run, live_process.pid, at=time.time() - 10 * CLOCK_SLACK_S)
    health = worker_health(instance, run)
    assert health.status is WorkerStatus.NOT_FOUND
    assert "another process's" in (health.msg or "")


def test_a_zombie_worker_is_not_found(instance: dg.DagsterInstance, gone_socket: str) -> None:
    zombie = subprocess.Popen(["true"])  # exits, and stays a zombie until it is waited for
    try:
        deadline = time.monotonic() + 30
        while (state := process_state(zombie.pid)) is not None and not state.exited:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run = _run(instance, code_server=gone_socket)
        _worker_started(instance, run, zombie.pid)
        assert worker_health(instance, run).status is WorkerStatus.NOT_FOUND
    finally:
        zombie.wait(10)


def test_a_starting_run_without_a_worker_depends_on_its_code_server(
    instance: dg.DagsterInstance, gone_socket: str, tmp_path: Path
) -> None:
    orphan = _run(instance, dg.DagsterRunStatus.STARTING, code_server=gone_socket)
    assert worker_health(instance, orphan).status is WorkerStatus.NOT_FOUND
    missing = _run(instance, dg.DagsterRunStatus.STARTING, code_server=str(tmp_path / "removed" / "sock"))
    assert worker_health(instance, missing).status is WorkerStatus.NOT_FOUND
    # Something listens there but cannot be asked (not a code server, or a broken one): no proof.
    path = tmp_path / "listening.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen(8)
        hang_up = threading.Thread(target=_hang_up_on_everyone, args=(listener,), daemon=True)
        hang_up.start()
        launching = _run(instance, dg.DagsterRunStatus.STARTING, code_server=str(path))
        assert worker_health(instance, launching).status is WorkerStatus.RUNNING


def _hang_up_on_everyone(listener: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the listener is closed at the end of the test
        while True:
            listener.accept()[0].close()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, WorkerStatus.RUNNING),  # launched before this launcher, or by another one
        (replace(HERE, machine="other-machine", name="other"), WorkerStatus.RUNNING),
        (replace(HERE, pid_namespace="pid:[1]"), WorkerStatus.RUNNING),  # another container
        (replace(HERE, boot="an-earlier-boot"), WorkerStatus.NOT_FOUND),  # power loss, reboot
    ],
    ids=["no-host-record", "other-machine", "other-pid-namespace", "rebooted"],
)
def test_only_this_host_and_boot_can_prove_a_worker_gone(
    instance: dg.DagsterInstance, gone_socket: str, host: Host | None, expected: WorkerStatus
) -> None:
    run = _run(instance, host=host, code_server=gone_socket)
    _worker_started(instance, run, _exited_pid())
    assert worker_health(instance, run).status is expected


def test_fail_over_fails_or_cancels_only_runs_whose_worker_is_gone(
    instance: dg.DagsterInstance, gone_socket: str, live_process: subprocess.Popen[bytes]
) -> None:
    started = _run(instance, code_server=gone_socket)
    _worker_started(instance, started, _exited_pid())
    starting = _run(instance, dg.DagsterRunStatus.STARTING, code_server=gone_socket)
    canceling = _run(instance, dg.DagsterRunStatus.CANCELING, code_server=gone_socket)
    _worker_started(instance, canceling, _exited_pid())
    alive = _run(instance, code_server=gone_socket)
    _worker_started(instance, alive, live_process.pid)
    not_started = _run(instance, dg.DagsterRunStatus.NOT_STARTED)
    elsewhere = _run(instance, host=replace(HERE, machine="other-machine"), code_server=gone_socket)

    done = fail_over_orphaned_runs(instance, by="the test")

    assert {f.run_id for f in done} == {started.run_id, starting.run_id, canceling.run_id}
    status = {
        r.run_id: instance.get_run_by_id(r.run_id).status
        for r in (started, starting, canceling, alive, not_started, elsewhere)
    }
    assert status == {
        started.run_id: dg.DagsterRunStatus.FAILURE,
        starting.run_id: dg.DagsterRunStatus.FAILURE,
        canceling.run_id: dg.DagsterRunStatus.CANCELED,
        alive.run_id: dg.DagsterRunStatus.STARTED,
        not_started.run_id: dg.DagsterRunStatus.NOT_STARTED,
        elsewhere.run_id: dg.DagsterRunStatus.STARTED,
    }
    failed = instance.get_run_by_id(started.run_id)
    # Not a step failure: run_retries (retry_on_asset_or_op_failure: false) retries it.
    assert failed.tags["dagster/failure_reason"] == "UNEXPECTED_TERMINATION"
    messages = [r.event_log_entry.message for r in instance.get_records_for_run(started.run_id).records]
    assert any(m.startswith("Run worker gone") and "noticed by the test" in m for m in messages)
    assert fail_over_orphaned_runs(instance, by="the test") == []  # nothing twice


def test_a_daemon_waits_for_its_own_code_location_before_failing_its_own_run_over(
    instance: dg.DagsterInstance, gone_socket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run monitoring in the daemon that launched the run: its code server died with the worker,
    and Dagster could not retry the run until the daemon reloads its workspace."""
    launcher = HostRunLauncher()
    launcher.register_instance(instance)
    own = _run(instance, code_server=gone_socket)
    instance.add_run_tags(own.run_id, {LAUNCHER_TAG: this_process()})
    other = _run(instance, code_server=gone_socket)
    instance.add_run_tags(other.run_id, {LAUNCHER_TAG: "1 0.00"})  # a previous daemon
    for run in (own, other):
        _worker_started(instance, run, _exited_pid())
    own, other = instance.get_run_by_id(own.run_id), instance.get_run_by_id(other.run_id)

    assert launcher.check_run_worker_health(other).status is WorkerStatus.NOT_FOUND
    first = launcher.check_run_worker_health(own)
    assert first.status is WorkerStatus.RUNNING and "code location is back" in (first.msg or "")
    later = time.monotonic() + OWN_CODE_SERVER_WAIT_S + 1
    monkeypatch.setattr("nascar_dfs.platform.run_workers.time.monotonic", lambda: later)
    assert launcher.check_run_worker_health(own).status is WorkerStatus.NOT_FOUND


@pytest.mark.parametrize("yaml_file", ["dagster.yaml", "deploy/postgres/dagster.yaml"])
def test_the_instance_yaml_runs_the_health_checking_launcher(
    tmp_path: Path, yaml_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / yaml_file, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    for var, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "u",
        "DAGSTER_PG_PASSWORD": "p",
        "DAGSTER_PG_DB": "d",
    }.items():
        monkeypatch.setenv(var, value)
    ref = InstanceRef.from_dir(str(tmp_path))
    launcher = ref.run_launcher  # built from the YAML alone: no storage is opened
    assert isinstance(launcher, HostRunLauncher)
    assert launcher.supports_check_run_worker_health
