"""The forecaster choice as a user sees it: recorded with the calibrated model and its check, and
followed by the scenario set (science stand-ins of nascar_dfs_tests/platform/fakes.py, real Dagster)."""

from __future__ import annotations

import dagster as dg

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.materializations import all_materializations, latest_materialization
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs_tests.defs.test_checks import calibrate, check_of
from nascar_dfs_tests.platform.fakes import COMPLETED, UPCOMING

SPEC = ConstraintSpec(lineups=3, scenarios=100)
SHORT_TRACKS = COMPLETED[1:]  # Dover, Phoenix, Martinsville; Atlanta is a superspeedway


def recorded(instance: dg.DagsterInstance, asset: str, partition: str, key: str):
    return latest_materialization(instance, asset, partition).value(key)


def test_the_replay_is_chosen_when_it_scored_better_on_the_stored_fits_and_the_scenarios_follow(
    fake_defs, registered, fake, storage_dir
):
    fake.candidate_crps = {"model": 5.0, "replay": 4.5}
    for race in COMPLETED:
        assert calibrate(fake_defs, registered, race).success
    fits_before = fake.fits
    fake.scored_with.clear()

    result = calibrate(fake_defs, registered, UPCOMING)

    choice = check_of(result, "forecaster_choice")
    assert choice.passed
    assert choice.metadata["forecaster"].value == "replay"
    assert choice.metadata["races"].value == ", ".join(SHORT_TRACKS)
    assert choice.metadata["mean_finish_crps"].value == {"model": 5.0, "replay": 4.5}
    assert set(choice.metadata["scores"].value) == set(SHORT_TRACKS)
    # Each race was scored with the fit stored for it; the only new fit is the upcoming race's own.
    assert fake.scored_with == [(race, race) for race in SHORT_TRACKS]
    assert fake.fits == fits_before + 1
    assert recorded(registered, "calibrated_model", UPCOMING, "forecaster") == "replay"
    assert "no model is fitted" in recorded(registered, "calibrated_model", UPCOMING, "forecaster_note")

    request_lineups(fake_defs, registered, UPCOMING, SPEC, storage_root=storage_dir, scenario_ttl_hours=1)

    assert fake.forecasters == ["replay"]
    sets = [m for m in all_materializations(registered, "scenario_set") if m.partition.startswith(UPCOMING)]
    assert len(sets) == 1 and sets[0].value("forecaster") == "replay"


def test_the_model_stays_when_it_scored_better_and_with_no_race_of_the_track_type_yet(
    fake_defs, registered, fake
):
    first = calibrate(fake_defs, registered, COMPLETED[0])  # the only superspeedway race
    fake.candidate_crps = {"model": 5.0, "replay": 5.5}
    assert calibrate(fake_defs, registered, SHORT_TRACKS[0]).success

    result = calibrate(fake_defs, registered, SHORT_TRACKS[1])

    nothing_yet = check_of(first, "forecaster_choice")
    assert nothing_yet.passed and nothing_yet.metadata["forecaster"].value == "model"
    assert "no completed superspeedway race" in nothing_yet.metadata["note"].value
    better = check_of(result, "forecaster_choice")
    assert better.passed and better.metadata["forecaster"].value == "model"
    assert better.metadata["races"].value == SHORT_TRACKS[0]


def test_a_scoring_failure_fails_the_check_naming_the_error_and_keeps_the_model(fake_defs, registered, fake):
    assert calibrate(fake_defs, registered, SHORT_TRACKS[0]).success
    fake.fail_scoring = True

    result = calibrate(fake_defs, registered, SHORT_TRACKS[1])

    choice = check_of(result, "forecaster_choice")
    assert not choice.passed and choice.severity == dg.AssetCheckSeverity.ERROR
    assert "no result for Driver Z" in choice.metadata["error"].value
    assert result.success  # the model itself is fine and recorded, with the reason it stays
    assert recorded(registered, "calibrated_model", SHORT_TRACKS[1], "forecaster") == "model"
    assert "Driver Z" in recorded(registered, "calibrated_model", SHORT_TRACKS[1], "forecaster_error")
