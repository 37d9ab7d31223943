"""The one interface behind which the model and the optimizer ask the race graph."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from nascar_dfs.graph.types import DriverCovariates, GraphHealth, PastResult, RaceEntry


@runtime_checkable
class RaceGraph(Protocol):
    """Drivers, teams, manufacturers, tracks and races; answered from Neo4j or from the tables.

    Every method raises UnknownRaceError for a race the graph does not hold and NotInRaceError for a
    driver without a result in that race; none returns None or an empty answer for bad input.
    """

    def entry(self, driver: str, race_id: str) -> RaceEntry:
        """The team and manufacturer `driver` raced for in `race_id`."""
        ...

    def teammates(self, driver: str, race_id: str) -> tuple[str, ...]:
        """Other drivers of the same team in `race_id`, sorted by name (empty for a one-car team)."""
        ...

    def recent_results_same_track_type(self, driver: str, race_id: str, limit: int) -> tuple[PastResult, ...]:
        """`driver`'s last `limit` points-race results before `race_id` at tracks of its track type.

        Most recent first. The driver need not be in `race_id` (an upcoming race has no results yet)
        but must be known to the graph.
        """
        ...

    def covariates_for_race(self, race_id: str) -> tuple[DriverCovariates, ...]:
        """Team, manufacturer and track type of every driver of `race_id`, sorted by driver."""
        ...

    def health(self, timeout_s: float = 2.0) -> GraphHealth:
        """Connectivity and latency; returns a `fail` result (never raises, never hangs) when down."""
        ...
