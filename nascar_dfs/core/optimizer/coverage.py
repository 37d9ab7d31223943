"""The scenario objective: lineups that reach the target score in *different* simulated races.

Lineup j is the legal candidate that reaches the target in the most simulated races where no
earlier lineup does (ties: the most races overall, then the higher mean). The first lineup is
therefore the one most likely to reach the target, and the portfolio as a whole greedily
maximizes P(at least one lineup reaches the target), the quantity a top-heavy contest pays for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.portfolio import lineup_scores
from nascar_dfs.core.optimizer.search import PortfolioState
from nascar_dfs.core.optimizer.space import LineupSpace

EXACT_POOL_LIMIT = 5_000  # spaces up to this size are searched whole
MEAN_CANDIDATES = 1_500  # best lineups by mean always in the candidate pool
PREFILTER = 200_000  # lineups by mean from which the upside candidates are drawn
PER_SCENARIO_GROUP = 40  # candidates per "driver i booms" group of races
BOOM_QUANTILE = 0.9


@dataclass(frozen=True)
class CoverageResult:
    rows: list[int]  # positions in the space, in build order
    marginal: list[float]  # share of races first reached by each lineup


def candidate_rows(space: LineupSpace, points: np.ndarray, mean_scores: np.ndarray) -> np.ndarray:
    """Space positions worth evaluating race by race.

    Small spaces are taken whole, so the search is exact there. Otherwise: the best lineups by mean,
    plus for every driver the best lineups over the races where that driver booms (scores in their
    own top decile) — those races shift the other drivers' values too (a dominator takes laps led
    from everyone else), so each group pulls in lineups built around a different race shape.
    """
    if space.size <= EXACT_POOL_LIMIT:
        return np.arange(space.size)
    best = _top(mean_scores, MEAN_CANDIDATES)
    pre = _top(mean_scores, PREFILTER)
    booms = points >= np.quantile(points, BOOM_QUANTILE, axis=0, keepdims=True)
    group_means = np.stack(
        [points[booms[:, j]].mean(axis=0) for j in range(points.shape[1])], axis=1
    )  # (D drivers, D groups)
    group_scores = group_means[space.drivers[pre].astype(np.int64)].sum(axis=1)  # (len(pre), D groups)
    picks = [pre[_top(group_scores[:, g], PER_SCENARIO_GROUP)] for g in range(group_scores.shape[1])]
    return np.unique(np.concatenate([best, *picks]))


def _top(values: np.ndarray, k: int) -> np.ndarray:
    if values.size <= k:
        return np.arange(values.size)
    return np.argpartition(-values, k - 1)[:k]


def build_coverage(
    pool: PlayerPool,
    space: LineupSpace,
    points: np.ndarray,
    target: float,
    mean_scores: np.ndarray,
    state: PortfolioState,
) -> CoverageResult:
    """Greedy max-coverage over the candidate pool; stops early if no candidate stays legal."""
    candidates = candidate_rows(space, points, mean_scores)
    scores = lineup_scores(space.drivers[candidates], points)
    hits = (scores >= target).astype(np.float32)
    total_hits = hits.sum(axis=1)
    means = scores.mean(axis=1)
    uncovered = np.ones(points.shape[0], dtype=np.float32)
    rows: list[int] = []
    marginal: list[float] = []
    while state.remaining > 0:
        legal = state.legal(space.drivers[candidates], space.masks[candidates])
        if not legal.any():
            break
        gain = np.where(legal, hits @ uncovered, -1.0)
        tied = np.flatnonzero(gain == gain.max())
        best = tied[np.lexsort((tied, -means[tied], -total_hits[tied]))[0]]
        row = int(candidates[best])
        state.accept(space.drivers[row], space.masks[row])
        rows.append(row)
        marginal.append(float(gain[best]) / points.shape[0])
        uncovered *= 1.0 - hits[best]
    return CoverageResult(rows, marginal)
