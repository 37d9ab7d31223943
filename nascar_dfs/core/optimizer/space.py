"""Every lineup that satisfies the per-lineup rules, held as numpy arrays.

A NASCAR Classic lineup is 6 of ~40 drivers: C(40, 6) = 3.8 million subsets, which fit in memory,
so the whole space is enumerated once and every search after that is a vectorized filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nascar_dfs.core.optimizer.errors import InfeasibleSpecError
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.requirements import Requirements, bits_of

DEFAULT_ENUMERATION_LIMIT = 12_000_000  # subsets (~0.3 GB held); above, the MILP path builds lineup by lineup


class SpaceTooLargeError(RuntimeError):
    """The lineup space is too large to enumerate; the caller switches to the MILP path."""


@dataclass(frozen=True)
class LineupSpace:
    """Lineups as rows: driver positions, 64-bit driver masks and salaries."""

    drivers: np.ndarray  # (M, k) int8 pool positions
    masks: np.ndarray  # (M,) uint64
    salaries: np.ndarray  # (M,) int64

    @property
    def size(self) -> int:
        return int(self.masks.shape[0])

    def scores(self, per_driver: np.ndarray) -> np.ndarray:
        """Sum of a per-driver value over each lineup's drivers."""
        return per_driver[self.drivers].sum(axis=1)


def subset_count(pool: PlayerPool, req: Requirements) -> int:
    free = int(np.sum(_free(req)))
    return math.comb(free, req.slots - int(req.locked.sum()))


def enumerate_space(
    pool: PlayerPool, req: Requirements, limit: int = DEFAULT_ENUMERATION_LIMIT
) -> LineupSpace:
    """All lineups meeting locks, excludes, salary bounds, groups and team caps.

    Raises InfeasibleSpecError naming the constraint that leaves no lineup, and SpaceTooLargeError
    when there are more than ``limit`` candidate subsets.
    """
    total = subset_count(pool, req)
    if total > limit:
        raise SpaceTooLargeError(f"{total:,} candidate lineups exceed the enumeration limit {limit:,}")
    free = np.flatnonzero(_free(req))
    locks = np.flatnonzero(req.locked)
    salaries = pool.salaries.astype(np.int64)
    base = int(salaries[locks].sum())
    free_bits = np.left_shift(np.uint64(1), free.astype(np.uint64))
    rows, masks, cost = _combinations_under_cap(
        salaries[free], free_bits, req.slots - locks.size, req.salary_cap - base
    )
    if rows.shape[0] == 0:
        cheapest = base + int(np.sort(salaries[free])[: req.slots - locks.size].sum())
        raise InfeasibleSpecError(
            f"no lineup fits the salary cap ${req.salary_cap:,}: "
            f"the cheapest possible lineup costs ${cheapest:,}"
        )
    lock_columns = np.broadcast_to(locks.astype(np.int8), (rows.shape[0], locks.size))
    drivers = np.concatenate([free.astype(np.int8)[rows], lock_columns], axis=1)
    masks = masks | bits_of(locks)
    space = LineupSpace(drivers=drivers, masks=masks, salaries=cost + base)
    return _apply_static_filters(pool, req, space)


def _free(req: Requirements) -> np.ndarray:
    return ~req.locked & ~req.excluded & (req.max_count > 0)


def _combinations_under_cap(
    salaries: np.ndarray, bits: np.ndarray, k: int, budget: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-subsets of drivers whose salaries sum to at most ``budget``: (rows of sorted positions,
    OR of the drivers' ``bits``, salary).

    Grown one position at a time; a prefix is dropped as soon as even the cheapest completion
    would break the budget, which prunes much of the space before it is materialized.
    """
    m = salaries.size
    empty = np.zeros(0, dtype=np.int64)
    if k == 0:
        return np.zeros((1, 0), dtype=np.int8), np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.int64)
    if m < k:
        return np.zeros((0, k), dtype=np.int8), empty.astype(np.uint64), empty
    salaries = salaries.astype(np.int64)
    cheapest = np.sort(salaries)
    last = np.arange(m - k + 1, dtype=np.int64)
    cost = salaries[last]
    keep = cost + cheapest[: k - 1].sum() <= budget
    last, cost = last[keep], cost[keep]
    mask = bits[last]
    columns = [last.astype(np.int8)]
    for r in range(1, k):
        fanout = np.maximum(m - k + r - last, 0)
        parent = np.repeat(np.arange(last.size, dtype=np.int64), fanout)
        starts = np.repeat(np.cumsum(fanout) - fanout, fanout)
        nxt = last[parent] + 1 + (np.arange(parent.size, dtype=np.int64) - starts)
        cost = cost[parent] + salaries[nxt]
        keep = cost + cheapest[: k - 1 - r].sum() <= budget
        parent, last, cost = parent[keep], nxt[keep], cost[keep]
        mask = mask[parent] | bits[last]
        columns = [col[parent] for col in columns] + [last.astype(np.int8)]
    return np.stack(columns, axis=1), mask, cost


def _apply_static_filters(pool: PlayerPool, req: Requirements, space: LineupSpace) -> LineupSpace:
    checks: list[tuple[str, np.ndarray]] = []
    if req.min_salary > 0:
        checks.append((f"min salary ${req.min_salary:,}", space.salaries >= req.min_salary))
    for group in req.groups:
        count = np.bitwise_count(space.masks & group.bits)
        if group.at_least is not None:
            checks.append((f"{group.label} at_least {group.at_least}", count >= group.at_least))
        if group.at_most is not None:
            checks.append((f"{group.label} at_most {group.at_most}", count <= group.at_most))
    for team in req.teams:
        checks.append(
            (
                f"max_per_team {team.cap} (team {team.team})",
                np.bitwise_count(space.masks & team.bits) <= team.cap,
            )
        )
    keep = np.ones(space.size, dtype=bool)
    for label, ok in checks:
        keep &= ok
        if not keep.any():
            raise InfeasibleSpecError(
                f"no lineup under the salary cap satisfies {label} together with the constraints before it"
                f" ({', '.join(lbl for lbl, _ in checks[: checks.index((label, ok))]) or 'locks, excludes'})"
            )
    if keep.all():
        return space
    return LineupSpace(space.drivers[keep], space.masks[keep], space.salaries[keep])
