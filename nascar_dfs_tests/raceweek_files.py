"""A race week in real formats, built in a temp folder for the end-to-end tests of every door (REST,
CLI): a history folder in the shared layout with the flaws real NASCAR data has, the upcoming race
to add with `nascar-dfs race add`, a DKSalaries.csv shaped like DraftKings' own and a starting lineup.

The history is real rows of the shared data (data_folders.py), with two flaws put in on purpose:
one race whose starting positions repeat (two cars given the same start: its starts are masked)
and one venue whose tracks.csv row lacks its surface (resolved from track_configurations.csv).
The slate's names are the drivers of the venue's latest race, plus one debutant the history does
not know, one of them with a blank TeamAbbrev. Salaries are SYNTHETIC (slate_files.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nascar_dfs_tests.data_folders import result_cell, set_result, small_real_folder
from nascar_dfs_tests.slate_files import dk_salaries, race_drivers

HISTORY_RACES = (
    "2021-cup-talladega-2",
    "2022-cup-bristol-dirt-1",
    "2023-cup-phoenix-1",
    "2023-cup-phoenix-2",
    "2024-cup-phoenix-1",
    "2024-cup-phoenix-2",
)
FLAWED_RACE = "2024-cup-phoenix-1"  # two cars given one starting position
SURFACELESS_TRACK = "phoenix"  # tracks.csv surface blank; track_configurations.csv knows it
UPCOMING = "2026-cup-phoenix-1"
UPCOMING_DATE = "2026-03-08"
UPCOMING_LAPS = 312
UNKNOWN_NAME = "Chandler Smith"  # not in this history (closest: Zane Smith): a debutant to declare
RESULTS = "cup_results.csv"


@dataclass(frozen=True)
class RaceWeek:
    data_dir: Path  # the history folder (NASCAR_DFS_DATA_DIR)
    race_id: str  # the upcoming race, not in races.csv: add it with `race add_args`
    track_slug: str
    race_date: str
    laps: int
    slate: Path  # DKSalaries.csv: no StartPos, one blank TeamAbbrev, one unknown name
    starting_lineup: Path  # driver,start CSV of every slate driver
    drivers: tuple[str, ...]  # the slate's names, dearest first
    unknown_name: str
    blank_team: str  # a known driver whose TeamAbbrev is blank
    flawed_race: str
    flawed_row: int  # spreadsheet row (header = 1) of cup_results.csv holding the repeated start
    surfaceless_track: str

    def race_add_args(self) -> list[str]:
        """`nascar-dfs race add ...` arguments that add the upcoming race."""
        return [
            "race",
            "add",
            self.race_id,
            "--date",
            self.race_date,
            "--track",
            self.track_slug,
            "--laps",
            str(self.laps),
        ]

    def starting_lineup_csv(self) -> bytes:
        return self.starting_lineup.read_bytes()


def build_race_week(shared: Path, root: Path) -> RaceWeek:
    """Write the race week's files under `root` (history in root/data, uploads in root/uploads),
    from `shared`, the read-only shared data folder (the `shared_data_dir` fixture)."""
    data = small_real_folder(shared, root / "data", HISTORY_RACES)
    # Duplicate starts: the second car of the race is given the first car's start.
    first_start = result_cell(data, FLAWED_RACE, 0, "start")
    flawed_row = set_result(data, FLAWED_RACE, 1, "start", first_start)
    tracks = pd.read_csv(data / "tracks.csv", dtype=str, keep_default_na=False)
    tracks.loc[tracks["track_slug"] == SURFACELESS_TRACK, "surface"] = ""
    tracks.to_csv(data / "tracks.csv", index=False)

    uploads = root / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    known = race_drivers(data, "2024-cup-phoenix-2")
    names = (*known[:35], UNKNOWN_NAME)
    blank_team = names[2]
    slate = uploads / "DKSalaries.csv"
    slate.write_bytes(dk_salaries(list(names), blank_team={blank_team, UNKNOWN_NAME}))
    lineup = uploads / "starting-lineup.csv"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("driver", "start"))
    # The cheapest driver on pole: an order salary order would never give.
    writer.writerows((name, i + 1) for i, name in enumerate(reversed(names)))
    lineup.write_text(out.getvalue(), encoding="utf-8")
    return RaceWeek(
        data_dir=data,
        race_id=UPCOMING,
        track_slug=SURFACELESS_TRACK,
        race_date=UPCOMING_DATE,
        laps=UPCOMING_LAPS,
        slate=slate,
        starting_lineup=lineup,
        drivers=names,
        unknown_name=UNKNOWN_NAME,
        blank_team=blank_team,
        flawed_race=FLAWED_RACE,
        flawed_row=flawed_row,
        surfaceless_track=SURFACELESS_TRACK,
    )


def break_history(week: RaceWeek) -> tuple[str, int, str]:
    """Blank the race_id of one cup_results.csv row: a flaw no quarantine can contain (the row names
    no race), so the history fails to load naming file, row and column. Returns them."""
    row = set_result(week.data_dir, "2021-cup-talladega-2", 3, "race_id", "")
    return RESULTS, row, "race_id"
