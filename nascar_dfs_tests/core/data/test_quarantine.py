"""Flawed real data loads: the broken unit is set aside and listed, everything else loads.

The folders are the shared layout with three real races (conftest.small_data_dir), broken the way
real feeds break: two cars given the same start, a start of 56 in a 38-car field, a tied finish, a
new venue whose tracks.csv row lacks surface and length (Mexico City 2025).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.data.history import load_history
from nascar_dfs.core.model.design import build_design

TALLADEGA, DIRT, PHOENIX = "2021-cup-talladega-2", "2022-cup-bristol-dirt-1", "2024-cup-phoenix-2"


def _read(folder: Path, file: str) -> pd.DataFrame:
    return pd.read_csv(folder / file, dtype=str, keep_default_na=False)


def _write(folder: Path, file: str, table: pd.DataFrame) -> None:
    table.to_csv(folder / file, index=False)


def _break_result(folder: Path, race: str, nth: int, column: str, value: str) -> int:
    """Set one cell of the race's nth result row; returns the spreadsheet row it is on."""
    results = _read(folder, "cup_results.csv")
    position = int(np.flatnonzero(results["race_id"] == race)[nth])
    results.loc[results.index[position], column] = value
    _write(folder, "cup_results.csv", results)
    return position + 2


def _append(folder: Path, file: str, row: dict[str, str]) -> None:
    table = _read(folder, file)
    _write(folder, file, pd.concat([table, pd.DataFrame([row])], ignore_index=True).fillna(""))


def test_a_duplicate_start_masks_only_that_races_starts(small_data_dir: Path) -> None:
    results = _read(small_data_dir, "cup_results.csv")
    talladega = results[results["race_id"] == TALLADEGA]
    twin = talladega["start"].iloc[0]
    row = _break_result(small_data_dir, TALLADEGA, 5, "start", twin)

    history = load_history(small_data_dir)

    [item] = history.quarantine
    assert (item.file, item.row, item.column, item.action) == (
        "cup_results.csv",
        row,
        "start",
        "starts-masked",
    )
    assert f"position {twin} appears twice" in item.reason and item.race_id == TALLADEGA
    masked = history.results_for(TALLADEGA)
    # the race still trains the model: every finish is there, only its starts are unknown
    assert list(masked["finish"]) == list(range(1, len(talladega) + 1))
    assert masked["start"].isna().all()
    assert history.results_for(PHOENIX)["start"].notna().all()
    assert history.results_for(DIRT)["start"].notna().all()


def test_a_start_beyond_the_field_is_listed_with_its_row(small_data_dir: Path) -> None:
    field = int((_read(small_data_dir, "cup_results.csv")["race_id"] == PHOENIX).sum())
    row = _break_result(small_data_dir, PHOENIX, 3, "start", "56")

    history = load_history(small_data_dir)

    [item] = history.quarantine
    assert (item.file, item.row, item.column) == ("cup_results.csv", row, "start")
    assert f"56 is outside 1..{field}" in item.reason
    assert history.results_for(PHOENIX)["start"].isna().all()
    assert len(history.races) == 3


def test_a_broken_finishing_order_drops_the_race_and_the_others_load(small_data_dir: Path) -> None:
    row = _break_result(small_data_dir, DIRT, 7, "finish", "3")

    history = load_history(small_data_dir)

    [item] = history.quarantine
    assert (item.file, item.row, item.column, item.action) == (
        "cup_results.csv",
        row,
        "finish",
        "race-dropped",
    )
    assert set(history.races["race_id"]) == {TALLADEGA, PHOENIX}
    assert not (history.results["race_id"] == DIRT).any()
    assert not (history.loop["race_id"] == DIRT).any()
    with pytest.raises(KeyError, match="quarantined"):
        history.race(DIRT)


def test_a_broken_laps_total_drops_the_race(small_data_dir: Path) -> None:
    races = _read(small_data_dir, "races.csv")
    position = int(np.flatnonzero(races["race_id"] == PHOENIX)[0])
    races.loc[races.index[position], "laps"] = "0"
    _write(small_data_dir, "races.csv", races)

    history = load_history(small_data_dir)

    assert [(q.file, q.row, q.column, q.race_id) for q in history.quarantine] == [
        ("races.csv", position + 2, "laps", PHOENIX)
    ]
    assert set(history.races["race_id"]) == {TALLADEGA, DIRT}


def _upcoming(slug: str, season: int = 2025, race_num: int = 16) -> dict[str, str]:
    return {
        "race_id": f"{season}-cup-{slug}-1",
        "series": "cup",
        "season": str(season),
        "race_num": str(race_num),
        "event_type": "points",
        "track_slug": slug,
        "laps": "100",
        "in_cup_results": "False",
        "in_loop_data": "False",
    }


def test_a_new_venue_without_surface_or_length_is_resolved_from_its_configuration(
    small_data_dir: Path,
) -> None:
    _append(
        small_data_dir,
        "tracks.csv",
        {"track_slug": "mexico-city", "track_name": "Autodromo Hermanos Rodriguez"},
    )
    _append(
        small_data_dir,
        "track_configurations.csv",
        {
            "config_id": "mexico_city",
            "track_slug": "mexico-city",
            "length_mi": "2.42",
            "surface": "asphalt",
            "road_course": "True",
            "primary_family": "Permanent road course",
            "first_year_in_scope": "2025",
            "last_year_through_2024": "",
        },
    )
    _append(small_data_dir, "races.csv", _upcoming("mexico-city"))

    history = load_history(small_data_dir)

    assert history.quarantine == ()
    assert history.race("2025-cup-mexico-city-1").track_type == "road"
    venue = history.tracks.set_index("track_slug").loc["mexico-city"]
    assert (venue["surface"], float(venue["length_mi"])) == ("road", 2.42)


def test_a_venue_that_cannot_be_resolved_drops_its_races_only(small_data_dir: Path) -> None:
    _append(small_data_dir, "tracks.csv", {"track_slug": "nowhere", "track_name": "Nowhere Raceway"})
    _append(small_data_dir, "races.csv", _upcoming("nowhere"))

    history = load_history(small_data_dir)

    [item] = history.quarantine
    assert (item.file, item.column, item.action, item.track_slug) == (
        "races.csv",
        "track_slug",
        "venue-dropped",
        "nowhere",
    )
    assert "no track type for 'nowhere'" in item.reason
    assert set(history.races["race_id"]) == {TALLADEGA, DIRT, PHOENIX}


def test_a_race_with_masked_starts_trains_without_a_start_term(small_data_dir: Path) -> None:
    results = _read(small_data_dir, "cup_results.csv")
    twin = results.loc[results["race_id"] == TALLADEGA, "start"].iloc[0]
    _break_result(small_data_dir, TALLADEGA, 1, "start", twin)
    history = load_history(small_data_dir)

    design = build_design(history, PHOENIX, window_seasons=4.0)

    masked = design.race_ids.index(TALLADEGA)
    kept = design.race_ids.index(DIRT)
    assert np.all(design.start_z[masked] == 0.0) and np.isfinite(design.start_z).all()
    assert design.running[masked].sum() > 0  # its finishing order is still in the likelihood
    assert np.abs(design.start_z[kept]).max() > 1.0
