"""Race history, slates and the calibrated model per race, with the model's checks."""

import time
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import numpy as np

from nascar_dfs.defs.calibration import forecaster_choice
from nascar_dfs.defs.calibration.feeds import WEEKEND_FEED
from nascar_dfs.platform import race_calendar, science, slate_store, versions
from nascar_dfs.platform.hooks import PhaseHooks
from nascar_dfs.platform.materializations import all_materializations
from nascar_dfs.platform.partitions import race_partitions
from nascar_dfs.platform.quality import (
    DATA_QUALITY,
    data_errors_as_failures,
    data_quality_check,
    quarantine_metadata,
)
from nascar_dfs.platform.resources import CheckSettings, FileStorage, FitSettings, NascarData

RACE_HISTORY = "race_history"
CALIBRATED_MODEL = "calibrated_model"
SAMPLER_DIAGNOSTICS = "sampler_diagnostics"
CRPS_VS_BASELINE = "crps_vs_baseline"
CRPS_DRIFT = "crps_drift"
MODEL_AGE = "model_age"


# The history reads the data folder the weekend feeds are appended to: lineage in the UI.
@dg.asset(
    group_name="data",
    code_version=versions.RACE_HISTORY_CODE,
    deps=[WEEKEND_FEED],
    check_specs=[
        dg.AssetCheckSpec(
            DATA_QUALITY,
            asset=RACE_HISTORY,
            description="no row of the data folder was quarantined (masked starts, dropped races or venues)",
        )
    ],
)
def race_history(context: dg.AssetExecutionContext, nascar_data: NascarData, storage: FileStorage):
    """Every race and result of the data folder, validated by the data module; broken rows are
    quarantined at the smallest unit and listed in the `quarantine` table and the data_quality check.
    The upcoming races of the platform's calendar (race_calendar.py) are merged into its races."""
    with data_errors_as_failures():
        history = race_calendar.load_history(nascar_data.root(), storage.root())
    completed = int(history.races["race_id"].isin(history.results["race_id"]).sum())
    quarantine = history.quarantine
    calendar = race_calendar.calendar_version(storage.root())
    fingerprint = nascar_data.fingerprint()
    yield dg.Output(
        history,
        data_version=dg.DataVersion(versions.digest(fingerprint, calendar) if calendar else fingerprint),
        metadata={
            "calendar_version": calendar,
            "calendar_races": len(race_calendar.upcoming_races(storage.root())),
            "data_dir": dg.MetadataValue.path(str(nascar_data.root())),
            "races": len(history.races),
            "completed_races": completed,
            "result_rows": len(history.results),
            **quarantine_metadata(quarantine),
        },
    )
    yield data_quality_check(quarantine, RACE_HISTORY)


@dg.asset(partitions_def=race_partitions, group_name="data", code_version=versions.RACE_SLATE_CODE)
def race_slate(context: dg.AssetExecutionContext, race_history: Any, storage: FileStorage) -> dg.Output[Any]:
    """The race's current DraftKings salaries (the uploaded slates/<race>.csv; the packaged demo
    slate for a demo race only), with each DraftKings name matched to the history's spelling so
    model, scenarios and lineups agree. A race with no slate fails here, never borrows another's."""
    race = context.partition_key
    try:
        stored = slate_store.require_current(storage.slates_dir(), race)
    except slate_store.SlateMissingError as exc:
        raise dg.Failure(str(exc)) from exc
    slate = science.match_slate(science.read_slate(stored.path), race_history)
    return dg.Output(
        slate,
        data_version=dg.DataVersion(stored.version),
        metadata={
            "source": dg.MetadataValue.path(str(stored.path)),
            "uploaded": not stored.demo,
            "players": len(slate.players),
            "slate_version": stored.version,
            "new_drivers": ", ".join(stored.new_drivers),
        },
    )


def _days_before_race(race_date: str | None, fitted: datetime) -> float | None:
    if not race_date:
        return None
    day = date.fromisoformat(race_date)
    return (datetime(day.year, day.month, day.day, tzinfo=UTC) - fitted).total_seconds() / 86400.0


def _unseen_completed_races(history: Any, race: str, limit: int) -> list[str]:
    """The first `limit` completed points races from the model's own race on: none was trained on."""
    points = history.points_races()
    position = points.index[points["race_id"] == race]
    if len(position) == 0:
        return []
    later = points.loc[position[0] :, "race_id"]
    return [r for r in later if history.has_results(r)][:limit]


def _earlier_crps(instance: dg.DagsterInstance, race: str, window: int) -> list[float]:
    """CRPS of the latest models of other races, most recent last (the drift band's history)."""
    latest: dict[str, float] = {}
    for m in all_materializations(instance, CALIBRATED_MODEL):
        crps = m.value("crps")
        if m.partition and m.partition != race and crps is not None and not np.isnan(crps):
            latest[m.partition] = float(crps)
    return list(latest.values())[-window:]


def _diagnostics_check(diagnostics: Any, passed: bool, broken: list[str]) -> dg.AssetCheckResult:
    meta: dict[str, Any] = {
        "divergences": int(diagnostics.divergences),
        "max_rhat": float(diagnostics.max_rhat),
        "min_ess_bulk": float(diagnostics.min_ess_bulk),
        "chains": int(diagnostics.chains),
        "draws": int(diagnostics.draws),
        "sampler": diagnostics.sampler,
    }
    if broken:
        meta["broken"] = "; ".join(broken)
    return dg.AssetCheckResult(
        check_name=SAMPLER_DIAGNOSTICS, passed=passed, severity=dg.AssetCheckSeverity.ERROR, metadata=meta
    )


def _crps_checks(scores: list[dict[str, Any]], earlier: list[float], settings: CheckSettings) -> list[Any]:
    if not scores:
        note = "no completed race after the training cutoff yet: scored once the race has results"
        meta = {"evaluated_races": 0, "note": note}
        return [
            dg.AssetCheckResult(check_name=CRPS_VS_BASELINE, passed=True, metadata=meta),
            dg.AssetCheckResult(check_name=CRPS_DRIFT, passed=True, metadata=meta),
        ]
    crps = float(np.mean([s["crps"] for s in scores]))
    baseline = float(np.mean([s["baseline_crps"] for s in scores]))
    races = ", ".join(s["race"] for s in scores)
    versus = dg.AssetCheckResult(
        check_name=CRPS_VS_BASELINE,
        passed=crps < baseline,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "crps": crps,
            "baseline_crps": baseline,
            "improvement": 1.0 - crps / baseline,
            "races": races,
        },
    )
    drift_meta: dict[str, Any] = {"crps": crps, "history": len(earlier)}
    passed = True
    if len(earlier) >= settings.crps_drift_min_history:
        mean, std = float(np.mean(earlier)), float(np.std(earlier, ddof=1))
        upper = mean + settings.crps_drift_sigmas * std
        # Only a worse CRPS is drift worth stopping for; a better one is the model doing its job.
        passed = crps <= upper
        drift_meta.update({"band_mean": mean, "band_std": std, "band_upper": upper})
    else:
        drift_meta["note"] = f"fewer than {settings.crps_drift_min_history} earlier models: no band yet"
    drift = dg.AssetCheckResult(
        check_name=CRPS_DRIFT, passed=passed, severity=dg.AssetCheckSeverity.ERROR, metadata=drift_meta
    )
    return [versus, drift]


def _age_check(history: Any, race: str, fitted: datetime, settings: CheckSettings) -> dg.AssetCheckResult:
    days = _days_before_race(history.race(race).race_date, fitted)
    meta: dict[str, Any] = {"max_days_before_race": settings.model_max_age_days}
    if days is None:
        meta["note"] = "race has no date in races.csv"
        return dg.AssetCheckResult(check_name=MODEL_AGE, passed=True, metadata=meta)
    meta["days_before_race"] = round(days, 2)
    return dg.AssetCheckResult(
        check_name=MODEL_AGE,
        passed=days <= settings.model_max_age_days,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=meta,
    )


@dg.asset(
    partitions_def=race_partitions,
    group_name="calibration",
    code_version=versions.CALIBRATED_MODEL_CODE,
    check_specs=[
        dg.AssetCheckSpec(
            SAMPLER_DIAGNOSTICS,
            asset=CALIBRATED_MODEL,
            blocking=True,
            description="divergences, r-hat and bulk ESS within the fit thresholds",
        ),
        dg.AssetCheckSpec(
            CRPS_VS_BASELINE,
            asset=CALIBRATED_MODEL,
            description="finish CRPS on unseen completed races beats the naive baseline",
        ),
        dg.AssetCheckSpec(
            CRPS_DRIFT,
            asset=CALIBRATED_MODEL,
            description="finish CRPS within the band of the recent models' CRPS",
        ),
        dg.AssetCheckSpec(
            MODEL_AGE, asset=CALIBRATED_MODEL, description="model fitted at most N days before its race"
        ),
        dg.AssetCheckSpec(
            forecaster_choice.FORECASTER_CHOICE,
            asset=CALIBRATED_MODEL,
            description="the candidate forecasters (model, ranked replay) scored on the latest completed "
            "races of the track type; the scenarios use the better one (fails only if scoring fails)",
        ),
    ],
)
def calibrated_model(
    context: dg.AssetExecutionContext,
    race_history: Any,
    fit_settings: FitSettings,
    check_settings: CheckSettings,
    phase_hooks: PhaseHooks,
    storage: FileStorage,
):
    """The race model fitted on every points race before this one; data version = model content hash.
    Its metadata also names the forecaster the race's scenarios are built from (forecaster_choice.py):
    the model or the ranked replay, whichever scored better on the latest races of the track type."""
    race = context.partition_key
    phase_hooks.reached("calibrating")
    started = time.perf_counter()
    try:
        model = science.fit(race_history, race, fit_settings.options())
    except Exception as exc:
        broken = getattr(exc, "broken", None)
        if broken is None:
            raise
        # The fit itself rejected the sampler run: record why, so the UI shows the figures.
        yield _diagnostics_check(exc.diagnostics, passed=False, broken=list(broken))
        raise dg.Failure(f"calibration of {race} rejected: {exc}") from exc
    fit_seconds = time.perf_counter() - started
    fitted = datetime.now(UTC)

    unseen = _unseen_completed_races(race_history, race, check_settings.crps_eval_races)
    scores = [
        science.score_finish(
            model,
            race_history,
            r,
            check_settings.crps_eval_scenarios,
            versions.scenario_seed(r, "crps", model.version),
        )
        for r in unseen
    ]
    crps_checks = _crps_checks(
        scores, _earlier_crps(context.instance, race, check_settings.crps_drift_window), check_settings
    )
    metadata: dict[str, Any] = {
        "model_version": model.version,
        "fitted_at": fitted.isoformat(),
        "fit_seconds": round(fit_seconds, 2),
        # minutes of compile instead of ~1 s mean a cold compile cache (docs/operations.md)
        "compile_seconds": round(float(model.diagnostics.timings.get("compile", 0.0)), 2),
        "sample_seconds": round(float(model.diagnostics.timings.get("sample", 0.0)), 2),
        "diagnostics_ok": True,
        "divergences": int(model.diagnostics.divergences),
        "max_rhat": float(model.diagnostics.max_rhat),
        "min_ess_bulk": float(model.diagnostics.min_ess_bulk),
        "track_type": model.track_type,
    }
    choice_metadata, choice_check = forecaster_choice.choose(
        race_history, race, storage.root(), check_settings
    )
    metadata.update(choice_metadata)
    if scores:
        metadata["crps"] = float(np.mean([s["crps"] for s in scores]))
        metadata["baseline_crps"] = float(np.mean([s["baseline_crps"] for s in scores]))
        metadata["evaluated_races"] = ", ".join(s["race"] for s in scores)
        metadata["pit"] = dg.MetadataValue.json([u for s in scores for u in s["pit"]])
    yield dg.Output(model, data_version=dg.DataVersion(model.version), metadata=metadata)
    yield _diagnostics_check(model.diagnostics, passed=True, broken=[])
    yield from crps_checks
    yield _age_check(race_history, race, fitted, check_settings)
    yield choice_check
