"""The real launcher: launches and terminates through the Dagster webserver's GraphQL API and
reads run state and events from the Dagster instance (same DAGSTER_HOME) and outputs through the
platform's read surface (nascar_dfs.platform.reads).

A lineup request is planned with the platform's shared decision function, through its launch
surface (`nascar_dfs.platform.launch`, on the asset graph the webserver serves), and the API
launches the plan's first run only: the calibration run when the race's model or slate must be
built first, else the lineup run of the race x spec partition; when everything is current, no run
is needed and the request succeeds at once. The lineup run that follows a calibration is Dagster's
to launch (the run-status sensor of nascar_dfs/defs/lineups/sensors.py, exactly once per request);
afterwards this launcher only reads: every run carries the request id as a tag, by which the
request's runs are found (after a crash too).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from api.core.config import Settings
from api.orchestration.launcher import (
    LauncherError,
    LaunchRequest,
    ReoptimizationLaunch,
    RunAttempt,
    RunMetrics,
    RunResults,
    RunState,
    RunStatus,
)

log = logging.getLogger("api.dagster")

REUSED_PREFIX = "reused:"


def _platform():  # type: ignore[no-untyped-def]
    """The platform's launch surface (run-tag names, root-cause reading: nascar_dfs/platform/launch.py),
    imported on first use like the rest of the platform here (it imports Dagster)."""
    from nascar_dfs.platform import launch

    return launch


RETRY_WAIT_S = 120.0  # decided to retry: the daemon's retry run must appear within this
UNDECIDED_WAIT_S = 30.0  # failed with no retry decision recorded yet
_FAILURE_REASONS = {
    "UNEXPECTED_TERMINATION": "the run worker stopped unexpectedly (killed or crashed)",
    "RUN_WORKER_RESTART": "the run worker was restarted",
    "START_TIMEOUT": "the run worker did not start in time",
    "JOB_INITIALIZATION_FAILURE": "the run could not be initialised",
}
CALIBRATED = ("calibration", 40.0)  # calibration done, the lineup run not launched by Dagster yet
# progress share: calibration 0-40 %, scenarios 40-70 %, optimization 70-100 %
STEP_PHASES = {
    "scenario_set": ("scenarios", 40.0),
    "ownership_projection": ("optimization", 60.0),
    "contest_field": ("optimization", 65.0),
    "lineups": ("optimization", 70.0),
    "contest_report": ("optimization", 85.0),
    "dk_upload_csv": ("optimization", 90.0),
}

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}"""
_TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""
_ADD_PARTITION = """
mutation Add($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}"""
_REPOSITORIES = """
query { repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { name location { name } jobs { name } } } } }"""


class DagsterLauncher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._instance: Any = None
        self._location: str | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=settings.dagster_url.rstrip("/"), timeout=settings.dagster_timeout_s
        )

    # --- plumbing ---------------------------------------------------------------------------
    @property
    def instance(self) -> Any:
        with self._lock:
            if self._instance is None:
                import dagster as dg

                self._instance = dg.DagsterInstance.get()
            return self._instance

    def storage_root(self) -> Path:
        from nascar_dfs.platform.reads import storage_root

        return storage_root()

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self._http.post("/graphql", json={"query": query, "variables": variables})
            resp.raise_for_status()
            payload = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LauncherError(f"dagster webserver unreachable: {type(exc).__name__}") from exc
        if payload.get("errors"):
            raise LauncherError(f"dagster GraphQL error: {payload['errors'][0].get('message', '')[:300]}")
        return payload["data"]

    def _location_name(self) -> str:
        """The code location holding the lineup job (found once, then cached)."""
        from nascar_dfs.platform.launch import LINEUP_JOB

        if self._location is None:
            nodes = self._graphql(_REPOSITORIES, {})["repositoriesOrError"].get("nodes", [])
            for node in nodes:
                if any(j["name"] == LINEUP_JOB for j in node["jobs"]):
                    self._location = node["location"]["name"]
                    break
            else:
                self._location = self.settings.dagster_location
        return self._location

    def _repo(self) -> dict[str, str]:
        return {"repositoryLocationName": self._location_name(), "repositoryName": "__repository__"}

    def _add_partition(self, name: str, key: str) -> None:
        result = self._graphql(_ADD_PARTITION, {"repo": self._repo(), "name": name, "key": key})
        kind = result["addDynamicPartition"]["__typename"]
        if kind not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise LauncherError(f"addDynamicPartition {name}={key}: {kind}")

    def _launch_run(self, job: str, assets: tuple[str, ...], tags: dict[str, str]) -> str:
        selector: dict[str, Any] = {**self._repo(), "jobName": job}
        if assets:
            selector["assetSelection"] = [{"path": [a]} for a in assets]
        params = {
            "selector": selector,
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]},
        }
        result = self._graphql(_LAUNCH, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or str(result.get("errors", ""))[:300]
            raise LauncherError(f"launchRun {job}: {result['__typename']} {detail}")
        return result["run"]["runId"]

    # --- Launcher protocol -------------------------------------------------------------------
    def find_run(self, request_id: str) -> str | None:
        import dagster as dg

        from nascar_dfs.platform.launch import CALIBRATION, REQUEST_ID, STEP

        runs = self.instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_ID: request_id}))
        roots = [r for r in runs if _platform().PARENT_RUN_ID not in r.tags]
        if not roots:
            return None
        # The first step of the chain: calibration if there is one, else the lineup run.
        roots.sort(key=lambda r: (r.tags.get(STEP) != CALIBRATION, r.run_id))
        return roots[0].run_id

    def launch(self, request: LaunchRequest) -> str:
        from nascar_dfs.core.scenarios.spec import ConstraintSpec
        from nascar_dfs.platform import launch as platform

        spec = ConstraintSpec.model_validate_json(request.spec_json)
        if spec.key != request.spec_key:
            raise LauncherError(f"spec key mismatch {spec.key} != {request.spec_key}")
        platform.save_spec(spec)  # the file first: a spec partition never exists without its spec
        self._add_partition("race", request.race_id)
        self._add_partition("spec", request.spec_key)
        graph = platform.AssetGraph.from_graphql(self._graphql(platform.ASSET_GRAPH_QUERY, {}))
        plan = platform.plan_launch(
            self.instance, graph, request.race_id, spec, identity=request.identity_tags()
        )
        if plan.first is None:
            return f"{REUSED_PREFIX}{plan.partition}"
        # The first run only: when it is a calibration, it names the lineup run that follows,
        # which Dagster launches once it succeeded (nascar_dfs/platform/chain.py).
        return self._launch_run(plan.first.job, plan.first.assets, plan.first.tags)

    def launch_calibration(self, race_id: str, owner: str) -> str:
        from nascar_dfs.platform import launch as platform

        self._add_partition("race", race_id)
        tags = {
            **platform.run_tags(platform.CALIBRATION, "request", race_id),
            **platform.partition_tags(race_id),
            platform.OWNER: owner,
        }
        return self._launch_run(platform.CALIBRATION_JOB, (), tags)

    def find_reoptimization_run(self, reoptimization_id: str) -> str | None:
        import dagster as dg

        from nascar_dfs.platform import launch as platform

        wanted = dg.RunsFilter(tags={platform.REOPTIMIZATION_ID: reoptimization_id})
        runs = self.instance.get_runs(filters=wanted)
        roots = sorted((r for r in runs if platform.PARENT_RUN_ID not in r.tags), key=lambda r: r.run_id)
        return roots[0].run_id if roots else None

    def launch_reoptimization(self, request: ReoptimizationLaunch) -> str:
        from nascar_dfs.platform import launch as platform

        changes = platform.Changes.from_dict(request.changes)
        inputs = platform.Reoptimization(request.race_id, request.spec_key, request.entries_csv, changes)
        key = platform.save_reoptimization_inputs(inputs)  # the files first, then the partition
        self._add_partition(platform.REOPTIMIZATION, key)
        tags = {
            **platform.run_tags(platform.REOPTIMIZE, "request", request.race_id),
            platform.PARTITION: key,
            platform.REOPTIMIZATION_ID: request.reoptimization_id,
            platform.OWNER: request.owner,
        }
        return self._launch_run(platform.REOPTIMIZE_JOB, (), tags)

    def reoptimized_entries(self, run_id: str) -> str:
        from nascar_dfs.platform import launch as platform

        run = self._newest(run_id)
        if run is None:
            raise LauncherError(f"run {run_id} not found")
        try:
            return platform.stored_reoptimized_entries(run.tags[platform.PARTITION])
        except FileNotFoundError as exc:
            raise LauncherError(str(exc)) from exc

    def terminate(self, run_id: str) -> None:
        from nascar_dfs.platform import launch as platform

        if run_id.startswith(REUSED_PREFIX):
            return
        run = self._newest(run_id)
        if run is None:
            return
        if run.status.value == RunState.SUCCESS and platform.next_run(run.tags) is not None:
            # A calibration that succeeded: what runs now is the lineup run Dagster launches after
            # it; until it exists there is nothing to stop, so the outbox asks again later.
            lineup = self._lineup_run_of(run.tags[platform.REQUEST_ID])
            if lineup is None:
                raise LauncherError("the lineup run after the calibration is not launched yet")
            run = self._newest(lineup)
        result = self._graphql(_TERMINATE, {"runId": run.run_id})["terminateRun"]
        if result["__typename"] not in ("TerminateRunSuccess", "RunNotFoundError"):
            raise LauncherError(f"terminateRun: {result['__typename']} {result.get('message', '')[:200]}")

    def run_status(self, run_id: str) -> RunStatus:
        from nascar_dfs.platform import launch as platform

        if run_id.startswith(REUSED_PREFIX):
            return RunStatus(run_id, RunState.SUCCESS, "optimization", 100.0)
        run = self._newest(run_id)
        if run is None:
            return RunStatus(run_id, RunState.NOT_FOUND)
        state = RunState(run.status.value)
        if state == RunState.FAILURE and self._retry_pending(run):
            # The daemon creates the retry of a crashed run a few seconds after the failure: until
            # then the request is still in progress, not failed.
            state = RunState.STARTED
        reason = run.tags.get(_platform().FAILURE_REASON) if state == RunState.FAILURE else None
        if run.tags.get(platform.STEP) == platform.CALIBRATION:
            if state == RunState.SUCCESS and platform.next_run(run.tags) is not None:
                # Dagster launches the lineup run (nascar_dfs/defs/lineups/sensors.py): read it,
                # and until it appears the request is between its two runs.
                lineup = self._lineup_run_of(run.tags[platform.REQUEST_ID])
                if lineup is None:
                    return RunStatus(run.run_id, RunState.STARTED, *CALIBRATED)
                return self.run_status(lineup)
            if state == RunState.SUCCESS:  # the plan ended with the calibration: lineups are current
                return RunStatus(run.run_id, state, "optimization", 100.0)
            pct = 20.0 if state == RunState.STARTED else 0.0
            message = self._failure_message(run.run_id, state)
            return RunStatus(run.run_id, state, "calibration", pct, message, reason)
        phase, pct = self._progress(run.run_id, state)
        return RunStatus(run.run_id, state, phase, pct, self._failure_message(run.run_id, state), reason)

    def run_history(self, request_id: str) -> list[RunAttempt]:
        import dagster as dg

        from nascar_dfs.platform.launch import LINEUPS, REQUEST_ID, STEP

        records = self.instance.get_run_records(filters=dg.RunsFilter(tags={REQUEST_ID: request_id}))
        attempts = []
        for record in sorted(records, key=lambda r: (r.create_timestamp.timestamp(), r.dagster_run.run_id)):
            run = record.dagster_run
            state = RunState(run.status.value)
            attempts.append(
                RunAttempt(
                    run_id=run.run_id,
                    step=run.tags.get(STEP, LINEUPS),
                    attempt=int(run.tags.get(_platform().RETRY_NUMBER, "0")) + 1,
                    retry_of=run.tags.get(_platform().PARENT_RUN_ID),
                    state=state,
                    created_at=record.create_timestamp.timestamp(),
                    started_at=record.start_time,
                    ended_at=record.end_time,
                    failure=self._failure_message(run.run_id, state),
                )
            )
        return attempts

    def results(self, run_id: str) -> RunResults:
        """What the request's own run built (nascar_dfs.platform.reads.built_results), never the
        partition's newest files: a later rebuild of the partition by another request changes
        neither, and the CSV is the one written from these lineups."""
        from nascar_dfs.platform import reads

        partition = self._partition_of(run_id)
        race, spec = partition.split("|")
        # A request that reused everything has no run: it gets what is current now.
        bound_to = None if run_id.startswith(REUSED_PREFIX) else self._newest(run_id).run_id
        try:
            built = reads.built_results(self.instance, race, spec, bound_to)
        except (reads.ResultsNotFoundError, FileNotFoundError) as exc:
            raise LauncherError(str(exc)) from exc
        salaries = self._salaries(race, spec)
        lineups = [
            [
                {"name": name, "dk_id": int(dk), "salary": salaries.get(int(dk))}
                for name, dk in zip(lu.drivers, lu.dk_ids, strict=True)
            ]
            for lu in built.lineups.lineups
        ]
        return RunResults(
            lineups=lineups,
            upload_csv=built.upload_csv,
            contest=built.contest_report,
            warnings=built.warnings,
        )

    def run_metrics(self, run_id: str) -> RunMetrics | None:
        """Rejection figures of the scenario set and CRPS of the model built by this request's runs."""
        import dagster as dg

        if run_id.startswith(REUSED_PREFIX):
            return None
        proposals = rejections = 0
        crps: float | None = None
        for rid in self._chain(run_id):
            records = self.instance.get_records_for_run(
                rid, of_type={dg.DagsterEventType.ASSET_MATERIALIZATION}
            ).records
            for record in records:
                mat = record.event_log_entry.asset_materialization
                meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
                name = mat.asset_key.path[-1]
                if name == "scenario_set" and meta.get("draws"):
                    proposals = int(meta["draws"])
                    rejections = round(float(meta.get("rejection_rate", 0.0)) * proposals)
                if name == "calibrated_model" and meta.get("crps") is not None:
                    crps = float(meta["crps"])
        if proposals == 0 and crps is None:
            return None
        return RunMetrics("views", proposals, rejections, crps)

    def ping(self) -> None:
        self.instance.get_runs(limit=1)

    def daemon_heartbeat_age(self) -> float | None:
        beats = self.instance.get_daemon_heartbeats()
        if not beats:
            return None
        return time.time() - max(b.timestamp for b in beats.values())

    def races(self) -> list[str]:
        return list(self.instance.get_dynamic_partitions("race"))

    def add_race(self, race_id: str) -> None:
        self._add_partition("race", race_id)

    def calibrated_at(self, race_id: str) -> float | None:
        from nascar_dfs.platform import reads

        return reads.last_calibrated_at(self.instance, race_id)

    # --- helpers ---------------------------------------------------------------------------
    def _newest(self, run_id: str) -> Any:
        """Follow Dagster's auto-retries: the retry is a new run, whose id the failed run carries
        in its dagster/auto_retry_run_id tag."""
        run = self.instance.get_run_by_id(run_id)
        seen = set()
        while run is not None and run.tags.get(_platform().AUTO_RETRY_RUN_ID) and run.run_id not in seen:
            seen.add(run.run_id)
            nxt = self.instance.get_run_by_id(run.tags[_platform().AUTO_RETRY_RUN_ID])
            if nxt is None:
                break
            run = nxt
        return run

    def _retry_pending(self, run: Any) -> bool:
        """Whether Dagster may still retry this failed run (its newest of the chain).

        `dagster/will_retry` is written just after the failure (not in the same transaction), so
        for a moment a crashed run reads FAILURE with no decision yet; that moment is bounded by
        UNDECIDED_WAIT_S and the wait for the retry run by RETRY_WAIT_S, both after the run ended,
        unless the daemon has not read the failure yet (it failed while the platform was stopping).
        """
        decision = run.tags.get(_platform().WILL_RETRY)
        if decision == "false" or not self.instance.run_retries_enabled:
            return False
        limit = int(run.tags.get(_platform().MAX_RETRIES, self.instance.run_retries_max_retries))
        if int(run.tags.get(_platform().RETRY_NUMBER, "0")) >= limit:
            return False
        if decision == "true" and self._retry_daemon_behind(run.run_id):
            return True  # failed while the daemon was down (platform stopped): it retries on its return
        record = self.instance.get_run_record_by_id(run.run_id)
        ended = record.end_time if record is not None and record.end_time else time.time()
        wait_s = RETRY_WAIT_S if decision == "true" else UNDECIDED_WAIT_S
        return time.time() - ended < wait_s

    def _retry_daemon_behind(self, run_id: str) -> bool:
        """Whether Dagster's retry daemon has yet to read this run's failure: the cursor of its
        EventLogConsumerDaemon is still before the event. No cursor means a daemon that never ran,
        which skips every earlier failure."""
        import dagster as dg

        failure = dg.DagsterEventType.RUN_FAILURE
        records = self.instance.get_records_for_run(run_id, of_type=failure, limit=1, ascending=False).records
        key = f"EVENT_LOG_CONSUMER_CURSOR-{failure.value}"
        cursor = self.instance.daemon_cursor_storage.get_cursor_values({key}).get(key)
        return bool(records) and cursor is not None and int(cursor) < records[0].storage_id

    def _lineup_run_of(self, request_id: str) -> str | None:
        """The lineup run of the request (the first of its retry chain), once Dagster launched it."""
        import dagster as dg

        from nascar_dfs.platform.launch import LINEUPS, REQUEST_ID, STEP

        runs = self.instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_ID: request_id, STEP: LINEUPS}))
        roots = sorted((r for r in runs if _platform().PARENT_RUN_ID not in r.tags), key=lambda r: r.run_id)
        return roots[0].run_id if roots else None

    def _chain(self, run_id: str) -> list[str]:
        import dagster as dg

        from nascar_dfs.platform.launch import REQUEST_ID

        run = self.instance.get_run_by_id(run_id)
        if run is None or REQUEST_ID not in run.tags:
            return [run_id]
        runs = self.instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_ID: run.tags[REQUEST_ID]}))
        return [r.run_id for r in runs]

    def _partition_of(self, run_id: str) -> str:
        from nascar_dfs.platform import launch as platform

        if run_id.startswith(REUSED_PREFIX):
            return run_id.removeprefix(REUSED_PREFIX)
        run = self._newest(run_id)
        if run is None:
            raise LauncherError(f"run {run_id} not found")
        if run.tags.get(platform.STEP) == platform.CALIBRATION:
            return f"{run.tags[platform.PARTITION]}|{run.tags[platform.SPEC]}"
        return run.tags[platform.PARTITION]

    def _progress(self, run_id: str, state: RunState) -> tuple[str | None, float]:
        import dagster as dg

        if state in (RunState.QUEUED, RunState.NOT_STARTED, RunState.STARTING):
            return None, 0.0
        records = self.instance.get_records_for_run(run_id, of_type={dg.DagsterEventType.STEP_START}).records
        phase, pct = "scenarios", 40.0
        for record in records:
            step = (record.event_log_entry.step_key or "").split("[")[0]
            phase, pct = STEP_PHASES.get(step, (phase, pct))
        return phase, (100.0 if state == RunState.SUCCESS else pct)

    def _failure_message(self, run_id: str, state: RunState) -> str | None:
        import dagster as dg

        if state != RunState.FAILURE:
            return None
        # The asset's own error, not Dagster's "Error occurred while executing op ..." around it.
        cause = _platform().step_failure_message(self.instance, run_id)
        if cause:
            return cause
        records = self.instance.get_records_for_run(
            run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ).records
        # No step error: the run died from outside (worker killed, node lost). Dagster's reason
        # tag says which, where the event only says "marked as failed from outside".
        run = self.instance.get_run_by_id(run_id)
        reason = _FAILURE_REASONS.get(run.tags.get(_platform().FAILURE_REASON, "")) if run else None
        if reason:
            return reason
        return records[-1].event_log_entry.message if records else None

    def _salaries(self, race: str, spec_key: str) -> dict[int, int]:
        from nascar_dfs.platform import reads

        try:
            return reads.slate_salaries(race, spec_key)
        except Exception:  # salaries are a courtesy in the JSON; the CSV is the deliverable
            log.warning("could not read the slate of %s for salaries", race)
            return {}
