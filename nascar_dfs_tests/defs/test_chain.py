"""The real chain on the packaged demo data: history -> slate -> model -> scenarios -> lineups -> CSV.

One short-chain fit (resource config, not the model's defaults) is shared by the module's tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nascar_dfs.commands.demo import QUICK_FIT
from nascar_dfs.core.data.calendar import read_calendar
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform.io_manager import NascarIOManager
from nascar_dfs.platform.materializations import latest_materialization
from nascar_dfs.platform.partitions import register_races
from nascar_dfs.platform.plan import AssetGraph, StepResult, plan_lineup_request, request_lineups
from nascar_dfs.platform.resources import CheckSettings, FileStorage, FitSettings, NascarData

SPEC = ConstraintSpec(lineups=5, scenarios=300)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    from nascar_dfs.core.model.fit import CompileCacheError, configure_compile_cache

    # PyTensor already imported by another test: same results, only slower.
    with contextlib.suppress(CompileCacheError):
        configure_compile_cache()
    storage_dir = tmp_path_factory.mktemp("chain") / "storage"
    storage = FileStorage(base_path=str(storage_dir))
    defs = build_definitions(
        {
            "storage": storage,
            "io_manager": NascarIOManager(storage=storage),
            "nascar_data": NascarData(data_dir=str(DEMO_DIR)),
            "fit_settings": FitSettings(**QUICK_FIT),
            "check_settings": CheckSettings(crps_eval_scenarios=200),
        }
    )
    calendar = read_calendar(DEMO_DIR)
    race = next(r for r in calendar.race_ids() if r not in calendar.completed())
    with dg.instance_for_test() as instance:
        register_races(instance, calendar.race_ids())
        plan, results = request_lineups(
            defs, instance, race, SPEC, storage_root=storage_dir, scenario_ttl_hours=24.0, reason="demo"
        )
        yield instance, storage_dir, race, plan, results


def check_results(
    instance: dg.DagsterInstance, results: list[StepResult]
) -> dict[str, dg.AssetCheckEvaluation]:
    found = {}
    for result in results:
        for record in instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            found[evaluation.check_name] = evaluation
    return found


def test_the_demo_race_is_built_end_to_end_in_two_runs(chain):
    instance, _, _, plan, results = chain
    assert [r.step.job for r in results] == ["calibration_job", "lineup_job"]
    for asset in ("race_history", "calibrated_model", "scenario_set", "lineups", "dk_upload_csv"):
        assert asset in plan.assets
    assert all(instance.get_run_by_id(r.run_id).is_success for r in results)
    assert set(results[1].seconds_per_asset) == {"scenario_set", "lineups", "dk_upload_csv"}


def test_every_check_passes_on_the_demo_race(chain):
    instance, _, _, _, results = chain
    checks = check_results(instance, results)

    # the demo data is clean and its slate has StartPos, so data_quality and starting_lineup pass too
    assert set(checks) == {"sampler_diagnostics", "crps_vs_baseline", "crps_drift", "model_age",
                           "forecaster_choice", "rejection_rate", "lineup_validity",
                           "data_quality", "starting_lineup"}  # fmt: skip
    failed = {name: e.metadata for name, e in checks.items() if not e.passed}
    assert failed == {}
    assert checks["sampler_diagnostics"].metadata["max_rhat"].value <= QUICK_FIT["max_rhat"]
    assert checks["lineup_validity"].metadata["lineups"].value == SPEC.lineups


def test_the_calibrated_model_shows_where_its_fit_time_went(chain):
    instance, _, _, _, results = chain
    records = instance.get_records_for_run(
        results[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    [model] = [
        r.event_log_entry.asset_materialization
        for r in records
        if r.event_log_entry.asset_materialization.asset_key == dg.AssetKey("calibrated_model")
    ]
    meta = {k: v.value for k, v in model.metadata.items()}
    # an operator tells a cold compile cache from a slow sampler by these (docs/operations.md);
    # the compile may be ~0 here: an earlier test in this process compiled the same model
    assert meta["compile_seconds"] >= 0 and meta["sample_seconds"] > 0
    assert meta["compile_seconds"] + meta["sample_seconds"] <= meta["fit_seconds"]


def test_the_upload_csv_holds_the_requested_lineups_of_slate_players_under_the_cap(chain):
    _, storage_dir, race, _, _ = chain
    upload = pd.read_csv(storage_dir / "dk_upload_csv" / race / f"{SPEC.key}.csv", dtype=str)
    slate = pd.read_csv(Path(DEMO_DIR) / "DKSalaries.csv")
    salary = dict(zip(slate["ID"].astype(str), slate["Salary"], strict=True))

    assert len(upload) == SPEC.lineups and upload.shape[1] == 6
    for row in upload.itertuples(index=False):
        assert len(set(row)) == 6 and set(row) <= set(salary)
        assert sum(salary[i] for i in row) <= 50_000


def test_model_version_is_the_data_version_and_scenarios_record_it(chain):
    instance, _, race, _, _ = chain
    model = latest_materialization(instance, "calibrated_model", race)
    scenarios = latest_materialization(instance, "scenario_set", f"{race}|{SPEC.key}")

    assert model.tags["dagster/data_version"] == model.value("model_version")
    assert scenarios.value("model_version") == model.value("model_version")
    # the demo data has no earlier completed race of the track type with a stored fit: the model builds
    assert model.value("forecaster") == scenarios.value("forecaster") == "model"
    graph = AssetGraph.from_definitions(build_definitions())
    assert plan_lineup_request(
        instance, race, SPEC.key, graph=graph, scenario_ttl_hours=24.0
    ).reuses_everything
