"""Requesting lineups for race x spec: what is reused, what is rebuilt, and when."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.codecs import ScenarioSetCodec
from nascar_dfs.platform.materializations import latest_materialization, materialization_count
from nascar_dfs.platform.partitions import PartitionKeyError
from nascar_dfs.platform.plan import (
    AssetGraph,
    RequestFailedError,
    UnknownRaceError,
    execute_plan_in_process,
    plan_lineup_request,
    request_lineups,
)
from nascar_dfs.platform.starting_lineups import save_starting_lineup, starts_version
from nascar_dfs_tests.platform.fakes import FakeScience

RACE = "2024-cup-phoenix-2"
SPEC = ConstraintSpec(lineups=3, scenarios=100)
CHAIN = ["race_history", "race_slate", "calibrated_model", "scenario_set", "lineups", "dk_upload_csv"]


def graph(defs: dg.Definitions) -> AssetGraph:
    return AssetGraph.from_definitions(defs)


def counts(instance: dg.DagsterInstance, race: str = RACE, spec: ConstraintSpec = SPEC) -> dict[str, int]:
    partition = f"{race}|{spec.key}"
    return {
        "race_history": materialization_count(instance, "race_history"),
        "race_slate": materialization_count(instance, "race_slate", race),
        "calibrated_model": materialization_count(instance, "calibrated_model", race),
        "scenario_set": materialization_count(instance, "scenario_set", partition),
        "lineups": materialization_count(instance, "lineups", partition),
        "dk_upload_csv": materialization_count(instance, "dk_upload_csv", partition),
    }


def request(defs, instance, storage_dir: Path, spec: ConstraintSpec = SPEC, ttl: float = 24.0):
    return request_lineups(defs, instance, RACE, spec, storage_root=storage_dir, scenario_ttl_hours=ttl)


def test_first_request_builds_the_whole_chain_and_writes_the_upload_csv(fake_defs, registered, storage_dir):
    plan, results = request(fake_defs, registered, storage_dir)

    assert set(plan.assets) >= set(CHAIN)
    assert counts(registered) == dict.fromkeys(CHAIN, 1)
    upload = storage_dir / "dk_upload_csv" / RACE / f"{SPEC.key}.csv"
    rows = pd.read_csv(upload)
    assert list(rows.columns[:6]) == ["D"] * 1 + [f"D.{i}" for i in range(1, 6)]
    assert len(rows) == SPEC.lineups
    assert (storage_dir / "lineups" / RACE / f"{SPEC.key}.json").exists()
    assert (storage_dir / "specs" / f"{SPEC.key}.json").read_text() == SPEC.canonical_json()
    assert all(r.seconds_per_asset for r in results)


def test_second_request_for_the_same_race_and_spec_recomputes_nothing(
    fake_defs, registered, storage_dir, fake
):
    request(fake_defs, registered, storage_dir)
    before = counts(registered)

    plan, results = request(fake_defs, registered, storage_dir)

    assert plan.reuses_everything and results == []
    assert counts(registered) == before
    assert fake.fits == 1


def test_a_new_spec_for_the_same_race_reuses_the_model(fake_defs, registered, storage_dir, fake):
    request(fake_defs, registered, storage_dir)
    other = ConstraintSpec(lineups=2, scenarios=200)

    plan, _ = request(fake_defs, registered, storage_dir, spec=other)

    assert plan.assets == ["scenario_set", "lineups", "dk_upload_csv"]
    assert fake.fits == 1
    assert counts(registered, spec=other)["dk_upload_csv"] == 1


def test_recalibrating_makes_scenarios_and_lineups_stale_and_the_next_request_rebuilds_them(
    fake_defs, registered, storage_dir, fake
):
    request(fake_defs, registered, storage_dir)
    old_model = latest_materialization(registered, "calibrated_model", RACE).value("model_version")
    fake_defs.resolve_job_def("calibration_job").execute_in_process(
        instance=registered, partition_key=RACE, asset_selection=[dg.AssetKey("calibrated_model")]
    )

    plan = plan_lineup_request(registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=24.0)
    assert plan.assets == ["scenario_set", "lineups", "dk_upload_csv"]
    assert "model_version changed" in plan.reasons["scenario_set"]
    execute_plan_in_process(fake_defs, registered, plan, reason="request")

    assert counts(registered) == {**dict.fromkeys(CHAIN, 1), "calibrated_model": 2, "scenario_set": 2,
                                  "lineups": 2, "dk_upload_csv": 2}  # fmt: skip
    new_model = latest_materialization(registered, "calibrated_model", RACE).value("model_version")
    used = latest_materialization(registered, "scenario_set", f"{RACE}|{SPEC.key}").value("model_version")
    assert used == new_model != old_model
    assert request(fake_defs, registered, storage_dir)[0].reuses_everything


def test_a_scenario_set_older_than_the_ttl_is_rebuilt_with_the_same_seed_and_draws(
    fake_defs, registered, storage_dir, fake
):
    request(fake_defs, registered, storage_dir)
    path = storage_dir / "scenario_set" / RACE / f"{SPEC.key}.npz"
    first = ScenarioSetCodec().read(path)

    fresh = plan_lineup_request(registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=1.0)
    later = plan_lineup_request(
        registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=1.0, now=time.time() + 3601
    )
    assert fresh.reuses_everything
    assert later.assets == ["scenario_set", "lineups", "dk_upload_csv"]
    assert "TTL" in later.reasons["scenario_set"]
    execute_plan_in_process(fake_defs, registered, later, reason="request")

    second = ScenarioSetCodec().read(path)
    assert counts(registered)["scenario_set"] == 2
    assert second.seed == first.seed
    np.testing.assert_array_equal(second.finish, first.finish)


def test_seeds_differ_between_specs_and_between_model_versions(fake_defs, registered, storage_dir, fake):
    request(fake_defs, registered, storage_dir)
    request(fake_defs, registered, storage_dir, spec=ConstraintSpec(lineups=2, scenarios=200))
    fake_defs.resolve_job_def("calibration_job").execute_in_process(
        instance=registered, partition_key=RACE, asset_selection=[dg.AssetKey("calibrated_model")]
    )
    request(fake_defs, registered, storage_dir)

    assert len(fake.simulations) == 3
    assert len(set(fake.simulations)) == 3


def test_an_uploaded_slate_rebuilds_the_slate_and_everything_built_on_it(
    fake_defs, registered, storage_dir, fake
):
    request(fake_defs, registered, storage_dir)
    upload = storage_dir / "slates" / f"{RACE}.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("a new DKSalaries.csv\n")

    plan, _ = request(fake_defs, registered, storage_dir)

    assert plan.assets == ["race_slate", "scenario_set", "lineups", "dk_upload_csv"]
    assert plan.reasons["race_slate"] == "a new slate was uploaded"
    assert fake.fits == 1


def test_unknown_race_and_malformed_keys_are_refused(registered, fake_defs):
    asset_graph = graph(fake_defs)
    with pytest.raises(UnknownRaceError, match="2031-cup-nowhere-1"):
        plan_lineup_request(
            registered, "2031-cup-nowhere-1", SPEC.key, graph=asset_graph, scenario_ttl_hours=1
        )
    with pytest.raises(PartitionKeyError, match="race key"):
        plan_lineup_request(registered, "2024|cup", SPEC.key, graph=asset_graph, scenario_ttl_hours=1)
    with pytest.raises(PartitionKeyError, match="spec key"):
        plan_lineup_request(registered, RACE, "../../etc", graph=asset_graph, scenario_ttl_hours=1)


def test_a_rejected_fit_fails_the_request_naming_the_check_and_stores_no_model(
    fake_defs, registered, storage_dir, fake: FakeScience
):
    fake.fail_fit = True
    with pytest.raises(RequestFailedError, match="sampler_diagnostics"):
        request(fake_defs, registered, storage_dir)
    assert counts(registered)["calibrated_model"] == 0
    assert counts(registered)["scenario_set"] == 0


def test_a_stored_file_that_disappeared_is_rebuilt_instead_of_trusted(
    fake_defs, registered, storage_dir, fake
):
    request(fake_defs, registered, storage_dir)
    Path(latest_materialization(registered, "calibrated_model", RACE).value("path")).unlink()

    plan, _ = request(fake_defs, registered, storage_dir)

    assert "missing" in plan.reasons["calibrated_model"]
    assert counts(registered)["calibrated_model"] == 2


def test_outputs_stored_under_another_storage_root_are_not_trusted(
    fake_defs, registered, storage_dir, tmp_path
):
    request(fake_defs, registered, storage_dir)

    elsewhere = plan_lineup_request(
        registered,
        RACE,
        SPEC.key,
        graph=graph(fake_defs),
        scenario_ttl_hours=24.0,
        storage_root=tmp_path / "b",
    )
    here = plan_lineup_request(
        registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=24.0, storage_root=storage_dir
    )

    assert set(CHAIN) <= set(elsewhere.assets)
    assert here.reuses_everything


def test_a_new_starting_lineup_rebuilds_the_scenario_set_and_lineups_only(fake_defs, registered, storage_dir):
    request(fake_defs, registered, storage_dir)
    version = save_starting_lineup(storage_dir, RACE, {"Driver A": 1, "Driver B": 2})

    plan = plan_lineup_request(
        registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=24, starts_version=version
    )

    assert plan.assets == ["scenario_set", "lineups", "dk_upload_csv"]
    assert plan.reasons["scenario_set"].startswith("starts_version changed")
    assert starts_version(storage_dir, RACE) == version


def test_a_changed_race_calendar_rebuilds_the_history(fake_defs, registered, storage_dir):
    request(fake_defs, registered, storage_dir)
    current = plan_lineup_request(
        registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=24, calendar_version=""
    )
    assert current.reuses_everything
    changed = plan_lineup_request(
        registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=24, calendar_version="0123"
    )
    assert changed.reasons["race_history"] == "the race calendar changed"


def test_a_pinned_slate_version_other_than_the_built_one_rebuilds_the_scenario_set(
    fake_defs, registered, storage_dir
):
    request(fake_defs, registered, storage_dir)
    plan = plan_lineup_request(
        registered, RACE, SPEC.key, graph=graph(fake_defs), scenario_ttl_hours=24, slate_version="f" * 16
    )
    assert "scenario_set" in plan.assets and "race_slate" not in plan.assets
