"""Lineup-by-lineup MILP (PuLP; HiGHS in process, CBC as fallback) for spaces too large to enumerate.

Each solve carries the same portfolio conditions as the scan (`PortfolioState`): saturated drivers
out, at most ``max_overlap`` drivers shared with each earlier lineup, forced drivers in and enough
drivers short of their min exposure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nascar_dfs.core.optimizer.errors import InfeasibleSpecError
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.requirements import Requirements, bits_of
from nascar_dfs.core.optimizer.search import PortfolioState
from nascar_dfs.core.optimizer.space import LineupSpace

if TYPE_CHECKING:
    import pulp

# PuLP (and the HiGHS it finds) is imported by the functions that build a model: a lineup run whose
# space is enumerable and plans no min exposure never solves one, and the code location imports
# this module.


def solver() -> pulp.LpSolver:
    """HiGHS in process, presolve off: on the benchmark slate one lineup solves in ~0.035 s this way,
    ~0.105 s with HiGHS's presolve and ~0.067 s with CBC's process per solve (2 loaded cores)."""
    import pulp

    highs = pulp.HiGHS(msg=False, presolve="off", gapRel=0.0)  # default 1e-4 gap can skip the optimum
    return highs if highs.available() else pulp.PULP_CBC_CMD(msg=False, gapRel=0.0)


def _members(bits: np.uint64, n: int) -> list[int]:
    return [i for i in range(n) if (int(bits) >> i) & 1]


def build_milp(
    pool: PlayerPool, req: Requirements, per_driver: np.ndarray, state: PortfolioState
) -> list[np.ndarray]:
    """``state.remaining`` lineups (as pool positions), each maximizing ``per_driver`` points."""
    lineups = []
    engine = solver()
    while state.remaining > 0:
        chosen = _solve_one(pool, req, per_driver, state, engine)
        state.accept(chosen, np.uint64(sum(1 << int(i) for i in chosen)))
        lineups.append(chosen)
    return lineups


def _solve_one(
    pool: PlayerPool, req: Requirements, per_driver: np.ndarray, state: PortfolioState, engine: pulp.LpSolver
) -> np.ndarray:
    import pulp

    n = pool.size
    usable = [i for i in range(n) if not req.excluded[i] and state.counts[i] < req.max_count[i]]
    prob = pulp.LpProblem("lineup", pulp.LpMaximize)
    x = {i: prob.add_variable(f"x{i}", cat="Binary") for i in usable}
    prob += pulp.lpSum(float(per_driver[i]) * x[i] for i in usable)
    prob += pulp.lpSum(x.values()) == req.slots
    salary = pulp.lpSum(int(pool.salaries[i]) * x[i] for i in usable)
    prob += salary <= req.salary_cap
    if req.min_salary:
        prob += salary >= req.min_salary
    for i in np.flatnonzero(req.locked):
        if int(i) not in x:
            raise InfeasibleSpecError(f"locked driver {pool.names[i]} reached its max exposure")
        prob += x[int(i)] == 1
    for group in req.groups:
        members = pulp.lpSum(x[i] for i in _members(group.bits, n) if i in x)
        if group.at_least is not None:
            prob += members >= group.at_least
        if group.at_most is not None:
            prob += members <= group.at_most
    for team in req.teams:
        prob += pulp.lpSum(x[i] for i in _members(team.bits, n) if i in x) <= team.cap
    for mask in state.masks:
        prob += pulp.lpSum(x[i] for i in _members(mask, n) if i in x) <= req.max_overlap
    forced, deficit, need = state.min_exposure_terms()
    for i in _members(forced, n):
        if i not in x:
            raise InfeasibleSpecError(f"driver {pool.names[i]} cannot reach its min exposure")
        prob += x[i] == 1
    if need > 0:
        prob += pulp.lpSum(x[i] for i in _members(deficit, n) if i in x) >= need
    status = prob.solve(engine)
    if pulp.LpStatus[status] != "Optimal":
        raise InfeasibleSpecError(
            f"no lineup can be added after {state.chosen} of {req.n_lineups} "
            f"(solver status {pulp.LpStatus[status]}): the salary cap, groups, team caps, exposures and "
            "min_unique together leave no legal lineup"
        )
    return np.array(sorted(i for i in usable if x[i].value() > 0.5), dtype=np.int64)


PLAN_TOP = 3_000  # best lineups offered to the planning model
PLAN_PER_DRIVER = 60  # plus, per driver with a min exposure, this many of their best lineups
PLAN_BONUS_WEIGHTS = (0.25, 0.5, 1.0, 2.0)  # bonus per min-exposure driver, in score spreads
PLAN_PER_BONUS = 1_000  # best lineups taken under each bonus weight
PLAN_SECONDS = 60  # the planning solve gives up (and the build raises) after this long


def plan_portfolio(pool: PlayerPool, space: LineupSpace, scores: np.ndarray, req: Requirements) -> np.ndarray:
    """Space rows of a portfolio chosen in ONE model: the best total score whose driver counts lie
    within every min and max exposure. For min exposures a lineup-by-lineup search cannot plan.

    Lineups are distinct by construction; it is only valid when min_unique asks no more than that.
    """
    import pulp

    if req.max_overlap < req.slots - 1:
        raise InfeasibleSpecError("planning min exposures together with min_unique above 1 is not supported")
    candidates = _plan_candidates(space, scores, req)
    prob = pulp.LpProblem("portfolio", pulp.LpMaximize)
    y = [prob.add_variable(f"y{c}", cat="Binary") for c in range(candidates.size)]
    prob += pulp.lpSum(float(scores[row]) * y[c] for c, row in enumerate(candidates))
    prob += pulp.lpSum(y) == req.n_lineups
    for i in range(pool.size):
        rows = np.flatnonzero((space.drivers[candidates] == i).any(axis=1))
        if req.min_count[i] > 0 or rows.size > req.max_count[i]:
            used = pulp.lpSum(y[c] for c in rows.tolist())
            if req.min_count[i] > 0:
                prob += used >= int(req.min_count[i])
            if rows.size > req.max_count[i]:
                prob += used <= int(req.max_count[i])
    status = prob.solve(_plan_solver())
    if pulp.LpStatus[status] != "Optimal":
        raise InfeasibleSpecError(
            f"no portfolio of {req.n_lineups} lineups from the best {candidates.size} candidates meets "
            f"every min and max exposure (solver status {pulp.LpStatus[status]})"
        )
    chosen = candidates[[c for c in range(candidates.size) if y[c].value() > 0.5]]
    return chosen[np.argsort(-scores[chosen], kind="stable")]


def _plan_solver() -> pulp.LpSolver:
    """Thousands of binaries: presolve pays here, and a 1e-6 relative gap is a few thousandths of
    a point over a whole portfolio."""
    import pulp

    highs = pulp.HiGHS(msg=False, gapRel=1e-6, timeLimit=PLAN_SECONDS)
    return highs if highs.available() else pulp.PULP_CBC_CMD(msg=False, gapRel=1e-6, timeLimit=PLAN_SECONDS)


def _plan_candidates(space: LineupSpace, scores: np.ndarray, req: Requirements) -> np.ndarray:
    """The best lineups overall, each min-exposure driver's best lineups, and the best lineups when
    every min-exposure driver carries a bonus — minimums often need lineups holding several of them,
    which neither of the first two lists contains."""
    everything = np.arange(space.size)
    picks = [_best(scores, everything, PLAN_TOP)]
    needy = np.flatnonzero(req.min_count > 0)
    for i in needy:
        rows = np.flatnonzero((space.masks >> np.uint64(i)) & np.uint64(1))
        picks.append(_best(scores, rows, PLAN_PER_DRIVER + 3 * int(req.min_count[i])))
    carried = np.bitwise_count(space.masks & bits_of(needy)).astype(np.float64)
    spread = float(np.std(scores)) or 1.0
    for weight in PLAN_BONUS_WEIGHTS:
        picks.append(_best(scores + weight * spread * carried, everything, PLAN_PER_BONUS))
    return np.unique(np.concatenate(picks))


def _best(scores: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    if rows.size <= k:
        return rows
    return rows[np.argpartition(-scores[rows], k - 1)[:k]]
