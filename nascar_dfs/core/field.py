"""The field of one race: who starts where, for whom, at which kind of track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Field:
    """Drivers entered in one race, in a fixed order that every per-driver array follows."""

    race_id: str
    season: int
    track_slug: str
    track_type: str
    laps: int
    drivers: tuple[str, ...]
    teams: tuple[str, ...]
    manufacturers: tuple[str, ...]
    # int, 1..n_drivers, one per driver; None when the starting grid is unknown (no qualifying yet,
    # or the history's grid was quarantined): the scenarios then simulate it (core/scenarios/starts.py)
    starts: np.ndarray | None
    # (n_drivers, K) float: each driver's recent starts as a fraction of their field, NaN-padded;
    # what the simulated grid is drawn from when `starts` is None
    recent_starts: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.drivers)
        if not (len(self.teams) == len(self.manufacturers) == n):
            raise ValueError("drivers, teams and manufacturers must have the same length")
        if self.starts is not None and len(self.starts) != n:
            raise ValueError("drivers and starts must have the same length")
        if self.recent_starts is not None and np.shape(self.recent_starts)[0] != n:
            raise ValueError("recent_starts needs one row per driver")
        if len(set(self.drivers)) != n:
            raise ValueError("a driver appears twice in the field")
        if self.laps <= 0:
            raise ValueError(f"race laps must be positive, got {self.laps}")

    @property
    def starts_known(self) -> bool:
        return self.starts is not None

    @property
    def size(self) -> int:
        return len(self.drivers)

    def index_of(self, driver: str) -> int:
        try:
            return self.drivers.index(driver)
        except ValueError:
            raise KeyError(f"driver {driver!r} is not in the field of {self.race_id}") from None
