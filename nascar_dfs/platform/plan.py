"""One decision for "lineups for race x spec, please": what is reused and what must be (re)built.

The CLI demo, the tests and the REST API share it. A partition is reused when its latest
materialization was built by the current code from the current upstream versions and, for a
scenario set, is younger than the TTL; otherwise it and everything downstream of it are rebuilt.
Upstream identity is read from the metadata each asset records (model_version, slate_version,
scenario_version, lineups_version), so the decision needs only the instance, never the files.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import progress, race_calendar, starting_lineups, tags, versions
from nascar_dfs.platform.jobs import CALIBRATION_JOB, LINEUP_JOB
from nascar_dfs.platform.materializations import Materialized, latest_materialization, recorded
from nascar_dfs.platform.partitions import (
    RACE,
    race_spec_key,
    register_races,
    validate_race_key,
    validate_spec_key,
)
from nascar_dfs.platform.resources import scenario_ttl_hours as configured_ttl_hours
from nascar_dfs.platform.spec_store import register_spec_partition
from nascar_dfs.platform.storage import slate_upload_path


class UnknownRaceError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class RequestFailedError(RuntimeError):
    """A run of the plan failed; the message names the step and the failed checks."""


@dataclass(frozen=True)
class AssetGraph:
    """What the plan knows of the definitions: each asset's parents and code version, and which
    assets each job builds (upstream first). Read from the definitions themselves, in this process
    (`from_definitions`) or from the webserver that serves them (`from_graphql`, ASSET_GRAPH_QUERY),
    never kept by hand beside them."""

    parents: Mapping[str, frozenset[str]]
    code_versions: Mapping[str, str | None]
    job_assets: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(
        cls,
        parents: Mapping[str, Iterable[str]],
        code_versions: Mapping[str, str | None],
        jobs: Mapping[str, Iterable[str]],
    ) -> AssetGraph:
        frozen = {asset: frozenset(ups) for asset, ups in parents.items()}
        order = _upstream_first(frozen)
        job_assets = {
            job: tuple(a for a in order if a in set(assets))
            for job, assets in jobs.items()
            if not job.startswith("__")  # Dagster's implicit asset job
        }
        return cls(frozen, dict(code_versions), job_assets)

    @classmethod
    def from_definitions(cls, defs: dg.Definitions) -> AssetGraph:
        graph = defs.resolve_asset_graph()
        nodes = [graph.get(key) for key in graph.get_all_asset_keys()]
        return cls.build(
            {n.key.to_user_string(): [p.to_user_string() for p in n.parent_keys] for n in nodes},
            {n.key.to_user_string(): n.code_version for n in nodes},
            {
                job.name: [k.to_user_string() for k in job.asset_layer.selected_asset_keys]
                for job in defs.resolve_all_job_defs()
            },
        )

    @classmethod
    def from_graphql(cls, data: Mapping[str, Any]) -> AssetGraph:
        """From the webserver's answer to ASSET_GRAPH_QUERY (its `data` member)."""
        parents: dict[str, list[str]] = {}
        code_versions: dict[str, str | None] = {}
        jobs: dict[str, list[str]] = {}
        for node in data["assetNodes"]:
            name = "/".join(node["assetKey"]["path"])
            parents[name] = ["/".join(d["path"]) for d in node["dependencyKeys"]]
            code_versions[name] = node["opVersion"]
            for job in node["jobNames"]:
                jobs.setdefault(job, []).append(name)
        return cls.build(parents, code_versions, jobs)

    def descendants_in(self, job: str, asset: str) -> list[str]:
        """The assets of `job` downstream of `asset`, upstream first."""
        below: set[str] = set()
        for candidate in self.job_assets[job]:
            if self.parents[candidate] & (below | {asset}):
                below.add(candidate)
        return [a for a in self.job_assets[job] if a in below]


ASSET_GRAPH_QUERY = """
query AssetGraph {
  assetNodes { assetKey { path } dependencyKeys { path } opVersion jobNames }
}"""


def _upstream_first(parents: Mapping[str, frozenset[str]]) -> list[str]:
    """Every asset after its parents; assets of one depth in name order, so the order is stable."""
    depth: dict[str, int] = {}

    def depth_of(asset: str, seen: frozenset[str] = frozenset()) -> int:
        if asset not in depth:
            if asset in seen:
                raise ValueError(f"the asset graph has a cycle through {asset}")
            ups = parents.get(asset, frozenset())
            depth[asset] = 1 + max((depth_of(p, seen | {asset}) for p in ups), default=-1)
        return depth[asset]

    return sorted(parents, key=lambda a: (depth_of(a), a))


@dataclass(frozen=True)
class Step:
    """One run: these assets of this job, for this partition."""

    job: str
    partition: str
    assets: tuple[str, ...]

    @property
    def kind(self) -> str:
        return tags.CALIBRATION if self.job == CALIBRATION_JOB else tags.LINEUPS

    def run_tags(self, reason: str, race: str) -> dict[str, str]:
        """What the run is (kind, reason, race, runtime cap) and which partition it builds."""
        return {**tags.run_tags(self.kind, reason, race), **tags.partition_tags(*self.partition.split("|"))}


@dataclass(frozen=True)
class LineupPlan:
    race: str
    spec: str
    partition: str
    steps: tuple[Step, ...]
    reasons: dict[str, str] = field(default_factory=dict)  # asset -> why it is (re)built

    @property
    def reuses_everything(self) -> bool:
        return not self.steps

    @property
    def assets(self) -> list[str]:
        return [a for step in self.steps for a in step.assets]


def _stale_reason(
    graph: AssetGraph,
    record: Materialized | None,
    asset: str,
    upstream: dict[str, str | None],
    rebuilt: dict[str, str],
    root: Path | None,
) -> str | None:
    """Why `asset` must be rebuilt, or None to reuse it.

    `upstream` maps a metadata key recorded on this asset to the current value of that upstream
    identity; `rebuilt` holds the assets this plan already rebuilds.
    """
    if record is None:
        return "never materialized"
    if _file_missing(record, root):
        return f"stored file {record.value('path')} is missing"
    if record.code_version != graph.code_versions[asset]:
        return f"code version {record.code_version} -> {graph.code_versions[asset]}"
    for parent in rebuilt:
        if parent in graph.parents[asset]:
            return f"{parent} is rebuilt"
    for key, current in upstream.items():
        if current is not None and record.value(key) != current:
            return f"{key} changed ({record.value(key)} -> {current})"
    return None


def _file_missing(record: Materialized, root: Path | None) -> bool:
    """The instance remembers the output but the IO manager would not find its file: wiped, or
    written under another storage root (two deployments sharing one database)."""
    path = record.value("path")
    if path is None:
        return False
    stored = Path(str(path))
    return not stored.exists() or (root is not None and not stored.resolve().is_relative_to(root.resolve()))


def _slate_reason(
    graph: AssetGraph, instance: dg.DagsterInstance, race: str, upload: Path | None, root: Path | None
) -> str | None:
    record = latest_materialization(instance, "race_slate", race)
    if record is None:
        return "never materialized"
    if _file_missing(record, root):
        return "stored file is missing"
    if record.code_version != graph.code_versions["race_slate"]:
        return "code version changed"
    if upload is not None and upload.exists():
        current = versions.digest(upload.read_bytes().hex())
        if record.value("slate_version") != current:
            return "a new slate was uploaded"
    return None


def plan_lineup_request(
    instance: dg.DagsterInstance,
    race: str,
    spec_key: str,
    *,
    graph: AssetGraph,
    scenario_ttl_hours: float | None = None,
    slate_upload: Path | None = None,
    storage_root: Path | None = None,
    now: float | None = None,
    contest: bool = False,
    slate_version: str | None = None,
    calendar_version: str | None = None,
    starts_version: str | None = None,
) -> LineupPlan:
    """What to materialize so that race x spec has current lineups (read-only: adds nothing).

    The TTL defaults to the configured one (resources.scenario_ttl_hours). With `storage_root`, an
    output whose recorded file is not under it counts as missing. With `contest` (the spec names
    one) the ownership projection, the contest field and the contest report are part of the plan,
    and the lineups depend on the field. With `slate_version` (the spec pinned one) the scenario set
    is current only if it was built from that version, whatever the race's current slate is. With
    `calendar_version` (race_calendar.calendar_version) the race history is rebuilt when the
    platform's calendar changed since it was built (a race was added); with `starts_version`
    (starting_lineups.starts_version) the scenario set is rebuilt when the race's starting lineup
    changed since it was built.
    """
    validate_race_key(race)
    validate_spec_key(spec_key)
    if not instance.has_dynamic_partition(RACE, race):
        raise UnknownRaceError(f"race {race} is not a registered race partition")
    ttl_hours = configured_ttl_hours() if scenario_ttl_hours is None else scenario_ttl_hours
    partition = str(race_spec_key(race, spec_key))
    now = time.time() if now is None else now
    rebuilt: dict[str, str] = {}

    # History and model are refreshed by the schedule, the sensor or the UI; a lineup request
    # only builds them when missing (or built by older code), never refits a current model.
    history = latest_materialization(instance, "race_history")
    if history is None or _file_missing(history, storage_root):
        rebuilt["race_history"] = "never materialized" if history is None else "stored file is missing"
    elif calendar_version is not None and (history.value("calendar_version") or "") != calendar_version:
        rebuilt["race_history"] = "the race calendar changed"
    reason = _slate_reason(graph, instance, race, slate_upload, storage_root)
    if reason:
        rebuilt["race_slate"] = reason
    model = latest_materialization(instance, "calibrated_model", race)
    reason = _stale_reason(graph, model, "calibrated_model", {}, {}, storage_root)
    if reason:
        rebuilt["calibrated_model"] = reason

    def identity(asset: str, partition_key: str, key: str) -> str | None:
        return recorded(instance, asset, partition_key, key)

    scenarios = latest_materialization(instance, "scenario_set", partition)
    reason = _stale_reason(
        graph,
        scenarios,
        "scenario_set",
        {
            "model_version": identity("calibrated_model", race, "model_version"),
            "slate_version": slate_version or identity("race_slate", race, "slate_version"),
            "starts_version": starts_version,
        },
        rebuilt,
        storage_root,
    )
    if reason is None and scenarios is not None and now - scenarios.timestamp > ttl_hours * 3600:
        reason = f"older than the {ttl_hours:g} h TTL"
    if reason:
        rebuilt["scenario_set"] = reason

    def planned(asset: str, upstream: dict[str, str | None]) -> None:
        record = latest_materialization(instance, asset, partition)
        reason = _stale_reason(graph, record, asset, upstream, rebuilt, storage_root)
        if reason:
            rebuilt[asset] = reason

    if contest:
        planned(
            "ownership_projection",
            {"scenario_version": identity("scenario_set", partition, "scenario_version")},
        )
        planned(
            "contest_field",
            {"ownership_version": identity("ownership_projection", partition, "ownership_version")},
        )
    planned(
        "lineups",
        {
            "scenario_version": identity("scenario_set", partition, "scenario_version"),
            "field_version": identity("contest_field", partition, "field_version") if contest else None,
        },
    )
    lineups_version = identity("lineups", partition, "lineups_version")
    if contest:
        planned("contest_report", {"lineups_version": lineups_version})
    planned("dk_upload_csv", {"lineups_version": lineups_version})
    return LineupPlan(race, spec_key, partition, _steps(graph, race, partition, rebuilt), rebuilt)


def _steps(graph: AssetGraph, race: str, partition: str, rebuilt: dict[str, str]) -> tuple[Step, ...]:
    calibration = [a for a in graph.job_assets[CALIBRATION_JOB] if a in rebuilt]
    if "calibrated_model" in rebuilt:
        # What summarizes the models (calibration_history) follows a new one in the same run.
        calibration += [
            a for a in graph.descendants_in(CALIBRATION_JOB, "calibrated_model") if a not in rebuilt
        ]
    lineup = [a for a in graph.job_assets[LINEUP_JOB] if a in rebuilt]
    steps = []
    if calibration:
        steps.append(Step(CALIBRATION_JOB, race, tuple(calibration)))
    if lineup:
        steps.append(Step(LINEUP_JOB, partition, tuple(lineup)))
    return tuple(steps)


@dataclass(frozen=True)
class StepResult:
    step: Step
    run_id: str
    seconds_per_asset: dict[str, float]


def execute_plan_in_process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    plan: LineupPlan,
    reason: str,
    *,
    on_run: Callable[[Step, str], None] | None = None,
    on_step: Callable[[progress.StepReport], None] | None = None,
    log_level: str | None = None,
) -> list[StepResult]:
    """Run the plan's steps one after another in this process, on `instance`. `on_run(step, run_id)`
    is called as each run starts and `on_step` as each of its steps finishes (progress.py);
    `log_level` sets Dagster's console logger (None: its default, every event at DEBUG)."""
    results = []
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}} if log_level else None
    for step in plan.steps:
        job = defs.resolve_job_def(step.job)
        run_id = str(uuid.uuid4())
        if on_run is not None:
            on_run(step, run_id)
        if on_step is not None:
            instance.add_event_listener(run_id, progress.StepWatcher(run_id, on_step))
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=step.partition,
            asset_selection=[dg.AssetKey(a) for a in step.assets],
            run_id=run_id,
            tags=tags.run_tags(step.kind, reason, plan.race),
            raise_on_error=False,
        )
        if not result.success:
            raise RequestFailedError(_failure_message(step, result))
        results.append(StepResult(step, result.run_id, _step_seconds(instance, result.run_id)))
    return results


def _failure_message(step: Step, result: dg.ExecuteInProcessResult) -> str:
    failed_checks = [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    # The exception the asset raised (the data error, the infeasible spec, the unknown driver), not
    # Dagster's "Error occurred while executing op ..." around it.
    errors = [
        progress.root_cause(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is not None
    ]
    detail = "; ".join(errors) or "no step error recorded"
    checks = f" (failed checks: {', '.join(failed_checks)})" if failed_checks else ""
    return f"{step.job} for {step.partition} failed{checks}: {detail}"


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Wall time of each step of a run, from its STEP_START / STEP_SUCCESS events."""
    records = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    ).records
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for record in records:
        entry = record.event_log_entry
        key = entry.step_key or ""
        if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
            started[key] = entry.timestamp
        elif key in started:
            seconds[key] = round(entry.timestamp - started[key], 3)
    return seconds


def request_lineups(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    race: str,
    spec: ConstraintSpec,
    *,
    storage_root: Path,
    scenario_ttl_hours: float | None = None,
    reason: str = "request",
    register_race: bool = False,
    on_plan: Callable[[LineupPlan], None] | None = None,
    on_run: Callable[[Step, str], None] | None = None,
    on_step: Callable[[progress.StepReport], None] | None = None,
    log_level: str | None = None,
) -> tuple[LineupPlan, list[StepResult]]:
    """Register the spec (and optionally the race), plan, and run the plan in this process
    (`on_plan` sees the plan before any run starts; the rest: execute_plan_in_process)."""
    if register_race:
        register_races(instance, [race])
    spec_key = register_spec_partition(instance, storage_root, spec)
    plan = plan_lineup_request(
        instance,
        race,
        spec_key,
        graph=AssetGraph.from_definitions(defs),
        scenario_ttl_hours=scenario_ttl_hours,
        slate_upload=slate_upload_path(storage_root, race),
        storage_root=storage_root,
        contest=spec.contest is not None,
        slate_version=spec.slate_version,
        calendar_version=race_calendar.calendar_version(storage_root),
        starts_version=starting_lineups.starts_version(storage_root, race),
    )
    if on_plan is not None:
        on_plan(plan)
    results = execute_plan_in_process(
        defs, instance, plan, reason, on_run=on_run, on_step=on_step, log_level=log_level
    )
    return plan, results
