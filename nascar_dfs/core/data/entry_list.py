"""The entry list of a race as its `Field` (core/field.py): from its results (past race) or from a
DraftKings slate (upcoming race)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.data.tables import sheet_row
from nascar_dfs.core.field import Field
from nascar_dfs.core.names import name_key, normalize_name
from nascar_dfs.core.scenarios.starts import RECENT_STARTS

if TYPE_CHECKING:
    from nascar_dfs.core.data.draftkings import Slate

UNKNOWN_MANUFACTURER = "unknown"


def field_from_history(history: RaceHistory, race_id: str) -> Field:
    """The actual field of a completed race, drivers in start order (pole first).

    A race whose starts the loader masked (quarantined grid) gets `starts=None` and each driver's
    recent starts, so its scenarios simulate the grid rather than invent one.
    """
    info = history.race(race_id)
    rows = history.results_for(race_id)
    grid_known = not rows["start"].isna().any()
    if grid_known:
        rows = rows.sort_values("start", kind="stable")
    drivers = tuple(rows["driver"].astype(str))
    return Field(
        race_id=info.race_id,
        season=info.season,
        track_slug=info.track_slug,
        track_type=info.track_type,
        laps=info.laps,
        drivers=drivers,
        teams=tuple(rows["team"].astype(str)),
        manufacturers=tuple(rows["manufacturer"].astype(str)),
        starts=rows["start"].to_numpy(dtype=np.int64) if grid_known else None,
        recent_starts=None if grid_known else recent_starts(history, info.season, info.race_num, [*drivers]),
    )


def field_from_slate(
    slate: Slate, history: RaceHistory, race_id: str, starts: Mapping[str, int] | None = None
) -> Field:
    """The field of an upcoming race from a DraftKings slate.

    Drivers are named as the optimizer's pool names them (`players.driver` where
    `match_slate_drivers` filled it, else the normalized DraftKings name), so scenario columns and
    lineup pool line up. Call `match_slate_drivers(..., allow_unknown=True)` first to get the
    history spelling that the model knows. Team and manufacturer come from each driver's most recent
    result row before `race_id` (matched by `name_key`); a driver without one gets the slate's
    TeamAbbrev as team and manufacturer "unknown". Starts come from `starts` (an uploaded starting
    lineup: driver name -> position, matched by `name_key`, covering the whole field; its order
    renumbered 1..n over the slate's drivers when it lists cars the slate has not), else from the
    slate's StartPos column. Without either (qualifying not run yet) the starting grid is UNKNOWN:
    `starts` is None and each driver's recent starts go with the field, so the scenarios simulate
    the grid (core/scenarios/starts.py) and say so; no order is assumed. A StartPos column filled
    for some drivers only is an error. Drivers are ordered by start when it is known, else as listed.
    """
    info = history.race(race_id)
    players = slate.players
    if players.empty:
        raise ValueError(f"slate {slate.source} has no players")
    names = _field_names(players)
    grid = _lineup_starts(starts, names) if starts is not None else _field_starts(players, slate.source)
    teams, manufacturers = _latest_teams(history, info.season, info.race_num, names, players["team"])
    if grid is None:
        return Field(
            race_id=info.race_id,
            season=info.season,
            track_slug=info.track_slug,
            track_type=info.track_type,
            laps=info.laps,
            drivers=tuple(names),
            teams=tuple(teams),
            manufacturers=tuple(manufacturers),
            starts=None,
            recent_starts=recent_starts(history, info.season, info.race_num, names),
        )
    order = np.argsort(grid, kind="stable")
    return Field(
        race_id=info.race_id,
        season=info.season,
        track_slug=info.track_slug,
        track_type=info.track_type,
        laps=info.laps,
        drivers=tuple(names[i] for i in order),
        teams=tuple(teams[i] for i in order),
        manufacturers=tuple(manufacturers[i] for i in order),
        starts=grid[order],
    )


def _field_names(players: pd.DataFrame) -> list[str]:
    return [
        str(driver) if isinstance(driver, str) and driver else normalize_name(str(name))
        for driver, name in zip(players["driver"], players["name"], strict=True)
    ]


def _lineup_starts(starts: Mapping[str, int], names: list[str]) -> np.ndarray:
    by_key = {name_key(name): int(position) for name, position in starts.items()}
    missing = [name for name in names if name_key(name) not in by_key]
    if missing:
        raise ValueError(
            f"the starting lineup has no position for {len(missing)} driver(s): {', '.join(missing)}"
        )
    values = np.array([by_key[name_key(name)] for name in names], dtype=np.int64)
    if len(set(values.tolist())) != len(values):
        raise ValueError(f"the starting lineup gives two drivers one position: {sorted(values.tolist())}")
    # The lineup lists every car of the race; a slate may leave some out. The field needs 1..n, so
    # the slate's drivers keep the lineup's order (a car missing from the slate leaves no gap).
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(1, len(values) + 1)
    return ranks


def _field_starts(players: pd.DataFrame, source: str) -> np.ndarray | None:
    start = players["start"]
    n = len(players)
    file = Path(source).name
    if start.notna().any() and not start.notna().all():
        missing = players.loc[start.isna().to_numpy(), "name"].tolist()
        first = int(np.flatnonzero(start.isna().to_numpy())[0])
        raise DataValidationError(
            file, sheet_row(first), "StartPos",
            f"StartPos is empty for {len(missing)} driver(s): {', '.join(missing)} (fill all or none)",
        )  # fmt: skip
    if start.notna().all():
        values = start.to_numpy(dtype=np.int64)
        if sorted(values.tolist()) != list(range(1, n + 1)):
            bad = [i for i, v in enumerate(values) if not 1 <= v <= n or (values == v).sum() > 1]
            raise DataValidationError(
                file, sheet_row(bad[0]) if bad else None, "StartPos",
                f"StartPos values must be 1..{n} once each, got {sorted(values.tolist())}",
            )  # fmt: skip
        return values
    return None  # unknown: simulated per scenario, never assumed


def recent_starts(
    history: RaceHistory, season: int, race_num: int | None, names: list[str], k: int = RECENT_STARTS
) -> np.ndarray:
    """(len(names), k) float: each driver's last k known starts before (season, race_num), newest
    first, as start / field size of that race; NaN where he has fewer (debutants: all NaN)."""
    results = history.results
    before = results["season"] < season
    if race_num is not None:
        before |= (results["season"] == season) & (results["race_num"] < race_num)
    rows = results.loc[
        before & results["start"].notna(), ["race_id", "driver", "season", "race_num", "start"]
    ]
    size = results.groupby("race_id")["race_id"].transform("size").loc[rows.index]
    rows = rows.assign(fraction=rows["start"].astype("float64") / size, key=rows["driver"].map(name_key))
    rows = rows.sort_values(["season", "race_num"], ascending=False, kind="stable")
    rows = rows[rows.groupby("key").cumcount() < k]
    out = np.full((len(names), k), np.nan)
    slot = rows.groupby("key").cumcount().to_numpy()
    row_of = {name_key(name): i for i, name in enumerate(names)}
    driver = rows["key"].map(row_of)
    take = driver.notna().to_numpy()
    out[driver[take].astype(int).to_numpy(), slot[take]] = rows["fraction"].to_numpy()[take]
    return out


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
