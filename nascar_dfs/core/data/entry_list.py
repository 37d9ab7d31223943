"""The entry list of a race as its `Field` (core/field.py): from its results (past race) or from a
DraftKings slate (upcoming race)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.field import Field
from nascar_dfs.core.names import name_key, normalize_name

if TYPE_CHECKING:
    from nascar_dfs.core.data.draftkings import Slate

UNKNOWN_MANUFACTURER = "unknown"


def field_from_history(history: RaceHistory, race_id: str) -> Field:
    """The actual field of a completed race, drivers in start order (pole first)."""
    info = history.race(race_id)
    rows = history.results_for(race_id).sort_values("start", kind="stable")
    return Field(
        race_id=info.race_id,
        season=info.season,
        track_slug=info.track_slug,
        track_type=info.track_type,
        laps=info.laps,
        drivers=tuple(rows["driver"].astype(str)),
        teams=tuple(rows["team"].astype(str)),
        manufacturers=tuple(rows["manufacturer"].astype(str)),
        starts=rows["start"].to_numpy(dtype=np.int64),
    )


def field_from_slate(slate: Slate, history: RaceHistory, race_id: str) -> Field:
    """The field of an upcoming race from a DraftKings slate.

    Drivers are named as the optimizer's pool names them (`players.driver` where
    `match_slate_drivers` filled it, else the normalized DraftKings name), so scenario columns and
    lineup pool line up. Call `match_slate_drivers(..., allow_unknown=True)` first to get the
    history spelling that the model knows. Team and manufacturer come from each driver's most recent
    result row before `race_id` (matched by `name_key`); a driver without one gets the slate's
    TeamAbbrev as team and manufacturer "unknown". Starts come from the slate's StartPos column;
    without one (qualifying not run yet) the field starts in SALARY ORDER: highest salary on pole,
    ties broken by slate order. A StartPos column filled for some drivers only is an error.
    Drivers are ordered by start.
    """
    info = history.race(race_id)
    players = slate.players
    if players.empty:
        raise ValueError(f"slate {slate.source} has no players")
    names = _field_names(players)
    starts = _field_starts(players)
    teams, manufacturers = _latest_teams(history, info.season, info.race_num, names, players["team"])
    order = np.argsort(starts, kind="stable")
    return Field(
        race_id=info.race_id,
        season=info.season,
        track_slug=info.track_slug,
        track_type=info.track_type,
        laps=info.laps,
        drivers=tuple(names[i] for i in order),
        teams=tuple(teams[i] for i in order),
        manufacturers=tuple(manufacturers[i] for i in order),
        starts=starts[order],
    )


def _field_names(players: pd.DataFrame) -> list[str]:
    return [
        str(driver) if isinstance(driver, str) and driver else normalize_name(str(name))
        for driver, name in zip(players["driver"], players["name"], strict=True)
    ]


def _field_starts(players: pd.DataFrame) -> np.ndarray:
    start = players["start"]
    n = len(players)
    if start.notna().any() and not start.notna().all():
        missing = players.loc[start.isna().to_numpy(), "name"].tolist()
        raise ValueError(f"slate StartPos is empty for {len(missing)} driver(s): {', '.join(missing)}")
    if start.notna().all():
        values = start.to_numpy(dtype=np.int64)
        if sorted(values.tolist()) != list(range(1, n + 1)):
            raise ValueError(f"slate StartPos values must be 1..{n} once each, got {sorted(values.tolist())}")
        return values
    by_salary = np.argsort(-players["salary"].to_numpy(dtype=np.int64), kind="stable")
    starts = np.empty(n, dtype=np.int64)
    starts[by_salary] = np.arange(1, n + 1)
    return starts


def _latest_teams(
    history: RaceHistory, season: int, race_num: int | None, names: list[str], slate_teams: pd.Series
) -> tuple[list[str], list[str]]:
    """Team and manufacturer of each driver's most recent result before (season, race_num)."""
    results = history.results
    before = results["season"] < season
    if race_num is not None:
        before |= (results["season"] == season) & (results["race_num"] < race_num)
    latest = (
        results.loc[before, ["driver", "season", "race_num", "team", "manufacturer"]]
        .sort_values(["season", "race_num"], kind="stable")
        .drop_duplicates("driver", keep="last")
    )
    latest.index = latest["driver"].map(name_key)
    latest = latest[~latest.index.duplicated(keep="last")]
    keys = [name_key(name) for name in names]
    teams = [
        str(latest.at[key, "team"]) if key in latest.index else str(slate_team)
        for key, slate_team in zip(keys, slate_teams, strict=True)
    ]
    manufacturers = [
        str(latest.at[key, "manufacturer"]) if key in latest.index else UNKNOWN_MANUFACTURER for key in keys
    ]
    return teams, manufacturers
