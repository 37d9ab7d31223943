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
PACE_RACES = 12  # races behind a driver's recent pace (loop data), see recent_pace
PACE_SHRINK = 2.0  # pseudo-races at pace 0 added to every driver's recent pace
# loop-data column behind the pace and its sign (running position: lower is better)
PACE_COLUMN: tuple[str, float] = ("avg_running_pos", -1.0)

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
    start_z: np.ndarray  # (R, K) float64, standardised starting position; 0 = start masked
    running: np.ndarray  # (R, K) float64 1/0: slot is a running car (in finishing order)
    entered: np.ndarray  # (R, K) float64 1/0: slot holds an entrant
    dnf: np.ndarray  # (R, K) float64 1/0: entrant did not finish
    # Loop data: the order of average running position, as slot indices of the same row (best first);
    # races without loop data rank nothing. Far less noisy than the finish about a car's speed.
    arp_slot: np.ndarray | None = None  # (R, K) int64
    arp_ranked: np.ndarray | None = None  # (R, K) float64 1/0: position holds a ranked car
    # Recent pace (loop data): each entrant's mean standardised running position over his last
    # PACE_RACES races before that race, shrunk toward 0 (see ``recent_pace``); 0 without loop data.
    pace: np.ndarray | None = None  # (R, K) float64
    target_pace: np.ndarray | None = None  # (D,) float64: the same before the target, by index driver

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
            arp_slot=pad(self.loop_arrays()[0]),
            arp_ranked=pad(self.loop_arrays()[1]),
            pace=pad(self.pace_array()),
        )

    def pace_array(self) -> np.ndarray:
        return np.zeros(self.driver.shape) if self.pace is None else self.pace

    def loop_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.arp_slot is None or self.arp_ranked is None:
            return np.zeros(self.driver.shape, dtype=np.int64), np.zeros(self.driver.shape)
        return self.arp_slot, self.arp_ranked

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
            "arp_slot": self.loop_arrays()[0],
            "arp_ranked": self.loop_arrays()[1],
            "pace": self.pace_array(),
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
    pace_races: int = PACE_RACES,
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
    design = _assemble(target_race_id, target_type, train, rows, index, window_races)
    loop = getattr(history, "loop", None)
    arp_slot, arp_ranked = _loop_order(loop, train, rows, design.driver.shape)
    pace = recent_pace(loop, races, pace_races)
    slot = rows.groupby("race_id").cumcount().to_numpy()
    r = rows["race_id"].map({rid: i for i, rid in enumerate(train["race_id"])}).to_numpy()
    keys = pd.MultiIndex.from_arrays([rows["race_id"], rows["driver"]])
    pace_rows = np.zeros(design.driver.shape)
    pace_rows[r, slot] = pace.reindex(keys).fillna(0.0).to_numpy()
    target_keys = pd.MultiIndex.from_product([[target_race_id], list(index.drivers)])
    target_pace = pace.reindex(target_keys).fillna(0.0).to_numpy()
    return replace(
        design,
        arp_slot=arp_slot,
        arp_ranked=arp_ranked,
        pace=pace_rows,
        target_pace=target_pace,
    )


def recent_pace(loop: pd.DataFrame | None, races: pd.DataFrame, pace_races: int = PACE_RACES) -> pd.Series:
    """Each driver's recent pace before every points race of ``races`` (ordered), by (race_id, driver).

    Pace in one race = minus the field-standardised average running position (loop data), so a car
    that ran up front scores about +1.5. The value before a race is the sum over the driver's last
    ``pace_races`` races with loop data (any track), divided by (their number + PACE_SHRINK): few
    races pull it toward 0, the population mean. Only races strictly before count, so the target's
    own result never leaks. Every driver with loop data before the race is listed, entrant or not.
    """
    keys = ["race_id", "driver"]
    empty = pd.Series(dtype=np.float64, index=pd.MultiIndex.from_arrays([[], []], names=keys))
    column, sign = PACE_COLUMN
    if loop is None or column not in loop.columns or loop.empty:
        return empty
    order = {rid: i for i, rid in enumerate(races["race_id"])}
    arp = loop.loc[loop["race_id"].isin(order), ["race_id", "driver", column]].dropna()
    if arp.empty:
        return empty
    grouped = arp.groupby("race_id")[column]
    sd = grouped.transform("std").replace(0.0, np.nan)
    arp = arp.assign(z=(sign * (arp[column] - grouped.transform("mean")) / sd).fillna(0.0))
    arp["pos"] = arp["race_id"].map(order)
    out = []
    for driver, own in arp.sort_values("pos").groupby("driver"):
        pos, z = own["pos"].to_numpy(), own["z"].to_numpy()
        csum = np.concatenate([[0.0], np.cumsum(z)])
        # value before every race from his first loop race on: races strictly before it
        before = np.searchsorted(pos, np.arange(len(races)), side="left")
        first = max(int(pos[0]) + 1, 0)
        targets = np.arange(first, len(races))
        k = before[targets]
        lo = np.maximum(k - pace_races, 0)
        n = k - lo
        value = (csum[k] - csum[lo]) / (n + PACE_SHRINK)
        race_ids = races["race_id"].to_numpy()[targets]
        out.append(pd.DataFrame({"race_id": race_ids, "driver": driver, "pace": value}))
    return pd.concat(out, ignore_index=True).set_index(keys)["pace"]


def _loop_order(
    loop: pd.DataFrame | None, train: pd.DataFrame, rows: pd.DataFrame, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Slots of each training race in the order of loop-data average running position.

    Every entrant with a recorded average running position takes part (a car that dropped out is
    ranked by where it ran while it ran); races, or cars, without one are left out.
    """
    slot_of = np.zeros(shape, dtype=np.int64)
    ranked = np.zeros(shape, dtype=np.float64)
    if loop is None or "avg_running_pos" not in loop.columns or loop.empty:
        return slot_of, ranked
    race_pos = {rid: i for i, rid in enumerate(train["race_id"])}
    slots = rows.assign(slot=rows.groupby("race_id").cumcount())[["race_id", "driver", "slot"]]
    arp = loop.loc[loop["race_id"].isin(race_pos), ["race_id", "driver", "avg_running_pos"]]
    arp = arp.dropna(subset=["avg_running_pos"]).merge(slots, on=["race_id", "driver"], how="inner")
    if arp.empty:
        return slot_of, ranked
    arp = arp.sort_values(["race_id", "avg_running_pos", "slot"])
    r = arp["race_id"].map(race_pos).to_numpy()
    position = arp.groupby("race_id").cumcount().to_numpy()
    slot_of[r, position] = arp["slot"].to_numpy()
    ranked[r, position] = 1.0
    return slot_of, ranked


def _training_rows(results: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise DesignError(f"results lack column(s) {missing}")
    rows = results.loc[results["race_id"].isin(train["race_id"]), list(_RESULT_COLUMNS)].copy()
    absent = sorted(set(train["race_id"]) - set(rows["race_id"]))
    if absent:
        raise DesignError(f"no results for training race(s) {absent[:5]}")
    # A missing start is a race whose grid the loader masked (core/data/quality.py): see _assemble.
    checked = ["driver", "team", "manufacturer", "finish", "status"]
    if rows[checked].isna().any().any():
        bad = rows[rows[checked].isna().any(axis=1)].iloc[0]
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
    # Start mask: a race with masked starts gets start_z 0 in every slot, so the start term
    # (start_slope * start_z, linear) adds nothing to that race's likelihood while its finishing
    # order still informs every other effect.
    start = pd.to_numeric(rows["start"], errors="coerce").to_numpy(dtype=np.float64)
    start_z = np.where(np.isnan(start), 0.0, standardize_starts(np.nan_to_num(start), field_size))
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
        start_z=values(start_z),
        running=values((~dnf).astype(np.float64)),
        entered=values(np.ones(len(rows))),
        dnf=values(dnf.astype(np.float64)),
    )


def pace_draws(design: TrainingDesign, n_draws: int) -> dict[str, np.ndarray]:
    """The target's recent pace by index driver as a (draws, drivers) block for FittedModel.draws."""
    pace = design.target_pace if design.target_pace is not None else np.zeros(len(design.index.drivers))
    block = np.broadcast_to(pace.astype(np.float32), (n_draws, pace.size))
    return {"recent_pace": np.ascontiguousarray(block)}
