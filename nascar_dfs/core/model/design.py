"""Training arrays for one target race: the races before it, weighted by age, as padded matrices.

Each training race is one row. Its slots hold the entrants with the running cars first in their
finishing order, then the cars that did not finish (classified behind by laps completed, which is
the official finishing order), then padding. The Plackett-Luce likelihood reads only the running
slots; the DNF likelihood reads every entrant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import pandas as pd

TRACK_TYPES: tuple[str, ...] = ("superspeedway", "intermediate", "short", "road", "dirt")
RACES_PER_SEASON = 36  # Cup points races per season since 2011; sets the window and the decay clock

_RESULT_COLUMNS = ("race_id", "driver", "team", "manufacturer", "start", "finish", "status")
_RACE_COLUMNS = ("race_id", "season", "race_num", "track_type")


class HistoryLike(Protocol):
    """What the design needs from ``nascar_dfs.core.data.history.RaceHistory``."""

    results: pd.DataFrame

    def points_races(self) -> pd.DataFrame: ...


class DesignError(ValueError):
    """The history cannot produce training data for the requested target race."""


@dataclass(frozen=True)
class DesignIndex:
    """Names behind the integer codes of a design (position = code)."""

    drivers: tuple[str, ...]
    teams: tuple[str, ...]
    manufacturers: tuple[str, ...]
    track_types: tuple[str, ...] = TRACK_TYPES


@dataclass(frozen=True)
class Capacity:
    """Array shapes of a compiled model; designs are padded up to them so one compile serves many."""

    races: int
    slots: int
    drivers: int
    teams: int
    manufacturers: int
    track_types: int = len(TRACK_TYPES)


@dataclass(frozen=True)
class TrainingDesign:
    """Arrays of the training races for one target (rows = races, columns = slots)."""

    target_race_id: str
    target_track_type: str
    race_ids: tuple[str, ...]  # training races in time order; padded rows have no id
    index: DesignIndex
    window_races: int  # most races the window can hold: the row capacity of the compiled model
    weight: np.ndarray  # (R,) float64, time-decay weight of each race's log-likelihood
    track_type: np.ndarray  # (R,) int64
    driver: np.ndarray  # (R, K) int64
    team: np.ndarray  # (R, K) int64
    manufacturer: np.ndarray  # (R, K) int64
    start_z: np.ndarray  # (R, K) float64, standardised starting position
    running: np.ndarray  # (R, K) float64 1/0: slot is a running car (in finishing order)
    entered: np.ndarray  # (R, K) float64 1/0: slot holds an entrant
    dnf: np.ndarray  # (R, K) float64 1/0: entrant did not finish

    @property
    def n_races(self) -> int:
        return len(self.race_ids)

    def capacity(self) -> Capacity:
        """Shapes rounded up so that nearby targets share one compiled model."""
        return Capacity(
            races=max(self.driver.shape[0], self.window_races),
            slots=_round_up(self.driver.shape[1], 4),
            drivers=_round_up(len(self.index.drivers), 16),
            teams=_round_up(len(self.index.teams), 8),
            # exact: the make effects sum to zero over the makes, padding would dilute that
            manufacturers=len(self.index.manufacturers),
        )

    def padded(self, capacity: Capacity) -> TrainingDesign:
        """The same design with zero-weight races, empty slots and unused codes up to ``capacity``."""
        rows, slots = self.driver.shape
        if (
            capacity.races < rows
            or capacity.slots < slots
            or capacity.drivers < len(self.index.drivers)
            or capacity.teams < len(self.index.teams)
            or capacity.manufacturers < len(self.index.manufacturers)
            or capacity.track_types != len(self.index.track_types)
        ):
            raise DesignError(f"capacity {capacity} is smaller than the design")

        def pad(a: np.ndarray) -> np.ndarray:
            widths = [(0, capacity.races - rows)] + ([(0, capacity.slots - slots)] if a.ndim == 2 else [])
            return np.pad(a, widths)

        return replace(
            self,
            weight=pad(self.weight),
            track_type=pad(self.track_type),
            driver=pad(self.driver),
            team=pad(self.team),
            manufacturer=pad(self.manufacturer),
            start_z=pad(self.start_z),
            running=pad(self.running),
            entered=pad(self.entered),
            dnf=pad(self.dnf),
        )

    def data_arrays(self) -> dict[str, np.ndarray]:
        """The arrays the PyMC model reads, by data-variable name."""
        return {
            "weight": self.weight,
            "track_type": self.track_type,
            "driver": self.driver,
            "team": self.team,
            "manufacturer": self.manufacturer,
            "start_z": self.start_z,
            "running": self.running,
            "entered": self.entered,
            "dnf": self.dnf,
        }


def _round_up(n: int, step: int) -> int:
    return max(step, math.ceil(n / step) * step)


def standardize_starts(starts: np.ndarray, field_size: int | np.ndarray) -> np.ndarray:
    """Starting position on a field-size-free scale: mean 0, sd 1 for a full grid 1..n."""
    n = np.asarray(field_size, dtype=np.float64)
    sd = np.sqrt((n**2 - 1.0) / 12.0)
    return (np.asarray(starts, dtype=np.float64) - (n + 1.0) / 2.0) / np.where(sd > 0, sd, 1.0)


def ordered_points_races(history: HistoryLike) -> pd.DataFrame:
    """Points races in (season, race_num) order with the columns the design needs."""
    races = history.points_races()
    missing = [c for c in _RACE_COLUMNS if c not in races.columns]
    if missing:
        raise DesignError(f"points_races() lacks column(s) {missing}")
    unknown = sorted(set(races["track_type"]) - set(TRACK_TYPES))
    if unknown:
        raise DesignError(f"unknown track type(s) {unknown}; expected one of {TRACK_TYPES}")
    return races.sort_values(["season", "race_num"]).reset_index(drop=True)


def race_weights(
    races: pd.DataFrame, target_race_id: str, window_seasons: float, half_life_seasons: float
) -> np.ndarray:
    """Weight of every race in ``races`` (ordered) for predicting the target.

    The window and the decay count races, not calendar time: a season is 36 races, so the default
    3-season window is always the 108 most recent races before the target. The target and every
    later race weigh 0.
    """
    if window_seasons <= 0 or half_life_seasons <= 0:
        raise DesignError("window_seasons and half_life_seasons must be positive")
    positions = np.flatnonzero(races["race_id"].to_numpy() == target_race_id)
    if len(positions) != 1:
        raise DesignError(f"target race {target_race_id!r} is not a points race of the history")
    age_seasons = (positions[0] - np.arange(len(races))) / RACES_PER_SEASON
    in_window = (age_seasons > 0) & (age_seasons <= window_seasons + 1e-9)
    return np.where(in_window, 0.5 ** (age_seasons / half_life_seasons), 0.0)


def build_design(
    history: HistoryLike,
    target_race_id: str,
    window_seasons: float = 3.0,
    half_life_seasons: float = 1.0,
) -> TrainingDesign:
    """Training arrays for ``target_race_id`` from the points races strictly before it."""
    races = ordered_points_races(history)
    weights = race_weights(races, target_race_id, window_seasons, half_life_seasons)
    target_type = str(races.loc[races["race_id"] == target_race_id, "track_type"].iloc[0])
    train = races.loc[weights > 0].assign(weight=weights[weights > 0])
    if train.empty:
        raise DesignError(f"no points races before {target_race_id!r} to train on")
    rows = _training_rows(history.results, train)
    index = DesignIndex(
        drivers=tuple(sorted(rows["driver"].unique())),
        teams=tuple(sorted(rows["team"].unique())),
        manufacturers=tuple(sorted(rows["manufacturer"].unique())),
    )
    window_races = math.ceil(window_seasons * RACES_PER_SEASON - 1e-9)
    return _assemble(target_race_id, target_type, train, rows, index, window_races)


def _training_rows(results: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise DesignError(f"results lack column(s) {missing}")
    rows = results.loc[results["race_id"].isin(train["race_id"]), list(_RESULT_COLUMNS)].copy()
    absent = sorted(set(train["race_id"]) - set(rows["race_id"]))
    if absent:
        raise DesignError(f"no results for training race(s) {absent[:5]}")
    if rows[["driver", "team", "manufacturer", "start", "finish", "status"]].isna().any().any():
        bad = rows[rows.isna().any(axis=1)].iloc[0]
        raise DesignError(f"missing value in results of {bad['race_id']} for driver {bad['driver']!r}")
    rows["is_dnf"] = rows["status"].astype(str).str.lower() != "running"
    # running cars first in finishing order, then DNFs in their (laps-completed) classification
    return rows.sort_values(["race_id", "is_dnf", "finish"]).reset_index(drop=True)


def _assemble(
    target_race_id: str,
    target_type: str,
    train: pd.DataFrame,
    rows: pd.DataFrame,
    index: DesignIndex,
    window_races: int,
) -> TrainingDesign:
    race_pos = {rid: i for i, rid in enumerate(train["race_id"])}
    r = rows["race_id"].map(race_pos).to_numpy()
    slot = rows.groupby("race_id").cumcount().to_numpy()
    field_size = rows.groupby("race_id")["driver"].transform("size").to_numpy()
    shape = (len(train), int(slot.max()) + 1)

    def codes(column: str, names: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(shape, dtype=np.int64)
        out[r, slot] = pd.Categorical(rows[column], categories=names).codes
        return out

    def values(v: np.ndarray) -> np.ndarray:
        out = np.zeros(shape, dtype=np.float64)
        out[r, slot] = v
        return out

    dnf = rows["is_dnf"].to_numpy()
    return TrainingDesign(
        target_race_id=target_race_id,
        target_track_type=target_type,
        race_ids=tuple(train["race_id"]),
        index=index,
        window_races=window_races,
        weight=train["weight"].to_numpy(dtype=np.float64),
        track_type=np.array([TRACK_TYPES.index(t) for t in train["track_type"]], dtype=np.int64),
        driver=codes("driver", index.drivers),
        team=codes("team", index.teams),
        manufacturer=codes("manufacturer", index.manufacturers),
        start_z=values(standardize_starts(rows["start"].to_numpy(), field_size)),
        running=values((~dnf).astype(np.float64)),
        entered=values(np.ones(len(rows))),
        dnf=values(dnf.astype(np.float64)),
    )
