"""The race calendar of a data folder: points races in schedule order, completed or ahead."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from nascar_dfs.core.data.calendar import read_calendar
from nascar_dfs.core.race_key import RaceKeyError


def _folder(tmp_path: Path, races: list[tuple[str, int, str, str]], completed: list[str]) -> Path:
    pd.DataFrame(
        [
            {"race_id": r, "season": 2025, "race_num": n, "race_date": d, "event_type": kind}
            for r, n, d, kind in races
        ]
    ).to_csv(tmp_path / "races.csv", index=False)
    pd.DataFrame({"race_id": completed, "driver": "x"}).to_csv(tmp_path / "cup_results.csv", index=False)
    return tmp_path


def test_points_races_in_schedule_order_with_what_is_completed_and_what_is_ahead(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [
            ("2025-cup-atlanta-1", 2, "2025-02-23", "points"),
            ("2025-cup-clash-1", 0, "2025-02-02", "exhibition"),
            ("2025-cup-daytona-1", 1, "2025-02-16", "points"),
            ("2025-cup-cota-1", 3, "", "points"),
        ],
        ["2025-cup-daytona-1"],
    )
    calendar = read_calendar(folder)
    assert calendar.race_ids() == ["2025-cup-daytona-1", "2025-cup-atlanta-1", "2025-cup-cota-1"]
    assert calendar.completed() == ["2025-cup-daytona-1"]
    assert calendar.upcoming(date(2025, 2, 17), limit=5) == ["2025-cup-atlanta-1", "2025-cup-cota-1"]
    assert calendar.next_after("2025-cup-daytona-1", limit=1) == ["2025-cup-atlanta-1"]


def test_a_race_id_that_is_no_race_key_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [("2025-cup-daytona|1", 1, "", "points")], [])
    with pytest.raises(RaceKeyError, match="invalid race key"):
        read_calendar(folder)


def test_a_folder_without_the_two_files_is_not_a_data_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a NASCAR data folder"):
        read_calendar(tmp_path)
