"""Which races are completed and which are coming up, read cheaply from a data folder.

The platform's sensor and schedule ask every few minutes, so this reads a few columns of two CSV
files instead of loading and validating the whole history; every race id must be a valid race key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from nascar_dfs.core.race_key import validate_race_key


@dataclass(frozen=True)
class RaceCalendar:
    """Points races in schedule order: race_id, race_date (ISO or empty), completed."""

    races: pd.DataFrame

    def race_ids(self) -> list[str]:
        return self.races["race_id"].tolist()

    def completed(self) -> list[str]:
        return self.races.loc[self.races["completed"], "race_id"].tolist()

    def upcoming(self, today: date, limit: int) -> list[str]:
        """The next `limit` races without results dated today or later (undated ones count as ahead)."""
        ahead = self.races[~self.races["completed"]]
        dated = ahead["race_date"].fillna("") != ""
        keep = ~dated | (ahead["race_date"].fillna("9999-12-31") >= today.isoformat())
        return ahead.loc[keep, "race_id"].head(limit).tolist()

    def next_after(self, race: str, limit: int) -> list[str]:
        """The next `limit` races without results scheduled after `race` (dates not needed)."""
        ids = self.race_ids()
        if race not in ids:
            raise KeyError(f"race {race} is not a points race of the calendar")
        later = self.races.iloc[ids.index(race) + 1 :]
        return later.loc[~later["completed"], "race_id"].head(limit).tolist()


def read_calendar(data_dir: Path) -> RaceCalendar:
    races_file, results_file = data_dir / "races.csv", data_dir / "cup_results.csv"
    for path in (races_file, results_file):
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: not a NASCAR data folder")
    races = pd.read_csv(
        races_file,
        usecols=["race_id", "season", "race_num", "race_date", "event_type"],
        dtype={"race_date": str},
    )
    done = set(pd.read_csv(results_file, usecols=["race_id"])["race_id"])
    points = races[races["event_type"] == "points"].sort_values(["season", "race_num"], kind="stable")
    for race in points["race_id"]:
        validate_race_key(race)
    table = pd.DataFrame(
        {
            "race_id": points["race_id"].to_numpy(),
            "race_date": points["race_date"].to_numpy(),
            "completed": points["race_id"].isin(done).to_numpy(),
        }
    )
    return RaceCalendar(races=table)
