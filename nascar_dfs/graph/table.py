"""The embedded race graph: answers from the RaceHistory DataFrames (the default without NEO4J_URI)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph.records import plain, race_seq
from nascar_dfs.graph.types import (
    DriverCovariates,
    GraphHealth,
    NoResultsError,
    NotInRaceError,
    PastResult,
    RaceEntry,
    UnknownDriverError,
    UnknownRaceError,
)


@dataclass(frozen=True)
class _Race:
    seq: int | None
    track_type: str


class TableRaceGraph:
    """RaceGraph over the tables; same answers as Neo4jRaceGraph for the same history.

    The tables are indexed once into dicts (entries per race, past results per driver), so each
    question costs microseconds: the optimizer asks per driver, per race.
    """

    def __init__(self, history: RaceHistory) -> None:
        self._races = {
            str(r["race_id"]): _Race(race_seq(int(r["season"]), plain(r["race_num"])), str(r["track_type"]))
            for r in history.races.to_dict("records")
        }
        self._entries: dict[str, dict[str, RaceEntry]] = defaultdict(dict)
        self._history: dict[str, list[tuple[int, PastResult]]] = defaultdict(list)
        event_types = history.races.set_index("race_id")["event_type"]
        results = history.results.sort_values(["season", "race_num"], kind="stable")
        for row in results.to_dict("records"):
            race_id, driver = str(row["race_id"]), str(row["driver"])
            self._entries[race_id][driver] = RaceEntry(
                driver=driver,
                race_id=race_id,
                team=str(row["team"]),
                manufacturer=str(row["manufacturer"]),
                car_number=str(row["car_number"]),
            )
            seq = self._races[race_id].seq
            if event_types[race_id] == "points" and seq is not None:
                self._history[driver].append((seq, _past_result(row)))
        self._n_results = len(history.results)

    def entry(self, driver: str, race_id: str) -> RaceEntry:
        entry = self._race_entries(race_id).get(driver)
        if entry is None:
            raise NotInRaceError(driver, race_id)
        return entry

    def teammates(self, driver: str, race_id: str) -> tuple[str, ...]:
        team = self.entry(driver, race_id).team
        entries = self._entries[race_id].values()
        return tuple(sorted(e.driver for e in entries if e.team == team and e.driver != driver))

    def recent_results_same_track_type(self, driver: str, race_id: str, limit: int) -> tuple[PastResult, ...]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        race = self._race(race_id)
        if race.seq is None:
            raise ValueError(f"race {race_id!r} is an exhibition: it has no place in the points-race order")
        if driver not in self._history:
            raise UnknownDriverError(driver)
        earlier = [
            p for seq, p in self._history[driver] if seq < race.seq and p.track_type == race.track_type
        ]
        return tuple(reversed(earlier[-limit:]))

    def covariates_for_race(self, race_id: str) -> tuple[DriverCovariates, ...]:
        track_type = self._race(race_id).track_type
        return tuple(
            sorted(
                DriverCovariates(e.driver, e.team, e.manufacturer, track_type)
                for e in self._race_entries(race_id).values()
            )
        )

    def health(self, timeout_s: float = 2.0) -> GraphHealth:
        started = time.perf_counter()
        n_races = len(self._races)
        return GraphHealth(
            status="pass",
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=f"embedded table graph ({n_races} races, {self._n_results} results; NEO4J_URI unset)",
            backend="table",
        )

    def _race(self, race_id: str) -> _Race:
        race = self._races.get(race_id)
        if race is None:
            raise UnknownRaceError(race_id)
        return race

    def _race_entries(self, race_id: str) -> dict[str, RaceEntry]:
        self._race(race_id)
        entries = self._entries.get(race_id)
        if not entries:
            raise NoResultsError(race_id)
        return entries


def _past_result(row: dict) -> PastResult:
    fastest = plain(row.get("fastest_laps"))
    start = plain(row.get("start"))  # None: the loader masked that race's starting grid
    return PastResult(
        race_id=str(row["race_id"]),
        season=int(row["season"]),
        race_num=int(row["race_num"]),
        track_slug=str(row["track_slug"]),
        track_type=str(row["track_type"]),
        start=None if start is None else int(start),
        finish=int(row["finish"]),
        laps=int(row["laps"]),
        laps_led=int(row["laps_led"]),
        fastest_laps=None if fastest is None or pd.isna(fastest) else int(fastest),
        status=str(row["status"]),
    )
