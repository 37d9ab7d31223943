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
    pre = _top(mean_scores, PREFILTER)
    best = pre[_top(mean_scores[pre], MEAN_CANDIDATES)]
    booms = points >= np.quantile(points, BOOM_QUANTILE, axis=0, keepdims=True)
    group_means = np.stack(
        [points[booms[:, j]].mean(axis=0) for j in range(points.shape[1])], axis=1
    )  # (D drivers, D groups): driver values in the races where the group's driver booms
    onehot = np.zeros((pre.size, points.shape[1]), dtype=np.float32)
    np.put_along_axis(onehot, space.drivers[pre].astype(np.int64), 1.0, axis=1)
    group_scores = group_means.T.astype(np.float32) @ onehot.T  # (D groups, len(pre)), rows contiguous
    k = min(PER_SCENARIO_GROUP, pre.size)
    picks = pre[np.argpartition(-group_scores, k - 1, axis=1)[:, :k]].ravel()
    return np.unique(np.concatenate([best, picks]))


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
    n_races = points.shape[0]
    padded = -(-n_races // 64) * 64
    hit_matrix = np.zeros((candidates.size, padded), dtype=bool)
    hit_matrix[:, :n_races] = scores >= target
    total_hits = hit_matrix.sum(axis=1)
    means = scores.mean(axis=1)
    # Races as bits: a step's gain is a popcount over 64-race words, not a float matvec.
    hits = np.packbits(hit_matrix, axis=1).view(np.uint64)
    del scores, hit_matrix
    uncovered = np.packbits(np.arange(padded) < n_races).view(np.uint64)
    rows: list[int] = []
    marginal: list[float] = []
    while state.remaining > 0:
        legal = state.legal(space.drivers[candidates], space.masks[candidates])
        if not legal.any():
            break
        gain = np.where(legal, np.bitwise_count(hits & uncovered).sum(axis=1, dtype=np.int64), -1)
        tied = np.flatnonzero(gain == gain.max())
        best = tied[np.lexsort((tied, -means[tied], -total_hits[tied]))[0]]
        row = int(candidates[best])
        state.accept(space.drivers[row], space.masks[row])
        rows.append(row)
        marginal.append(float(gain[best]) / n_races)
        uncovered &= ~hits[best]
    return CoverageResult(rows, marginal)
