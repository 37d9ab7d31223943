"""The drivers a portfolio is built from: one row per DraftKings player, arrays in one order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from nascar_dfs.core.names import name_key, normalize_name
from nascar_dfs.core.optimizer.errors import UnknownDriverError

if TYPE_CHECKING:
    import pandas as pd

    from nascar_dfs.core.data.draftkings import Slate, SlateRows

MAX_POOL_DRIVERS = 64  # lineups are held as 64-bit driver masks


@dataclass(frozen=True)
class PlayerPool:
    """Drivers on a slate; every array follows ``names``.

    ``ownership`` is the projected share of the field rostering a driver, as a fraction in [0, 1].
    """

    names: tuple[str, ...]
    dk_ids: np.ndarray  # (D,) int64
    salaries: np.ndarray  # (D,) int64
    teams: tuple[str, ...]
    projections: np.ndarray  # (D,) float64
    ownership: np.ndarray | None = None  # (D,) float64 in [0, 1]

    def __post_init__(self) -> None:
        n = len(self.names)
        if n == 0:
            raise ValueError("the player pool is empty")
        if n > MAX_POOL_DRIVERS:
            raise ValueError(f"{n} players exceed the optimizer's limit of {MAX_POOL_DRIVERS}")
        arrays = {"dk_ids": self.dk_ids, "salaries": self.salaries, "projections": self.projections}
        if self.ownership is not None:
            arrays["ownership"] = self.ownership
        for label, values in arrays.items():
            if np.shape(values) != (n,):
                raise ValueError(f"{label} has shape {np.shape(values)}, expected ({n},)")
        if len(self.teams) != n:
            raise ValueError(f"{len(self.teams)} teams for {n} players")
        keys = [name_key(name) for name in self.names]
        if len(set(keys)) != n:
            raise ValueError("a driver appears twice in the player pool")
        if len(set(np.asarray(self.dk_ids).tolist())) != n:
            raise ValueError("a DraftKings id appears twice in the player pool")
        if not np.all(np.isfinite(self.projections)):
            raise ValueError("projections must be finite numbers")
        if np.any(np.asarray(self.salaries) <= 0):
            raise ValueError("salaries must be positive")
        if self.ownership is not None and not np.all((self.ownership >= 0) & (self.ownership <= 1)):
            raise ValueError("ownership must be fractions between 0 and 1")

    @property
    def size(self) -> int:
        return len(self.names)

    def indices_of(self, names: Iterable[str], where: str) -> np.ndarray:
        """Pool positions of drivers given by name (matched by `name_key`); unknown names raise."""
        lookup = {name_key(name): i for i, name in enumerate(self.names)}
        wanted = list(names)
        missing = [name for name in wanted if name_key(name) not in lookup]
        if missing:
            raise UnknownDriverError(where, missing)
        return np.array([lookup[name_key(name)] for name in wanted], dtype=np.int64)

    def index_of_dk_id(self, dk_ids: Sequence[int], where: str) -> np.ndarray:
        lookup = {int(dk_id): i for i, dk_id in enumerate(self.dk_ids.tolist())}
        missing = [str(dk_id) for dk_id in dk_ids if int(dk_id) not in lookup]
        if missing:
            raise UnknownDriverError(where, missing)
        return np.array([lookup[int(dk_id)] for dk_id in dk_ids], dtype=np.int64)

    def with_projections(self, points: Mapping[str, float] | np.ndarray) -> PlayerPool:
        """The same pool with other projections: an array in pool order or a name -> points mapping
        that covers every driver."""
        if isinstance(points, Mapping):
            index = self.indices_of(points.keys(), "projections")
            missing = sorted(set(range(self.size)) - set(index.tolist()))
            if missing:
                names = ", ".join(self.names[i] for i in missing)
                raise ValueError(f"projections are missing for: {names}")
            values = np.empty(self.size, dtype=np.float64)
            values[index] = np.fromiter(points.values(), dtype=np.float64, count=len(index))
        else:
            values = np.asarray(points, dtype=np.float64)
        return replace(self, projections=values)

    def with_ownership(self, ownership: Mapping[str, float] | np.ndarray) -> PlayerPool:
        """The same pool with ownership given as fractions (or percentages, when any value exceeds 1)."""
        if isinstance(ownership, Mapping):
            index = self.indices_of(ownership.keys(), "ownership")
            values = np.zeros(self.size, dtype=np.float64)
            values[index] = np.fromiter(ownership.values(), dtype=np.float64, count=len(index))
        else:
            values = np.asarray(ownership, dtype=np.float64)
        return replace(self, ownership=as_fraction(values))


def as_fraction(ownership: np.ndarray) -> np.ndarray:
    """DraftKings tools publish ownership in percent; a value above 1 marks the whole vector as percent."""
    values = np.asarray(ownership, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("ownership must be finite and non-negative")
    return values / 100.0 if np.any(values > 1.0) else values


def pool_from_players(players: pd.DataFrame) -> PlayerPool:
    """A pool from `Slate.players` columns (name, driver, dk_id, salary, team, avg_points, ownership).

    Drivers are named as the race field names them: the matched history spelling in ``driver`` when
    present, else the normalized DraftKings name, so scenario columns line up with the pool.
    """
    required = {"name", "dk_id", "salary", "team", "avg_points"}
    missing = sorted(required - set(players.columns))
    if missing:
        raise ValueError(f"slate players lack columns: {', '.join(missing)}")
    if players.empty:
        raise ValueError("the slate has no players")
    drivers = players["driver"] if "driver" in players.columns else [None] * len(players)
    names = tuple(
        str(driver) if isinstance(driver, str) and driver else normalize_name(str(name))
        for driver, name in zip(drivers, players["name"], strict=True)
    )
    ownership = None
    if "ownership" in players.columns and players["ownership"].notna().all():
        ownership = as_fraction(players["ownership"].to_numpy(dtype=np.float64))
    return PlayerPool(
        names=names,
        dk_ids=players["dk_id"].to_numpy(dtype=np.int64),
        salaries=players["salary"].to_numpy(dtype=np.int64),
        teams=tuple(players["team"].astype(str)),
        projections=players["avg_points"].to_numpy(dtype=np.float64),
        ownership=ownership,
    )


def pool_from_rows(rows: SlateRows) -> PlayerPool:
    """The pool `pool_from_slate` builds from an unmatched slate, from its plain columns
    (draftkings.read_dk_salary_rows): drivers named by their normalized DraftKings names."""
    return PlayerPool(
        names=tuple(normalize_name(name) for name in rows.names),
        dk_ids=np.array(rows.dk_ids, dtype=np.int64),
        salaries=np.array(rows.salaries, dtype=np.int64),
        teams=rows.teams,
        projections=np.array(rows.avg_points, dtype=np.float64),
        ownership=None if rows.ownership is None else as_fraction(np.array(rows.ownership, dtype=np.float64)),
    )


def pool_from_slate(slate: Slate) -> PlayerPool:
    return pool_from_players(slate.players)
