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
    starts: np.ndarray  # int, 1..n_drivers, one per driver

    def __post_init__(self) -> None:
        n = len(self.drivers)
        if not (len(self.teams) == len(self.manufacturers) == len(self.starts) == n):
            raise ValueError("drivers, teams, manufacturers and starts must have the same length")
        if len(set(self.drivers)) != n:
            raise ValueError("a driver appears twice in the field")
        if self.laps <= 0:
            raise ValueError(f"race laps must be positive, got {self.laps}")

    @property
    def size(self) -> int:
        return len(self.drivers)

    def index_of(self, driver: str) -> int:
        try:
            return self.drivers.index(driver)
        except ValueError:
            raise KeyError(f"driver {driver!r} is not in the field of {self.race_id}") from None
