"""RaceHistory tables as the plain rows the graph stores (one conversion, used by both implementations)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.tracks import track_type_of_family

# Races are ordered by season and race number; one integer keeps "before this race" a single comparison.
SEQ_PER_SEASON = 1000
_LAYOUT_SUFFIXES = ("-dirt", "-road", "-roval", "-street")


def race_seq(season: int, race_num: int | None) -> int | None:
    """Order key of a points race; None for an exhibition (no race number)."""
    return None if race_num is None else int(season) * SEQ_PER_SEASON + int(race_num)


def plain(value: Any) -> Any:
    """A cell as a Bolt-friendly Python value: numpy scalars unwrapped, pandas NA/NaN -> None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, np.floating):
        return float(value)
    return value


def race_rows(history: RaceHistory, race_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per race: key, properties, its track and the configuration era it ran on."""
    races = (
        history.races if race_ids is None else history.races[history.races["race_id"].isin(list(race_ids))]
    )
    eras = _eras(history.track_configurations)
    rows = []
    for race in races.to_dict("records"):
        season = int(race["season"])
        race_num = plain(race.get("race_num"))
        rows.append(
            {
                "race_id": race["race_id"],
                "track_slug": race["track_slug"],
                "config_id": _era_for(eras, race["track_slug"], season, race["track_type"]),
                "props": {
                    "season": season,
                    "race_num": race_num,
                    "seq": race_seq(season, race_num),
                    "event_type": race["event_type"],
                    "track_type": race["track_type"],
                    "laps": int(race["laps"]),
                    "race_date": plain(race.get("race_date")),
                    "name": plain(race.get("race_name")),
                },
            }
        )
    return rows


@dataclass(frozen=True)
class _Era:
    config_id: str
    track_slug: str
    first_season: int
    last_season: int
    track_type: str


def _eras(configs: pd.DataFrame) -> list[_Era]:
    if configs.empty or "config_id" not in configs.columns:
        return []
    return [
        _Era(
            str(c["config_id"]),
            str(c["track_slug"]),
            int(c["first_year_in_scope"]),
            int(c["last_year_through_2024"]),
            track_type_of_family(c["primary_family"]),
        )
        for c in configs.to_dict("records")
    ]


def _era_for(eras: list[_Era], track_slug: str, season: int, track_type: str) -> str | None:
    slugs = {track_slug} | {track_slug.removesuffix(s) for s in _LAYOUT_SUFFIXES if track_slug.endswith(s)}
    matching = [
        e
        for e in eras
        if e.track_slug in slugs and e.first_season <= season <= e.last_season and e.track_type == track_type
    ]
    if not matching:
        return None
    # stable max: the newest era wins, the first listed among equals
    return max(reversed(matching), key=lambda e: e.first_season).config_id


def config_for_race(configs: pd.DataFrame, track_slug: str, season: int, track_type: str) -> str | None:
    """The configuration era a race ran on: same venue (a layout slug's facility too), same track type,
    covering the season; the newest era wins where eras overlap (Sonoma 2019, Phoenix 2018)."""
    return _era_for(_eras(configs), track_slug, season, track_type)


def track_rows(history: RaceHistory, slugs: Iterable[str] | None = None) -> list[dict[str, Any]]:
    tracks = (
        history.tracks if slugs is None else history.tracks[history.tracks["track_slug"].isin(list(slugs))]
    )
    keep = [c for c in ("track_name", "surface", "length_mi", "city", "state") if c in tracks.columns]
    return [
        {"slug": t["track_slug"], "props": {c.removeprefix("track_"): plain(t[c]) for c in keep}}
        for t in tracks.to_dict("records")
    ]


def config_rows(history: RaceHistory, slugs: Iterable[str] | None = None) -> list[dict[str, Any]]:
    configs = history.track_configurations
    if configs.empty or "config_id" not in configs.columns:
        return []
    if slugs is not None:
        configs = configs[configs["track_slug"].isin(list(slugs))]
    return [
        {
            "config_id": c["config_id"],
            "track_slug": c["track_slug"],
            "props": {
                "configuration": plain(c.get("configuration")),
                "primary_family": c["primary_family"],
                "track_type": track_type_of_family(c["primary_family"]),
                "first_season": int(c["first_year_in_scope"]),
                "last_season": int(c["last_year_through_2024"]),
                "length_mi": plain(c.get("length_mi")),
            },
        }
        for c in configs.to_dict("records")
    ]


RESULT_PROPERTIES = ("start", "finish", "laps", "laps_led", "fastest_laps", "status", "car_number")


def result_rows(results: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per driver and race: the RESULT properties plus the car's team and make."""
    columns = ["race_id", "driver", "team", "manufacturer", "season", *RESULT_PROPERTIES]
    present = [c for c in columns if c in results.columns]
    return [
        {
            "race_id": r["race_id"],
            "driver": r["driver"],
            "team": r["team"],
            "manufacturer": r["manufacturer"],
            "season": int(r["season"]),
            "props": {k: plain(r.get(k)) for k in RESULT_PROPERTIES},
        }
        for r in results[present].to_dict("records")
    ]
