"""What a build returns: lineups with their statistics, and the portfolio's driver exposures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nascar_dfs.core.optimizer.pool import PlayerPool


@dataclass(frozen=True)
class LineupStats:
    """A lineup's DraftKings points over the simulated races."""

    mean: float
    std: float
    p90: float
    p99: float
    p_target: float  # share of simulated races where the lineup reaches the target score


@dataclass(frozen=True)
class Lineup:
    drivers: tuple[str, ...]
    dk_ids: tuple[int, ...]
    salary: int
    projection: float  # sum of the pool's projections
    objective_value: float  # what the build ranked this lineup by
    stats: LineupStats | None = None


@dataclass(frozen=True)
class Portfolio:
    lineups: tuple[Lineup, ...]
    exposures: dict[str, float]  # driver -> share of lineups containing them (drivers used only)
    objective: str
    method: str  # "scan", "coverage" or "milp": which search produced the lineups
    target_score: float | None = None
    build_seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def dk_id_rows(self) -> list[list[int]]:
        return [list(lineup.dk_ids) for lineup in self.lineups]

    @property
    def distinct_drivers(self) -> int:
        return len(self.exposures)

    def p_any_reaches_target(self, lineup_scores: np.ndarray) -> float:
        """Share of races where at least one lineup reaches the target, from (lineups, N) scores."""
        if self.target_score is None:
            raise ValueError("the portfolio has no target score")
        return float(np.mean((lineup_scores >= self.target_score).any(axis=0)))

    def to_dict(self) -> dict:
        return {
            "objective": self.objective,
            "method": self.method,
            "target_score": self.target_score,
            "build_seconds": round(self.build_seconds, 4),
            "exposures": {name: round(share, 4) for name, share in self.exposures.items()},
            "lineups": [
                {
                    "drivers": list(lineup.drivers),
                    "dk_ids": list(lineup.dk_ids),
                    "salary": lineup.salary,
                    "projection": round(lineup.projection, 4),
                    "objective_value": round(lineup.objective_value, 4),
                    "stats": None
                    if lineup.stats is None
                    else {k: round(v, 4) for k, v in lineup.stats.__dict__.items()},
                }
                for lineup in self.lineups
            ],
        }


def lineup_scores(positions: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(lineups, N) simulated scores of lineups given as (lineups, k) pool positions; points is (N, D)."""
    onehot = np.zeros((positions.shape[0], points.shape[1]), dtype=np.float32)
    np.put_along_axis(onehot, positions.astype(np.int64), 1.0, axis=1)
    return onehot @ points.T.astype(np.float32, copy=False)


def lineup_stats(scores: np.ndarray, target: float | None) -> list[LineupStats]:
    """Statistics of each row of (lineups, N) simulated scores."""
    q90, q99 = np.quantile(scores, [0.9, 0.99], axis=1)
    p_target = (scores >= target).mean(axis=1) if target is not None else np.full(scores.shape[0], np.nan)
    return [
        LineupStats(float(m), float(s), float(a), float(b), float(p))
        for m, s, a, b, p in zip(scores.mean(axis=1), scores.std(axis=1), q90, q99, p_target, strict=True)
    ]


def assemble(
    pool: PlayerPool,
    positions: np.ndarray,
    objective_values: np.ndarray,
    objective: str,
    method: str,
    stats: list[LineupStats] | None,
    target: float | None,
) -> Portfolio:
    """Lineups (rows of pool positions, each sorted by salary, highest first) with exposures."""
    lineups = []
    for row, value, stat in zip(positions, objective_values, stats or [None] * len(positions), strict=True):
        order = np.asarray(row, dtype=np.int64)
        order = order[np.lexsort((order, -pool.salaries[order]))]
        if np.unique(order).size != order.size:
            raise AssertionError("a lineup holds the same driver twice")
        lineups.append(
            Lineup(
                drivers=tuple(pool.names[i] for i in order),
                dk_ids=tuple(int(pool.dk_ids[i]) for i in order),
                salary=int(pool.salaries[order].sum()),
                projection=float(pool.projections[order].sum()),
                objective_value=float(value),
                stats=stat,
            )
        )
    counts = np.bincount(np.asarray(positions, dtype=np.int64).ravel(), minlength=pool.size)
    used = np.flatnonzero(counts)
    used = used[np.lexsort((used, -counts[used]))]
    exposures = {pool.names[i]: counts[i] / len(lineups) for i in used}
    if len({frozenset(lineup.dk_ids) for lineup in lineups}) != len(lineups):
        raise AssertionError("the portfolio repeats a lineup")
    return Portfolio(
        lineups=tuple(lineups), exposures=exposures, objective=objective, method=method, target_score=target
    )
