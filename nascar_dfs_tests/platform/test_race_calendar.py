"""The platform's race calendar merged into the real history, the data folder left as it was."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from nascar_dfs.platform.race_calendar import (
    RaceEntryError,
    UnknownTrackError,
    UpcomingRace,
    add_races,
    calendar_version,
    load_history,
)


def test_an_added_race_loads_with_the_history_and_the_data_folder_is_not_written(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    before = (shared_data_dir / "races.csv").read_bytes()
    assert calendar_version(tmp_path) == ""
    add_races(
        tmp_path, shared_data_dir, [UpcomingRace("2025-cup-daytona-1", date(2025, 2, 16), "daytona", 200)]
    )
    add_races(
        tmp_path, shared_data_dir, [UpcomingRace("2025-cup-atlanta-1", date(2025, 2, 23), "atlanta", 260)]
    )
    history = load_history(shared_data_dir, tmp_path)
    daytona, atlanta = history.race("2025-cup-daytona-1"), history.race("2025-cup-atlanta-1")
    assert (daytona.season, daytona.race_num, daytona.laps) == (2025, 1, 200)
    assert atlanta.race_num == 2 and atlanta.race_date == "2025-02-23"
    assert not history.has_results("2025-cup-daytona-1")
    assert history.has_results("2024-cup-phoenix-2")  # the data folder's races are all there
    assert (shared_data_dir / "races.csv").read_bytes() == before
    assert calendar_version(tmp_path) != ""


def test_bad_races_are_refused_naming_the_field(shared_data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownTrackError, match="closest: phoenix"):
        add_races(
            tmp_path, shared_data_dir, [UpcomingRace("2025-cup-phenix-1", date(2025, 3, 9), "phenix", 312)]
        )
    with pytest.raises(RaceEntryError, match="run already") as caught:
        add_races(
            tmp_path,
            shared_data_dir,
            [UpcomingRace("2024-cup-phoenix-2", date(2024, 11, 10), "phoenix", 312)],
        )
    assert caught.value.field == "race_id"
    with pytest.raises(RaceEntryError, match="laps") as caught:
        add_races(
            tmp_path, shared_data_dir, [UpcomingRace("2025-cup-phoenix-1", date(2025, 3, 9), "phoenix", 0)]
        )
    assert caught.value.field == "laps"
