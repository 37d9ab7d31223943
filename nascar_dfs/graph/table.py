"""The embedded race graph: answers from the RaceHistory DataFrames (the default without NEO4J_URI)."""

from __future__ import annotations

import time

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


class TableRaceGraph:
    """RaceGraph over the tables; same answers as Neo4jRaceGraph for the same history."""

    def __init__(self, history: RaceHistory) -> None:
        races = history.races.set_index("race_id", drop=False)
        self._races = races
        self._seq = pd.Series(
            [race_seq(s, plain(n)) for s, n in zip(races["season"], races["race_num"], strict=True)],
            index=races.index,
            dtype="Int64",
        )
        results = history.results.copy()
        results["seq"] = results["race_id"].map(self._seq).astype("Int64")
        results["event_type"] = results["race_id"].map(races["event_type"])
        self._results = results
        self._by_race = {race_id: rows for race_id, rows in results.groupby("race_id", sort=False)}
        self._drivers = frozenset(results["driver"])

    def entry(self, driver: str, race_id: str) -> RaceEntry:
        row = self._result_row(driver, race_id)
        return RaceEntry(
            driver=driver,
            race_id=race_id,
            team=str(row["team"]),
            manufacturer=str(row["manufacturer"]),
            car_number=str(row["car_number"]),
        )

    def teammates(self, driver: str, race_id: str) -> tuple[str, ...]:
        team = self._result_row(driver, race_id)["team"]
        rows = self._by_race[race_id]
        mates = rows.loc[(rows["team"] == team) & (rows["driver"] != driver), "driver"]
        return tuple(sorted(mates))

    def recent_results_same_track_type(self, driver: str, race_id: str, limit: int) -> tuple[PastResult, ...]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        target_seq = self._points_seq(race_id)
        if driver not in self._drivers:
            raise UnknownDriverError(driver)
        track_type = self._races.at[race_id, "track_type"]
        res = self._results
        mask = (
            (res["driver"] == driver).to_numpy()
            & (res["track_type"] == track_type).to_numpy()
            & (res["event_type"] == "points").to_numpy()
            & (res["seq"] < target_seq).fillna(False).to_numpy()
        )
        past = res[mask].sort_values("seq", ascending=False, kind="stable").head(limit)
        return tuple(_past_result(row) for row in past.to_dict("records"))

    def covariates_for_race(self, race_id: str) -> tuple[DriverCovariates, ...]:
        rows = self._race_results(race_id)
        track_type = str(self._races.at[race_id, "track_type"])
        return tuple(
            sorted(
                DriverCovariates(driver=str(d), team=str(t), manufacturer=str(m), track_type=track_type)
                for d, t, m in zip(rows["driver"], rows["team"], rows["manufacturer"], strict=True)
            )
        )

    def health(self, timeout_s: float = 2.0) -> GraphHealth:
        started = time.perf_counter()
        n_races = len(self._races)
        latency = (time.perf_counter() - started) * 1000
        return GraphHealth(
            status="pass",
            latency_ms=latency,
            detail=f"embedded table graph ({n_races} races, {len(self._results)} results; NEO4J_URI unset)",
            backend="table",
        )

    def _race_results(self, race_id: str) -> pd.DataFrame:
        if race_id not in self._races.index:
            raise UnknownRaceError(race_id)
        rows = self._by_race.get(race_id)
        if rows is None:
            raise NoResultsError(race_id)
        return rows

    def _result_row(self, driver: str, race_id: str) -> pd.Series:
        rows = self._race_results(race_id)
        match = rows[rows["driver"] == driver]
        if match.empty:
            raise NotInRaceError(driver, race_id)
        return match.iloc[0]

    def _points_seq(self, race_id: str) -> int:
        if race_id not in self._races.index:
            raise UnknownRaceError(race_id)
        seq = self._seq.at[race_id]
        if pd.isna(seq):
            raise ValueError(f"race {race_id!r} is an exhibition: it has no place in the points-race order")
        return int(seq)


def _past_result(row: dict) -> PastResult:
    fastest = plain(row.get("fastest_laps"))
    return PastResult(
        race_id=str(row["race_id"]),
        season=int(row["season"]),
        race_num=int(row["race_num"]),
        track_slug=str(row["track_slug"]),
        track_type=str(row["track_type"]),
        start=int(row["start"]),
        finish=int(row["finish"]),
        laps=int(row["laps"]),
        laps_led=int(row["laps_led"]),
        fastest_laps=None if fastest is None else int(fastest),
        status=str(row["status"]),
    )
