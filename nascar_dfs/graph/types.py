"""Answers of the race graph, shared by the Neo4j and the table-backed implementations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field


class GraphError(Exception):
    """Base of the race graph's errors."""


class UnknownRaceError(GraphError, KeyError):
    """A query named a race that the graph does not hold."""

    def __init__(self, race_id: str) -> None:
        super().__init__(f"race {race_id!r} is not in the race graph")
        self.race_id = race_id

    def __str__(self) -> str:
        return str(self.args[0])


class NotInRaceError(GraphError, KeyError):
    """A query named a driver who has no result in the given race."""

    def __init__(self, driver: str, race_id: str) -> None:
        super().__init__(f"driver {driver!r} has no result in race {race_id!r}")
        self.driver = driver
        self.race_id = race_id

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownDriverError(GraphError, KeyError):
    """A query named a driver that the graph does not hold."""

    def __init__(self, driver: str) -> None:
        super().__init__(f"driver {driver!r} is not in the race graph")
        self.driver = driver

    def __str__(self) -> str:
        return str(self.args[0])


class NoResultsError(GraphError, KeyError):
    """The race is known but has no results yet (not run, or not loaded)."""

    def __init__(self, race_id: str) -> None:
        super().__init__(f"race {race_id!r} has no results in the race graph (not run yet?)")
        self.race_id = race_id

    def __str__(self) -> str:
        return str(self.args[0])


class GraphInputError(GraphError, ValueError):
    """A batch offered to the loader references unknown drivers or races; nothing of it was written."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"batch rejected, nothing written: {shown}{more}")
        self.problems = problems


@dataclass(frozen=True, order=True)
class DriverCovariates:
    """What the model uses per driver and race: the car's team and make and the race's track type."""

    driver: str
    team: str
    manufacturer: str
    track_type: str


@dataclass(frozen=True)
class RaceEntry:
    """The team and manufacturer a driver raced for in one race."""

    driver: str
    race_id: str
    team: str
    manufacturer: str
    car_number: str


@dataclass(frozen=True)
class PastResult:
    """One earlier result of a driver (most recent first in query answers)."""

    race_id: str
    season: int
    race_num: int
    track_slug: str
    track_type: str
    start: int | None  # None where the history masked the race's starts
    finish: int
    laps: int
    laps_led: int
    fastest_laps: int | None
    status: str


class GraphHealth(BaseModel):
    """Connectivity of the graph store, as the platform's health check reports it."""

    status: Literal["pass", "fail"]
    latency_ms: float = Field(ge=0)
    detail: str
    backend: Literal["neo4j", "table"]


@dataclass(frozen=True)
class LoadReport:
    """What one load wrote: Neo4j's own counters summed over the batches."""

    races: int
    result_rows: int
    nodes_created: int
    relationships_created: int
    properties_set: int
    seconds: float
