"""What a process outside Dagster (the REST API, the CLI) changes of a race week: the races of the
platform's calendar, the slates and the starting lineups, all kept under the platform's storage
(never in the data folder). Each function is the one the doors share, so the REST API and the CLI
validate and store alike."""

from __future__ import annotations

from nascar_dfs.platform.player_numbers import (
    NumbersMissingError,
    NumbersUpload,
    PlayerNumbersError,
    StoredNumbers,
    delete_numbers_file,
    fold_player_numbers,
    list_numbers_files,
    read_numbers_file,
    spec_ownership_problem,
    spec_unknown_names,
    upload_player_numbers,
)
from nascar_dfs.platform.race_calendar import (
    RaceEntryError,
    ScheduledRace,
    UnknownTrackError,
    UpcomingRace,
    add_races,
    add_schedule,
    calendar_version,
    race_info,
    schedule_races,
    upcoming_races,
)
from nascar_dfs.platform.slate_store import (
    SlateMissingError,
    StoredSlate,
    current_path,
    current_slate,
    is_demo_race,
    pinned_slate,
    save_slate,
    slates_dir,
)
from nascar_dfs.platform.starting_lineups import (
    StartingLineupError,
    parse_csv,
    parse_weekend_feed,
    save_starting_lineup,
    starting_lineup,
    starts_version,
    validate,
)
from nascar_dfs.platform.uploads import (
    SLATE_FILE,
    HistoryUnavailableError,
    LineupUpload,
    SlateUpload,
    history_drivers,
    read_slate_bytes,
    upload_slate,
    upload_starting_lineup,
)

__all__ = [
    "SlateMissingError",
    "StoredSlate",
    "current_path",
    "current_slate",
    "is_demo_race",
    "pinned_slate",
    "save_slate",
    "slates_dir",
]

__all__ += [
    "NumbersMissingError",
    "NumbersUpload",
    "PlayerNumbersError",
    "StoredNumbers",
    "delete_numbers_file",
    "fold_player_numbers",
    "list_numbers_files",
    "read_numbers_file",
    "spec_ownership_problem",
    "spec_unknown_names",
    "upload_player_numbers",
]

__all__ += [
    "SLATE_FILE",
    "HistoryUnavailableError",
    "LineupUpload",
    "RaceEntryError",
    "ScheduledRace",
    "SlateUpload",
    "StartingLineupError",
    "UnknownTrackError",
    "UpcomingRace",
    "add_races",
    "add_schedule",
    "calendar_version",
    "history_drivers",
    "parse_csv",
    "parse_weekend_feed",
    "race_info",
    "read_slate_bytes",
    "save_starting_lineup",
    "schedule_races",
    "starting_lineup",
    "starts_version",
    "upcoming_races",
    "upload_slate",
    "upload_starting_lineup",
    "validate",
]
