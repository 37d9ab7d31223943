from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.history import load_history
from nascar_dfs.core.tracks import TRACK_TYPES


def test_shared_folder_loads_with_sane_dtypes(shared_history) -> None:
    races, results = shared_history.races, shared_history.results
    assert len(races) == 379 and len(results) == 13_972 and len(shared_history.loop) == 8_809
    # start is nullable: a race whose starting grid is broken keeps its finish with its starts missing
    assert results["finish"].dtype == "int64" and str(results["start"].dtype) == "Int64"
    assert results["start"].notna().all() and shared_history.quarantine == ()
    assert str(results["fastest_laps"].dtype) == "Int64"
    # fastest laps exist from 2019 on and nowhere before
    has_fl = results["fastest_laps"].notna()
    assert has_fl[results["season"] >= 2019].all() and not has_fl[results["season"] < 2019].any()
    # car numbers keep their leading zeros
    assert "00" in set(results["car_number"])
    assert set(races["track_type"]) == set(TRACK_TYPES)


def test_points_races_are_ordered_by_season_and_race_number(shared_history) -> None:
    points = shared_history.points_races()
    assert len(points) == 360
    assert (points["event_type"] == "points").all()
    order = list(zip(points["season"], points["race_num"], strict=True))
    assert order == sorted(order)
    assert points.iloc[0]["race_id"] == "2015-cup-daytona-1"
    assert points.iloc[-1]["race_id"] == "2024-cup-phoenix-2"


def test_race_and_results_for_one_race(shared_history) -> None:
    info = shared_history.race("2024-cup-phoenix-2")
    assert (info.season, info.race_num, info.track_type, info.laps) == (2024, 36, "short", 312)
    assert info.race_date == "2024-11-10"
    rows = shared_history.results_for("2024-cup-phoenix-2")
    assert list(rows["finish"]) == list(range(1, len(rows) + 1))
    assert rows["laps_led"].sum() == info.laps


def test_unknown_race_is_a_key_error_naming_it(shared_history) -> None:
    with pytest.raises(KeyError, match="2030-cup-mars-1"):
        shared_history.race("2030-cup-mars-1")
    with pytest.raises(KeyError, match="2030-cup-mars-1"):
        shared_history.results_for("2030-cup-mars-1")


def test_loop_data_is_optional(small_data_dir: Path) -> None:
    (small_data_dir / "loop_data.csv").unlink()
    history = load_history(small_data_dir)
    assert history.loop.empty
    assert len(history.results_for("2021-cup-talladega-2")) > 30


def _edit(folder: Path, file: str, edit) -> None:
    table = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    edit(table).to_csv(folder / file, index=False)


def _set_cell(table: pd.DataFrame, position: int, column: str, value: str) -> pd.DataFrame:
    table.loc[table.index[position], column] = value
    return table


@pytest.mark.parametrize(
    ("file", "edit", "row", "column", "fragment"),
    [
        ("cup_results.csv", lambda t: t.drop(columns=["laps_led"]), None, "laps_led", "missing"),
        ("tracks.csv", lambda t: t.drop(columns=["surface"]), None, "surface", "missing"),
        ("cup_results.csv", lambda t: _set_cell(t, 20, "race_id", ""), 22, "race_id", "empty"),
    ],
)
def test_unusable_files_name_file_row_and_column(
    small_data_dir: Path, file: str, edit, row: int | None, column: str, fragment: str
) -> None:
    _edit(small_data_dir, file, edit)
    with pytest.raises(DataValidationError) as caught:
        load_history(small_data_dir)
    error = caught.value
    assert (error.file, error.row, error.column) == (file, row, column)
    assert fragment in str(error) and file in str(error)


@pytest.mark.parametrize(
    ("file", "edit", "row", "column", "fragment"),
    [
        ("cup_results.csv", lambda t: _set_cell(t, 15, "finish", "x"), 17, "finish", "'x' is not an integer"),
        ("cup_results.csv", lambda t: _set_cell(t, 3, "laps", "12.5"), 5, "laps", "not an integer"),
        (
            "cup_results.csv",
            lambda t: _set_cell(t, 20, "race_id", "2030-cup-mars-1"),
            22,
            "race_id",
            "not in races.csv",
        ),
        (
            "cup_results.csv",
            lambda t: _set_cell(t, 4, "driver", t["driver"].iloc[2].upper()),
            6,
            "driver",
            "appears twice",
        ),
        ("cup_results.csv", lambda t: _set_cell(t, 7, "finish", "3"), 9, "finish", "appears twice"),
        ("cup_results.csv", lambda t: _set_cell(t, 7, "start", "99"), 9, "start", "outside 1.."),
        ("cup_results.csv", lambda t: _set_cell(t, 2, "laps_led", "-1"), 4, "laps_led", "negative"),
        ("races.csv", lambda t: _set_cell(t, 1, "laps", "many"), 3, "laps", "'many' is not an integer"),
        ("cup_results.csv", lambda t: _set_cell(t, 0, "laps", "9999"), 2, "laps", "races.csv gives the race"),
        (
            "cup_results.csv",
            lambda t: _set_cell(t, 5, "season", "1999"),
            7,
            "season",
            "disagrees with races.csv",
        ),
        ("races.csv", lambda t: _set_cell(t, 2, "race_id", t["race_id"].iloc[0]), 4, "race_id", "twice"),
        ("loop_data.csv", lambda t: _set_cell(t, 6, "fastest_laps", ""), 8, "fastest_laps", "empty"),
    ],
)
def test_broken_rows_are_quarantined_with_file_row_and_column(
    small_data_dir: Path, file: str, edit, row: int | None, column: str, fragment: str
) -> None:
    _edit(small_data_dir, file, edit)
    history = load_history(small_data_dir)  # the rest still loads
    listed = [q for q in history.quarantine if (q.file, q.row, q.column) == (file, row, column)]
    assert listed, history.quarantine
    assert fragment in listed[0].reason and file in str(listed[0])
    assert len(history.races) >= 1 and not history.results.empty


def test_error_message_reads_like_a_sentence() -> None:
    error = DataValidationError("cup_results.csv", 17, "finish", "'x' is not an integer")
    assert str(error) == "cup_results.csv row 17, column 'finish': 'x' is not an integer"


def test_missing_required_file_is_reported(small_data_dir: Path) -> None:
    (small_data_dir / "cup_results.csv").unlink()
    with pytest.raises(DataValidationError, match=r"cup_results\.csv"):
        load_history(small_data_dir)


def test_races_file_without_rows_is_an_error(small_data_dir: Path) -> None:
    _edit(small_data_dir, "races.csv", lambda t: t.iloc[0:0])
    with pytest.raises(DataValidationError, match="no races"):
        load_history(small_data_dir)
