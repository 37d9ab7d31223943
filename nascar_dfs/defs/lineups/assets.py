"""Scenario sets, lineups and the DraftKings upload file of one race x constraint spec."""

import tempfile
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.core.optimizer.validity import lineup_ids
from nascar_dfs.core.scenarios.starts import start_warnings
from nascar_dfs.defs.lineups.checks import (
    LINEUP_VALIDITY,
    STARTING_LINEUP,
    starting_lineup_check,
    validity_check,
)
from nascar_dfs.platform import science, starting_lineups, versions
from nascar_dfs.platform.content_store import CONTENT_DIGEST, LINEUPS_DIGEST
from nascar_dfs.platform.hooks import PhaseHooks
from nascar_dfs.platform.io_manager import output_path, read_output
from nascar_dfs.platform.materializations import require_bound, require_recorded, table_metadata
from nascar_dfs.platform.partitions import RACE, race_spec_partitions, split_race_spec_key
from nascar_dfs.platform.quality import data_errors_as_failures
from nascar_dfs.platform.resources import CheckSettings, FileStorage
from nascar_dfs.platform.slate_store import run_slate
from nascar_dfs.platform.spec_store import load_spec

SCENARIO_SET = "scenario_set"
CONTEST_FIELD = "contest_field"
REJECTION_RATE = "rejection_rate"

# Lineage in the UI: each race x spec partition reads the model and slate of its race.
_BY_RACE = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=RACE)


def _rejection_check(rate: float, settings: CheckSettings) -> dg.AssetCheckResult:
    meta = {
        "rejection_rate": rate,
        "warn_above": settings.rejection_warn,
        "error_above": settings.rejection_error,
    }
    if rate > settings.rejection_error:
        return dg.AssetCheckResult(
            check_name=REJECTION_RATE, passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=meta
        )
    return dg.AssetCheckResult(
        check_name=REJECTION_RATE,
        passed=rate <= settings.rejection_warn,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=meta,
    )


@dg.asset(
    partitions_def=race_spec_partitions,
    group_name="lineups",
    code_version=versions.SCENARIO_SET_CODE,
    ins={
        "calibrated_model": dg.AssetIn(partition_mapping=_BY_RACE),
        "race_slate": dg.AssetIn(partition_mapping=_BY_RACE),
        "race_history": dg.AssetIn(),
    },
    check_specs=[
        dg.AssetCheckSpec(
            REJECTION_RATE,
            asset=SCENARIO_SET,
            description="share of simulated races rejected by the spec's views (warn 20%, error 50%)",
        ),
        dg.AssetCheckSpec(
            STARTING_LINEUP,
            asset=SCENARIO_SET,
            description="the race's starting positions were known (warns start-positions-unknown when "
            "the scenarios had to simulate the grid)",
        ),
    ],
)
def scenario_set(
    context: dg.AssetExecutionContext,
    calibrated_model: Any,
    race_slate: Any,
    race_history: Any,
    storage: FileStorage,
    check_settings: CheckSettings,
    phase_hooks: PhaseHooks,
):
    """Simulated races of the slate's field under the spec's views; seed from race, spec and model."""
    phase_hooks.reached("simulating")
    race, spec_key = split_race_spec_key(context.partition_key)
    spec = load_spec(storage.root(), spec_key)
    slate, slate_version = run_slate(context.instance, storage.root(), race, spec, race_slate)
    # An uploaded starting lineup (starting_lineups.py) is the field's start order.
    starts_version = starting_lineups.starts_version(storage.root(), race)
    starts = starting_lineups.starting_lineup(storage.root(), race)
    try:
        with data_errors_as_failures():  # a broken StartPos fails the step naming file, row, column
            field = science.slate_field(slate, race_history, race, starts=starts)
    except ValueError as exc:  # the uploaded lineup misses a slate driver
        raise dg.Failure(f"race {race}: {exc}") from exc
    seed = versions.scenario_seed(race, spec_key, calibrated_model.version)
    # The forecaster the calibration chose for this race (defs/calibration/forecaster_choice.py).
    forecaster = require_recorded(context.instance, "calibrated_model", race, "forecaster")
    scenarios = science.simulate_forecaster(forecaster, calibrated_model, race_history, field, spec, seed)
    scenario_version = versions.digest(
        versions.SCENARIO_SET_CODE, calibrated_model.version, spec_key, seed, forecaster
    )
    if starts_version:  # a new starting lineup is a new scenario set (and new lineups downstream)
        scenario_version = versions.digest(scenario_version, starts_version)
    starts_known = scenarios.starts_known
    yield dg.Output(
        scenarios,
        data_version=dg.DataVersion(scenario_version),
        metadata={
            "model_version": calibrated_model.version,
            "forecaster": forecaster,
            "slate_version": slate_version,
            "starts_version": starts_version or "",
            "scenario_version": scenario_version,
            "seed": seed,
            "scenarios": scenarios.n,
            "draws": int(scenarios.draws),
            "rejection_rate": float(scenarios.rejection_rate),
            "drivers": len(scenarios.drivers),
            "starts": "known" if starts_known else "simulated",
            "warnings": dg.MetadataValue.json(start_warnings(starts_known)),
            "spec": dg.MetadataValue.md(science.spec_summary(spec)),
            "projections": table_metadata(science.projections_table(slate, scenarios)),
        },
    )
    yield _rejection_check(float(scenarios.rejection_rate), check_settings)
    yield starting_lineup_check(starts_known)


@dg.asset(
    partitions_def=race_spec_partitions,
    group_name="lineups",
    code_version=versions.LINEUPS_CODE,
    ins={"race_slate": dg.AssetIn(partition_mapping=_BY_RACE)},
    # Read only when the spec has a contest (then the lineups are picked against that field); other
    # specs never build it, so it is a dependency, not an input the IO manager must find.
    deps=[dg.AssetDep(CONTEST_FIELD)],
    check_specs=[
        dg.AssetCheckSpec(
            LINEUP_VALIDITY,
            asset="lineups",
            blocking=True,
            description="6 slate drivers under the cap, distinct lineups, locks, excludes, exposures",
        )
    ],
)
def lineups(
    context: dg.AssetExecutionContext,
    scenario_set: Any,
    race_slate: Any,
    storage: FileStorage,
    phase_hooks: PhaseHooks,
):
    """The portfolio the optimizer builds on the scenario set under the spec's constraints; with a
    contest in the spec, the lineups with the best simulated ROI against the contest's field, picked
    from a larger pool of the optimizer's candidates (scenario and ownership-leverage builds)."""
    phase_hooks.reached("optimizing")
    race, spec_key = split_race_spec_key(context.partition_key)
    spec = load_spec(storage.root(), spec_key)
    race_slate, _ = run_slate(context.instance, storage.root(), race, spec, race_slate)
    scenario_version = require_recorded(
        context.instance, SCENARIO_SET, context.partition_key, "scenario_version"
    )
    metadata: dict[str, Any] = {}
    if spec.contest is None:
        built = science.portfolio(race_slate, spec, scenario_set)
        lineups_version = versions.digest(versions.LINEUPS_CODE, scenario_version, spec_key)
    else:
        field_version = require_recorded(
            context.instance, CONTEST_FIELD, context.partition_key, "field_version"
        )
        field = _stored(storage, CONTEST_FIELD, race, spec_key)
        picked = science.contest_portfolio(race_slate, spec, scenario_set, field)
        built = picked.portfolio
        lineups_version = versions.digest(versions.LINEUPS_CODE, scenario_version, spec_key, field_version)
        metadata = {
            "field_version": field_version,
            "contest_method": picked.method,
            "candidates": picked.candidates,
        }
    lineup_table, exposure_table = science.portfolio_tables(built, spec)
    yield dg.Output(
        built,
        data_version=dg.DataVersion(lineups_version),
        metadata={
            "lineups": len(lineup_ids(built)),
            "scenario_version": scenario_version,
            "lineups_version": lineups_version,
            "warnings": dg.MetadataValue.json(start_warnings(scenario_set.starts_known)),
            **metadata,
            "spec": dg.MetadataValue.md(science.spec_summary(spec)),
            "lineup_table": table_metadata(lineup_table),
            "exposures": table_metadata(exposure_table),
        },
    )
    yield validity_check(built, race_slate, spec)


def _stored(storage: FileStorage, asset: str, race: str, spec_key: str) -> Any:
    """An upstream output read from storage as the IO manager wrote it."""
    stored = read_output(storage.root(), asset, [race, spec_key])
    if stored is None:
        path = output_path(storage.root(), asset, [race, spec_key])
        raise dg.Failure(f"{asset} {race}|{spec_key} has no stored output at {path}: materialize it first")
    return stored


@dg.asset(partitions_def=race_spec_partitions, group_name="lineups", code_version=versions.DK_UPLOAD_CODE)
def dk_upload_csv(context: dg.AssetExecutionContext, lineups: Any) -> dg.Output[str]:
    """The file to upload to DraftKings (written by the data module's writer)."""
    ids = lineup_ids(lineups)
    with tempfile.TemporaryDirectory() as workdir:
        text = science.upload_csv_text(ids, Path(workdir))
    # The lineups this run read (its own build, or the one it reused), not the partition's newest:
    # the digest names the build the request's JSON is read from (platform/reads.py built_results).
    bound = {
        key: require_bound(context.instance, "lineups", str(context.partition_key), context.run.run_id, key)
        for key in ("lineups_version", CONTENT_DIGEST)
    }
    return dg.Output(
        text,
        metadata={
            "lineups": len(ids),
            "lineups_version": bound["lineups_version"],
            LINEUPS_DIGEST: bound[CONTENT_DIGEST],
        },
    )
