"""Asset checks as a user sees them in the UI: pass/fail, severity and the figures as metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.materializations import materialization_count
from nascar_dfs.platform.plan import RequestFailedError, request_lineups
from nascar_dfs_tests.platform.conftest import make_defs
from nascar_dfs_tests.platform.fakes import COMPLETED, RACES, UPCOMING

SPEC = ConstraintSpec(lineups=3, scenarios=100)


def evaluations(instance: dg.DagsterInstance, check: str) -> list[dg.AssetCheckEvaluation]:
    found = []
    for run in instance.get_runs():
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if evaluation.check_name == check:
                found.append(evaluation)
    return found


def calibrate(defs: dg.Definitions, instance: dg.DagsterInstance, race: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("calibration_job").execute_in_process(
        instance=instance,
        partition_key=race,
        asset_selection=[dg.AssetKey("race_history"), dg.AssetKey("calibrated_model")],
        raise_on_error=False,
    )


def check_of(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return found


def test_a_good_model_passes_its_checks_with_the_figures_as_metadata(fake_defs, registered):
    result = calibrate(fake_defs, registered, COMPLETED[-1])

    assert result.success
    diagnostics = check_of(result, "sampler_diagnostics")
    assert diagnostics.passed and diagnostics.metadata["max_rhat"].value == pytest.approx(1.01)
    versus = check_of(result, "crps_vs_baseline")
    assert versus.passed and versus.metadata["baseline_crps"].value == pytest.approx(6.0)
    assert check_of(result, "model_age").passed


def test_a_model_no_better_than_the_baseline_warns_without_failing_the_run(fake_defs, registered, fake):
    fake.crps = 7.0

    result = calibrate(fake_defs, registered, COMPLETED[-1])

    versus = check_of(result, "crps_vs_baseline")
    assert result.success
    assert not versus.passed and versus.severity == dg.AssetCheckSeverity.WARN
    assert versus.metadata["improvement"].value < 0


def test_crps_far_above_the_recent_band_is_an_error(fake_defs, registered, fake):
    for race, crps in zip(RACES[:3], (5.0, 5.2, 4.8), strict=True):
        fake.crps = crps
        assert calibrate(fake_defs, registered, race).success
    fake.crps, fake.baseline_crps = 9.0, 10.0

    drift = check_of(calibrate(fake_defs, registered, RACES[3]), "crps_drift")

    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.ERROR
    assert drift.metadata["band_upper"].value == pytest.approx(5.0 + 3 * 0.2)


def test_a_model_fitted_long_before_its_race_warns_on_age(fake_defs, registered, fake):
    fake.dates[UPCOMING] = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()

    age = check_of(calibrate(fake_defs, registered, UPCOMING), "model_age")

    assert not age.passed and age.severity == dg.AssetCheckSeverity.WARN
    # the race day starts at 00:00 UTC, so 30 calendar days ahead is between 29 and 30 days away
    assert 29 <= age.metadata["days_before_race"].value <= 30


def test_a_rejected_fit_fails_the_blocking_diagnostics_check_and_records_no_model(
    fake_defs, registered, fake
):
    fake.fail_fit = True

    result = calibrate(fake_defs, registered, COMPLETED[-1])

    assert not result.success
    diagnostics = check_of(result, "sampler_diagnostics")
    assert not diagnostics.passed and "max_divergences" in diagnostics.metadata["broken"].value
    assert materialization_count(registered, "calibrated_model", COMPLETED[-1]) == 0


@pytest.mark.parametrize(
    ("rate", "passed", "severity"),
    [(0.1, True, dg.AssetCheckSeverity.WARN), (0.3, False, dg.AssetCheckSeverity.WARN),
     (0.6, False, dg.AssetCheckSeverity.ERROR)],
)  # fmt: skip
def test_rejection_rate_warns_above_20_and_errors_above_50_percent(
    fake, registered, storage_dir, data_dir, rate, passed, severity
):
    fake.rejection_rate = rate
    defs = make_defs(storage_dir, data_dir)

    request_lineups(defs, registered, UPCOMING, SPEC, storage_root=storage_dir, scenario_ttl_hours=1)

    (check,) = evaluations(registered, "rejection_rate")
    assert (check.passed, check.severity) == (passed, severity)
    assert check.metadata["rejection_rate"].value == pytest.approx(rate)


def test_thresholds_of_the_rejection_check_are_configurable(fake, registered, storage_dir, data_dir):
    fake.rejection_rate = 0.3
    defs = make_defs(storage_dir, data_dir, rejection_warn=0.4)

    request_lineups(defs, registered, UPCOMING, SPEC, storage_root=storage_dir, scenario_ttl_hours=1)

    assert evaluations(registered, "rejection_rate")[0].passed


def test_valid_lineups_pass_the_blocking_validity_check(fake_defs, registered, storage_dir):
    request_lineups(fake_defs, registered, UPCOMING, SPEC, storage_root=storage_dir, scenario_ttl_hours=1)

    (check,) = evaluations(registered, "lineup_validity")
    assert check.passed and check.metadata["lineups"].value == SPEC.lineups


def test_invalid_lineups_fail_the_blocking_check_and_no_upload_file_is_written(
    fake_defs, registered, storage_dir, fake
):
    over_cap = ConstraintSpec(lineups=2, scenarios=100, excludes=["Driver A"])

    with pytest.raises(RequestFailedError, match="lineup_validity"):
        request_lineups(
            fake_defs, registered, UPCOMING, over_cap, storage_root=storage_dir, scenario_ttl_hours=1
        )

    (check,) = evaluations(registered, "lineup_validity")
    assert not check.passed and "excluded driver Driver A" in check.metadata["first_problems"].value
    assert not (storage_dir / "dk_upload_csv" / UPCOMING / f"{over_cap.key}.csv").exists()


def test_a_known_starting_grid_passes_the_starting_lineup_check(fake_defs, registered, storage_dir):
    request_lineups(fake_defs, registered, UPCOMING, SPEC, storage_root=storage_dir, scenario_ttl_hours=1)

    (check,) = evaluations(registered, "starting_lineup")
    assert check.passed and check.metadata["starts"].value == "known"


def test_an_unknown_starting_grid_warns_start_positions_unknown(
    fake, registered, storage_dir, data_dir, monkeypatch
):
    import dataclasses

    import numpy as np

    from nascar_dfs.platform import science
    from nascar_dfs.platform.materializations import all_materializations

    simulate = science.simulate

    def simulated_grid(model, race_field, spec, seed):
        known = simulate(model, race_field, spec, seed)
        d = len(known.drivers)
        grids = np.tile(np.arange(1, d + 1, dtype=np.int16), (known.n, 1))
        return dataclasses.replace(
            known, starts=np.full(d, np.nan), starts_known=False, simulated_starts=grids
        )

    monkeypatch.setattr(science, "simulate", simulated_grid)
    defs = make_defs(storage_dir, data_dir)

    request_lineups(defs, registered, UPCOMING, SPEC, storage_root=storage_dir, scenario_ttl_hours=1)

    (check,) = evaluations(registered, "starting_lineup")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["warning"].value == "start-positions-unknown"
    for asset in ("scenario_set", "lineups"):
        [latest] = all_materializations(registered, asset)[-1:]
        [warning] = latest.value("warnings")
        assert warning["code"] == "start-positions-unknown" and "recent starts" in warning["detail"]
