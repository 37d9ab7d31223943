"""Whether the worker of a Dagster run still exists on this host, and failing over runs whose worker is gone.

Dagster's DefaultRunLauncher cannot see a dead run worker: after a host crash (every process
killed, or a power loss) a run stays STARTING until run monitoring's start timeout fails it, or
STARTED until its `dagster/max_runtime` tag runs out (15 min for a lineup run, an hour for a
calibration). `HostRunLauncher` is that launcher plus `check_run_worker_health`, so run
monitoring fails a run on its next pass once its worker is provably gone, and Dagster's own run
retries (`run_retries` in dagster.yaml) re-run it; `fail_over_orphaned_runs` applies the same
check to the runs a previous `nascar-dfs up` left STARTING, STARTED or CANCELING (monitoring
checks worker health only for STARTED runs).

"Provably gone" is deliberately narrow. At launch the run is tagged with the host its worker
will run on (this machine, this boot, this pid namespace; only when the code server is local).
The worker records its pid itself ("Started process for run (pid: N)", an engine event). Then:

- another machine, or another pid namespace of this boot: nothing can be proved -> RUNNING;
- this machine after a reboot: every process of the earlier boot is gone -> NOT_FOUND;
- the code server that launched the run still lists it among its executions -> RUNNING (it
  reports its worker's death itself, within a second);
- the worker's pid is known: it is gone if no such process exists, it is a zombie, or the
  process with that pid started after the worker had already reported it (the pid was reused);
- no pid yet (still STARTING): gone only if the code server refuses connections (no process
  is left to start the worker); otherwise RUNNING, and the start timeout still applies.

When the daemon doing the check launched the run itself, the dead code server was its own and its
code location stays broken until it reloads its workspace; run monitoring then waits for that
(OWN_CODE_SERVER_WAIT_S) before failing the run, or Dagster's retry of it would fail too.

Anything unreadable counts as RUNNING: a wrong "gone" would fail a live run and start a second
worker beside it, a wrong "running" only falls back to the timeouts that applied before.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, LaunchRunContext, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._serdes.config_class import ConfigurableClassData

PROC = Path("/proc")
HOST_TAG = "nascar/run-worker-host"
LAUNCHER_TAG = "nascar/run-launched-by"  # pid and start time of the process that launched the run
# The engine event Dagster's run worker writes as it starts (code-server and CLI workers alike).
WORKER_STARTED_PREFIX = "Started process for run (pid: "
# A clock step forward between the worker's start and its engine event must not read as a
# reused pid; a pid reused within this long after the worker reported it is not detected.
CLOCK_SLACK_S = 60.0
PROBE_TIMEOUT_S = 2.0
GRPC_TIMEOUT_S = 10  # DagsterGrpcClient's default is 60 s: a monitoring pass must not hang on one run
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# Dagster's daemon reloads its workspace (restarting dead code servers) every 60 s
# (its RELOAD_WORKSPACE_INTERVAL); then the new code server must load.
OWN_CODE_SERVER_WAIT_S = 60.0 + 30.0
ORPHAN_STATUSES = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class Host:
    """Where a process runs: pids are comparable only within one machine, boot and pid namespace."""

    machine: str
    boot: str
    pid_namespace: str
    name: str

    @classmethod
    def current(cls) -> Host:
        name = socket.gethostname()
        return cls(
            machine=_read("/etc/machine-id") or name,
            boot=_read("/proc/sys/kernel/random/boot_id"),
            pid_namespace=_readlink("/proc/self/ns/pid"),
            name=name,
        )

    def tag(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_tag(cls, value: str | None) -> Host | None:
        try:
            return cls(**json.loads(value)) if value else None
        except (TypeError, ValueError):
            return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@dataclass(frozen=True)
class ProcessState:
    pid: int
    state: str  # one letter of /proc/<pid>/stat: R, S, D, Z (zombie), X (dead), ...
    ppid: int
    session: int
    started_at: float  # epoch seconds (whole-second boot time + clock ticks: can read up to 1 s early)

    @property
    def exited(self) -> bool:
        return self.state in ("Z", "X")


def process_state(pid: int) -> ProcessState | None:
    """The process `pid` on this host from /proc, or None if there is none (or no /proc)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        ticks = int(fields[19])
        return ProcessState(
            pid=pid,
            state=fields[0],
            ppid=int(fields[1]),
            session=int(fields[3]),
            started_at=_boot_time() + ticks / os.sysconf("SC_CLK_TCK"),
        )
    except (IndexError, ValueError):
        return None


def _boot_time() -> float:
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


def worker_pid(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when it was reported) of the run's latest run worker, from the run's event log."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in reversed(records):
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(WORKER_STARTED_PREFIX):
            continue
        metadata = getattr(event.event_specific_data, "metadata", None) or {}
        raw = getattr(metadata.get("pid"), "value", None) or event.pid
        try:
            return int(raw), entry.timestamp
        except (TypeError, ValueError):
            return None
    return None


class CodeServer(Enum):
    LISTS_RUN = "lists the run"
    ALIVE = "alive, not executing the run"
    GONE = "gone"
    UNKNOWN = "unknown"


def code_server_state(run: DagsterRun) -> CodeServer:
    """What the code server the run was launched on says about it (DefaultRunLauncher's tag)."""
    try:
        info = json.loads(run.tags[GRPC_INFO_TAG])
    except (KeyError, TypeError, ValueError):
        return CodeServer.UNKNOWN
    path, port, host = info.get("socket"), info.get("port"), info.get("host") or "localhost"
    try:
        if path:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(PROBE_TIMEOUT_S)
                probe.connect(path)
        elif port and host in LOOPBACK:
            socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
        else:
            return CodeServer.UNKNOWN
    except (FileNotFoundError, ConnectionRefusedError):
        return CodeServer.GONE  # nothing listens where the code server was
    except OSError:
        return CodeServer.UNKNOWN
    from dagster._grpc.__generated__ import dagster_api_pb2
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._grpc.types import GetCurrentRunsResult
    from dagster._serdes import deserialize_value

    try:
        client = DagsterGrpcClient(port=port, socket=path, host=host, use_ssl=bool(info.get("use_ssl")))
        # client.get_current_runs() with a bounded timeout
        reply = client._query("GetCurrentRuns", dagster_api_pb2.Empty, timeout=GRPC_TIMEOUT_S)
        current = deserialize_value(reply.serialized_current_runs, GetCurrentRunsResult).current_runs
    except Exception:  # busy or another server on that address: cannot tell
        return CodeServer.UNKNOWN
    return CodeServer.LISTS_RUN if run.run_id in current else CodeServer.ALIVE


def worker_health(
    instance: DagsterInstance, run: DagsterRun, here: Host | None = None
) -> CheckRunHealthResult:
    """RUNNING unless the run's worker is provably gone (module docstring), then NOT_FOUND."""
    if not PROC.is_dir():
        return _running("processes cannot be looked up on this system (no /proc)")
    here = here or Host.current()
    launched_on = Host.from_tag(run.tags.get(HOST_TAG))
    if launched_on is None:
        return _running("no record of the host its worker runs on")
    if launched_on.machine != here.machine:
        return _running(f"its worker runs on {launched_on.name}, not on this host")
    if launched_on.boot != here.boot:
        return _gone(f"host {here.name} restarted since the run was launched")
    if launched_on.pid_namespace != here.pid_namespace:
        return _running("its worker runs in another pid namespace (container) of this host")
    server = code_server_state(run)
    if server is CodeServer.LISTS_RUN:
        return _running("its code server is executing it")
    if server is CodeServer.UNKNOWN:
        return _running("its code server could not be asked")
    reported = worker_pid(instance, run.run_id)
    if reported is None:
        if server is CodeServer.GONE:
            return _gone("no run worker was started and the code server launching it is gone")
        return _running("its worker has not started yet")
    pid, reported_at = reported
    process = process_state(pid)
    if process is None or process.exited:
        return _gone(f"the run worker (process {pid}) no longer exists")
    if process.started_at > reported_at + CLOCK_SLACK_S:
        return _gone(f"the run worker (process {pid}) no longer exists; its pid is another process's now")
    return _running(f"the run worker (process {pid}) is alive")


def _running(why: str) -> CheckRunHealthResult:
    return CheckRunHealthResult(WorkerStatus.RUNNING, why)


def _gone(why: str) -> CheckRunHealthResult:
    return CheckRunHealthResult(WorkerStatus.NOT_FOUND, why)


def this_process() -> str:
    """pid and start time of this process: who launched a run (LAUNCHER_TAG)."""
    me = process_state(os.getpid())
    return f"{os.getpid()} {me.started_at:.2f}" if me else str(os.getpid())


class HostRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher (runs on the workspace's code servers) that run monitoring can ask
    whether a run's worker still exists; configured as `run_launcher` in dagster.yaml."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(inst_data)
        self._gone_since: dict[str, float] = {}

    def launch_run(self, context: LaunchRunContext) -> None:
        location = _code_location_of(context)
        host = getattr(location, "host", None)
        if getattr(location, "socket", None) or host in LOOPBACK:
            # Before the launch: a worker that exists must already carry its host.
            tags = {HOST_TAG: Host.current().tag(), LAUNCHER_TAG: this_process()}
            self._instance.add_run_tags(context.dagster_run.run_id, tags)
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        health = worker_health(self._instance, run)
        if health.status is not WorkerStatus.NOT_FOUND or run.tags.get(LAUNCHER_TAG) != this_process():
            self._gone_since.pop(run.run_id, None)
            return health
        # This daemon launched the run, so the code server that died with its worker was this
        # daemon's own, and its code location stays broken until the daemon reloads its workspace.
        # Dagster's retry of a run failed before then fails too ("Failed to retry run"), for good.
        first = self._gone_since.setdefault(run.run_id, time.monotonic())
        if time.monotonic() - first < OWN_CODE_SERVER_WAIT_S:
            return _running(f"{health.msg}; failed over once this daemon's code location is back")
        del self._gone_since[run.run_id]
        return health


def _code_location_of(context: LaunchRunContext) -> Any:
    origin = context.dagster_run.remote_job_origin
    if context.workspace is None or origin is None:
        return None
    try:
        return context.workspace.get_code_location(
            origin.repository_origin.code_location_origin.location_name
        )
    except Exception:  # the launch itself reports an unreachable location
        return None


@dataclass(frozen=True)
class FailedOver:
    run_id: str
    job_name: str
    was: str
    reason: str


def fail_over_orphaned_runs(instance: DagsterInstance, by: str) -> list[FailedOver]:
    """Fail (or, if canceling, cancel) every unfinished run whose worker is provably gone, so
    Dagster's run retries re-run it; `by` names who noticed, for the run's event log."""
    here = Host.current()
    done = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=ORPHAN_STATUSES)):
        run = record.dagster_run
        health = worker_health(instance, run, here)
        if health.status is not WorkerStatus.NOT_FOUND:
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != run.status:
            continue  # it moved on while we looked
        message = f"Run worker gone: {health.msg} (noticed by {by})."
        if run.status == DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message)
        else:
            failure = JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION)
            instance.report_run_failed(run, message, failure)
        done.append(FailedOver(run.run_id, run.job_name, run.status.value, health.msg or ""))
    return done


def descendants(root: int) -> list[ProcessState] | None:
    """Every process below `root` on this host (children, their children, ...), from /proc;
    None where there is no /proc to read."""
    if not PROC.is_dir():
        return None
    by_parent: dict[int, list[ProcessState]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (state := process_state(int(entry.name))) is not None:
            by_parent.setdefault(state.ppid, []).append(state)
    found, todo = [], [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found
