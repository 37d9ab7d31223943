"""One decision for "lineups for race x spec, please": what is reused and what must be (re)built.

The CLI demo, the tests and the REST API share it. A partition is reused when its latest
materialization was built by the current code from the current upstream versions and, for a
scenario set, is younger than the TTL; otherwise it and everything downstream of it are rebuilt.
Upstream identity is read from the metadata each asset records (model_version, slate_version,
scenario_version, lineups_version), so the decision needs only the instance, never the files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.defs.calibration.jobs import CALIBRATION_JOB
from nascar_dfs.defs.lineups.jobs import LINEUP_JOB
from nascar_dfs.platform import tags, versions
from nascar_dfs.platform.materializations import Materialized, latest_materialization
from nascar_dfs.platform.partitions import (
    RACE,
    SPEC,
    race_spec_key,
    register_races,
    validate_race_key,
    validate_spec_key,
)
from nascar_dfs.platform.spec_store import register_spec_partition

CODE_VERSIONS = {
    "race_history": versions.RACE_HISTORY_CODE,
    "race_slate": versions.RACE_SLATE_CODE,
    "calibrated_model": versions.CALIBRATED_MODEL_CODE,
    "scenario_set": versions.SCENARIO_SET_CODE,
    "lineups": versions.LINEUPS_CODE,
    "dk_upload_csv": versions.DK_UPLOAD_CODE,
    "ownership_projection": versions.OWNERSHIP_CODE,
    "contest_field": versions.CONTEST_FIELD_CODE,
    "contest_report": versions.CONTEST_REPORT_CODE,
}


class UnknownRaceError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class RequestFailedError(RuntimeError):
    """A run of the plan failed; the message names the step and the failed checks."""


@dataclass(frozen=True)
class Step:
    """One run: these assets of this job, for this partition."""

    job: str
    partition: str
    assets: tuple[str, ...]

    def launch_tags(self) -> dict[str, str]:
        """Partition tags a launch from outside needs (all three for race x spec, dagster.md §1)."""
        out = {"dagster/partition": self.partition}
        if "|" in self.partition:
            race, spec = self.partition.split("|")
            out.update({f"dagster/partition/{RACE}": race, f"dagster/partition/{SPEC}": spec})
        return out

    @property
    def kind(self) -> str:
        return tags.CALIBRATION if self.job == CALIBRATION_JOB else tags.LINEUPS


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
    if record.code_version != CODE_VERSIONS[asset]:
        return f"code version {record.code_version} -> {CODE_VERSIONS[asset]}"
    for parent in rebuilt:
        if parent in _PARENTS[asset]:
            return f"{parent} is rebuilt"
    for key, current in upstream.items():
        if current is not None and record.value(key) != current:
            return f"{key} changed ({record.value(key)} -> {current})"
    return None


_PARENTS = {
    "race_history": (),
    "race_slate": ("race_history",),
    "calibrated_model": ("race_history",),
    "scenario_set": ("calibrated_model", "race_slate"),
    "lineups": ("scenario_set", "race_slate", "contest_field"),
    "dk_upload_csv": ("lineups",),
    "ownership_projection": ("scenario_set", "race_slate"),
    "contest_field": ("ownership_projection",),
    "contest_report": ("lineups", "contest_field", "scenario_set"),
}
# Built for race x spec, in this order, when the spec has a contest (defs/contest).
_LINEUP_ASSETS = ("scenario_set", "ownership_projection", "contest_field", "lineups", "contest_report",
                  "dk_upload_csv")  # fmt: skip


def _file_missing(record: Materialized, root: Path | None) -> bool:
    """The instance remembers the output but the IO manager would not find its file: wiped, or
    written under another storage root (two deployments sharing one database)."""
    path = record.value("path")
    if path is None:
        return False
    stored = Path(str(path))
    return not stored.exists() or (root is not None and not stored.resolve().is_relative_to(root.resolve()))


def _value(record: Materialized | None, key: str) -> str | None:
    return None if record is None or record.value(key) is None else str(record.value(key))


def _slate_reason(
    instance: dg.DagsterInstance, race: str, upload: Path | None, root: Path | None
) -> str | None:
    record = latest_materialization(instance, "race_slate", race)
    if record is None:
        return "never materialized"
    if _file_missing(record, root):
        return "stored file is missing"
    if record.code_version != CODE_VERSIONS["race_slate"]:
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
    scenario_ttl_hours: float,
    slate_upload: Path | None = None,
    storage_root: Path | None = None,
    now: float | None = None,
    contest: bool = False,
) -> LineupPlan:
    """What to materialize so that race x spec has current lineups (read-only: adds nothing).

    With `storage_root`, an output whose recorded file is not under it counts as missing. With
    `contest` (the spec names one) the ownership projection, the contest field and the contest
    report are part of the plan, and the lineups depend on the field.
    """
    validate_race_key(race)
    validate_spec_key(spec_key)
    if not instance.has_dynamic_partition(RACE, race):
        raise UnknownRaceError(f"race {race} is not a registered race partition")
    partition = str(race_spec_key(race, spec_key))
    now = time.time() if now is None else now
    rebuilt: dict[str, str] = {}

    # History and model are refreshed by the schedule, the sensor or the UI; a lineup request
    # only builds them when missing (or built by older code), never refits a current model.
    history = latest_materialization(instance, "race_history")
    if history is None or _file_missing(history, storage_root):
        rebuilt["race_history"] = "never materialized" if history is None else "stored file is missing"
    reason = _slate_reason(instance, race, slate_upload, storage_root)
    if reason:
        rebuilt["race_slate"] = reason
    model = latest_materialization(instance, "calibrated_model", race)
    reason = _stale_reason(model, "calibrated_model", {}, {}, storage_root)
    if reason:
        rebuilt["calibrated_model"] = reason

    slate = latest_materialization(instance, "race_slate", race)
    scenarios = latest_materialization(instance, "scenario_set", partition)
    reason = _stale_reason(
        scenarios,
        "scenario_set",
        {"model_version": _value(model, "model_version"), "slate_version": _value(slate, "slate_version")},
        rebuilt,
        storage_root,
    )
    if reason is None and scenarios is not None and now - scenarios.timestamp > scenario_ttl_hours * 3600:
        reason = f"older than the {scenario_ttl_hours:g} h TTL"
    if reason:
        rebuilt["scenario_set"] = reason

    def planned(asset: str, upstream: dict[str, str | None]) -> Materialized | None:
        record = latest_materialization(instance, asset, partition)
        reason = _stale_reason(record, asset, upstream, rebuilt, storage_root)
        if reason:
            rebuilt[asset] = reason
        return record

    field = None
    if contest:
        scenario_version = _value(scenarios, "scenario_version")
        ownership = planned("ownership_projection", {"scenario_version": scenario_version})
        field = planned("contest_field", {"ownership_version": _value(ownership, "ownership_version")})
    built = planned(
        "lineups",
        {
            "scenario_version": _value(scenarios, "scenario_version"),
            "field_version": _value(field, "field_version") if contest else None,
        },
    )
    if contest:
        planned("contest_report", {"lineups_version": _value(built, "lineups_version")})
    planned("dk_upload_csv", {"lineups_version": _value(built, "lineups_version")})
    return LineupPlan(race, spec_key, partition, _steps(race, partition, rebuilt), rebuilt)


def _steps(race: str, partition: str, rebuilt: dict[str, str]) -> tuple[Step, ...]:
    calibration = [a for a in ("race_history", "race_slate", "calibrated_model") if a in rebuilt]
    if "calibrated_model" in rebuilt:
        calibration.append("calibration_history")
    lineup = [a for a in _LINEUP_ASSETS if a in rebuilt]
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
    defs: dg.Definitions, instance: dg.DagsterInstance, plan: LineupPlan, reason: str
) -> list[StepResult]:
    """Run the plan's steps one after another in this process, on `instance`."""
    results = []
    for step in plan.steps:
        job = defs.resolve_job_def(step.job)
        result = job.execute_in_process(
            instance=instance,
            partition_key=step.partition,
            asset_selection=[dg.AssetKey(a) for a in step.assets],
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
    errors = [
        str(event.step_failure_data.error.message).strip()
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
    scenario_ttl_hours: float,
    reason: str = "request",
    register_race: bool = False,
) -> tuple[LineupPlan, list[StepResult]]:
    """Register the spec (and optionally the race), plan, and run the plan in this process."""
    if register_race:
        register_races(instance, [race])
    spec_key = register_spec_partition(instance, storage_root, spec)
    plan = plan_lineup_request(
        instance,
        race,
        spec_key,
        scenario_ttl_hours=scenario_ttl_hours,
        slate_upload=storage_root / "slates" / f"{race}.csv",
        storage_root=storage_root,
        contest=spec.contest is not None,
    )
    return plan, execute_plan_in_process(defs, instance, plan, reason)
