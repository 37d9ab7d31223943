"""A set of simulated races for one field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScenarioSet:
    """N simulated races; row i is one race, column j follows ``drivers``.

    finish is 1..D with DNFs classified behind the running cars; laps_led sums to the race's laps
    in every row; fastest_laps sums to that row's green_laps.
    """

    race_id: str
    drivers: tuple[str, ...]
    starts: np.ndarray  # (D,) int; float NaN when the grid was unknown (see simulated_starts)
    finish: np.ndarray  # (N, D) int16
    dnf: np.ndarray  # (N, D) bool
    laps_completed: np.ndarray  # (N, D) int32
    laps_led: np.ndarray  # (N, D) int32
    fastest_laps: np.ndarray  # (N, D) int32
    green_laps: np.ndarray  # (N,) int32
    dk_points: np.ndarray  # (N, D) float32
    seed: int
    draws: int  # scenarios drawn in total, kept or rejected
    rejection_rate: float  # 1 - kept/drawn under the spec's views (0.0 without views)
    # False when the race's starting positions were unknown: each scenario then simulated its own
    # grid (core/scenarios/starts.py), kept here, and dk_points' place differential uses it
    starts_known: bool = True
    simulated_starts: np.ndarray | None = None  # (N, D) int16, only when starts_known is False

    @property
    def n(self) -> int:
        return int(self.finish.shape[0])
