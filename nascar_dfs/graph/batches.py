"""Batches of the loader: what one write transaction upserts, and the check that it is complete."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from typing import Any

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph.records import config_rows, race_rows, result_rows, track_rows
from nascar_dfs.graph.types import GraphInputError

DEFAULT_RACES_PER_BATCH = 12


@dataclass(frozen=True)
class GraphBatch:
    """Rows written together or not at all. `drivers` registers the drivers the results may name."""

    tracks: list[dict[str, Any]]
    configs: list[dict[str, Any]]
    races: list[dict[str, Any]]
    drivers: list[str]
    results: list[dict[str, Any]]

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
    for start in range(0, len(ids), races_per_batch):
        chunk = ids[start : start + races_per_batch]
        race_table = race_rows(history, chunk)
        slugs = sorted({r["track_slug"] for r in race_table})
        results = history.results[history.results["race_id"].isin(chunk)]
        yield GraphBatch(
            tracks=track_rows(history, slugs),
            configs=config_rows(history, slugs),
            races=race_table,
            drivers=sorted(set(results["driver"])),
            results=result_rows(results),
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
    for row in batch.races:
        if row["track_slug"] not in tracks:
            problems.append(f"race {row['race_id']!r}: unknown track {row['track_slug']!r}")
    for row in batch.configs:
        if row["track_slug"] not in tracks:
            problems.append(f"configuration {row['config_id']!r}: unknown track {row['track_slug']!r}")
    return problems
