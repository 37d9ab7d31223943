"""Batches of the loader: what one write transaction upserts, and the check that it is complete."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from typing import Any

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph.records import config_rows, race_rows, result_rows, track_rows
from nascar_dfs.graph.types import GraphInputError

DEFAULT_RACES_PER_BATCH = 36  # about a season per transaction: 10 seasons load ~25% faster than with 12


@dataclass(frozen=True)
class GraphBatch:
    """Rows written together or not at all. `drivers` registers the drivers the results may name."""

    tracks: list[dict[str, Any]]
    configs: list[dict[str, Any]]
    races: list[dict[str, Any]]
    drivers: list[str]
    results: list[dict[str, Any]]

    @property
    def teams(self) -> list[str]:
        return sorted({row["team"] for row in self.results})

    @property
    def manufacturers(self) -> list[str]:
        return sorted({row["manufacturer"] for row in self.results})

    @property
    def season_teams(self) -> list[dict[str, Any]]:
        """Distinct (driver, team, season) of the results: the DROVE_FOR links."""
        keys = sorted({(r["driver"], r["team"], r["season"]) for r in self.results})
        return [{"driver": d, "team": t, "season": s} for d, t, s in keys]

    @property
    def season_makes(self) -> list[dict[str, Any]]:
        """Distinct (team, manufacturer, season) of the results: the RAN links."""
        keys = sorted({(r["team"], r["manufacturer"], r["season"]) for r in self.results})
        return [{"team": t, "manufacturer": m, "season": s} for t, m, s in keys]

    @property
    def referenced(self) -> tuple[list[str], list[str], list[str]]:
        """Race ids, driver names and track slugs this batch points at, for the look-up in the graph."""
        race_ids = sorted({r["race_id"] for r in self.results})
        drivers = sorted({r["driver"] for r in self.results})
        slugs = sorted({r["track_slug"] for r in self.races} | {c["track_slug"] for c in self.configs})
        return race_ids, drivers, slugs


def batches_from_history(
    history: RaceHistory,
    race_ids: Iterable[str] | None = None,
    races_per_batch: int = DEFAULT_RACES_PER_BATCH,
) -> Iterator[GraphBatch]:
    """Self-contained batches of `races_per_batch` races (all races of the history by default), each with
    the tracks, configuration eras, drivers and results those races need."""
    if races_per_batch < 1:
        raise ValueError(f"races_per_batch must be at least 1, got {races_per_batch}")
    races = history.races if race_ids is None else _known_races(history, race_ids)
    ordered = races.sort_values(["season", "race_num", "race_id"], kind="stable", na_position="last")
    ids = ordered["race_id"].tolist()
    # Convert the selected tables once, then cut the rows into batches.
    race_by_id = {row["race_id"]: row for row in race_rows(history, ids)}
    results_by_race: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in result_rows(history.results[history.results["race_id"].isin(ids)]):
        results_by_race[row["race_id"]].append(row)
    tracks = {row["slug"]: row for row in track_rows(history)}
    configs = config_rows(history)
    for start in range(0, len(ids), races_per_batch):
        chunk = ids[start : start + races_per_batch]
        slugs = {race_by_id[race_id]["track_slug"] for race_id in chunk}
        results = [row for race_id in chunk for row in results_by_race[race_id]]
        yield GraphBatch(
            tracks=[tracks[slug] for slug in sorted(slugs) if slug in tracks],
            configs=[row for row in configs if row["track_slug"] in slugs],
            races=[race_by_id[race_id] for race_id in chunk],
            drivers=sorted({row["driver"] for row in results}),
            results=results,
        )


def _known_races(history: RaceHistory, race_ids: Iterable[str]):
    wanted = list(dict.fromkeys(race_ids))
    unknown = sorted(set(wanted) - set(history.races["race_id"]))
    if unknown:
        raise GraphInputError([f"race {race_id!r} is not in the race history" for race_id in unknown])
    return history.races[history.races["race_id"].isin(wanted)]


def problems_of(
    batch: GraphBatch, graph_races: Set[str], graph_drivers: Set[str], graph_tracks: Set[str]
) -> list[str]:
    """Every reference of the batch that neither the batch nor the graph resolves (empty list: complete)."""
    races = graph_races | {r["race_id"] for r in batch.races}
    drivers = graph_drivers | set(batch.drivers)
    tracks = graph_tracks | {t["slug"] for t in batch.tracks}
    problems = []
    for position, row in enumerate(batch.results):
        if row["race_id"] not in races:
            problems.append(f"result row {position} ({row['driver']!r}): unknown race id {row['race_id']!r}")
        if row["driver"] not in drivers:
            problems.append(
                f"result row {position} (race {row['race_id']!r}): unknown driver {row['driver']!r}"
            )
    seen: set[tuple[str, str]] = set()
    for position, row in enumerate(batch.results):
        key = (row["race_id"], row["driver"])
        if key in seen:
            problems.append(f"result row {position}: driver {key[1]!r} appears twice in race {key[0]!r}")
        seen.add(key)
    for row in batch.races:
        if row["track_slug"] not in tracks:
            problems.append(f"race {row['race_id']!r}: unknown track {row['track_slug']!r}")
    for row in batch.configs:
        if row["track_slug"] not in tracks:
            problems.append(f"configuration {row['config_id']!r}: unknown track {row['track_slug']!r}")
    return problems


def link_changes(
    results: list[dict[str, Any]], field: str, existing: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(ids of links to delete, links to create) so that each result row links its driver to exactly
    `row[field]` (its team or make) for that race. `existing`: rows of race_id, driver, name, id."""
    wanted = {(row["race_id"], row["driver"]): row[field] for row in results}
    have: dict[tuple[str, str], set[str]] = defaultdict(set)
    stale = []
    for link in existing:
        key = (link["race_id"], link["driver"])
        if key in wanted and wanted[key] != link["name"]:
            stale.append(link["id"])
        else:
            have[key].add(link["name"])
    missing = [
        {"race_id": race_id, "driver": driver, "name": name}
        for (race_id, driver), name in wanted.items()
        if name not in have[(race_id, driver)]
    ]
    return stale, missing
