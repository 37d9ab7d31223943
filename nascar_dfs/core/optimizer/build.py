"""build_portfolio: a ConstraintSpec, a player pool and (optionally) simulated races -> lineups."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from nascar_dfs.core.names import name_key
from nascar_dfs.core.optimizer.coverage import build_coverage
from nascar_dfs.core.optimizer.errors import InfeasibleSpecError, UnknownDriverError
from nascar_dfs.core.optimizer.milp import build_milp, plan_portfolio
from nascar_dfs.core.optimizer.pool import PlayerPool, pool_from_slate
from nascar_dfs.core.optimizer.portfolio import Portfolio, assemble, lineup_scores, lineup_stats
from nascar_dfs.core.optimizer.requirements import Requirements, resolve_requirements
from nascar_dfs.core.optimizer.rules import DK_NASCAR_CLASSIC, RosterRules
from nascar_dfs.core.optimizer.search import PortfolioState, raise_exhausted, scan_ranked
from nascar_dfs.core.optimizer.space import (
    DEFAULT_ENUMERATION_LIMIT,
    LineupSpace,
    SpaceTooLargeError,
    enumerate_space,
)
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet

DEFAULT_LEVERAGE_WEIGHT = 0.5  # a driver owned by 40% of the field keeps 80% of their projection
DEFAULT_TARGET_QUANTILE = 0.99  # of the best-mean lineup's simulated score, when no target is given
MIN_EXPOSURE_SLACKS = (1.0, 0.5, 0.25)  # share of later slots min exposures may count on, per attempt


def build_portfolio(
    players: PlayerPool | Any,
    spec: ConstraintSpec,
    scenarios: ScenarioSet | None = None,
    *,
    projections: Mapping[str, float] | np.ndarray | None = None,
    ownership: Mapping[str, float] | np.ndarray | None = None,
    rules: RosterRules = DK_NASCAR_CLASSIC,
    seed: int = 0,
    leverage_weight: float = DEFAULT_LEVERAGE_WEIGHT,
    enumeration_limit: int = DEFAULT_ENUMERATION_LIMIT,
) -> Portfolio:
    """Exactly ``spec.lineups`` distinct legal lineups, or InfeasibleSpecError naming the obstacle.

    ``players`` is a PlayerPool or a Slate; arguments after ``scenarios`` are keyword-only (the
    contract and the issue list them in different orders). Objectives: "mean" ranks lineups by
    summed projections; "leverage" by projections scaled by (1 - leverage_weight × ownership);
    "scenario" by coverage of simulated races reaching the target score (see `coverage`). ``seed``
    is accepted for reproducible randomized objectives; every current objective is deterministic.
    """
    del seed
    started = time.perf_counter()
    pool = as_pool(players, projections, ownership)
    req = resolve_requirements(pool, spec, rules)
    points = scenario_points(pool, scenarios) if scenarios is not None else None
    if spec.objective == "scenario" and points is None:
        raise ValueError("the scenario objective needs simulated races (scenarios=None was given)")
    per_driver = _per_driver_values(pool, spec, leverage_weight)
    try:
        space = enumerate_space(pool, req, enumeration_limit)
    except SpaceTooLargeError as exc:
        state = PortfolioState(req)
        if spec.objective == "scenario":
            raise ValueError(f"the scenario objective needs an enumerable lineup space: {exc}") from exc
        positions = np.array(build_milp(pool, req, per_driver, state))
        values = per_driver[positions].sum(axis=1)
        target = _target(spec, points, None, None)
        portfolio = _finish(pool, positions, values, spec, "milp", points, target)
        return replace(portfolio, build_seconds=time.perf_counter() - started)
    if space.size < req.n_lineups:
        raise_exhausted(pool, space, PortfolioState(req))
    sim_means = None if points is None else space.scores(points.mean(axis=0).astype(np.float64))
    mean_scores = sim_means if spec.objective == "scenario" else space.scores(per_driver)
    target = _target(spec, points, space, sim_means)
    positions, values, method = _search_space(pool, space, req, spec, points, target, mean_scores)
    portfolio = _finish(pool, positions, values, spec, method, points, target)
    return replace(portfolio, build_seconds=time.perf_counter() - started)


def as_pool(
    players: PlayerPool | Any,
    projections: Mapping[str, float] | np.ndarray | None = None,
    ownership: Mapping[str, float] | np.ndarray | None = None,
) -> PlayerPool:
    """A PlayerPool from a pool or a Slate, with projections / ownership overridden when given."""
    if isinstance(players, PlayerPool):
        pool = players
    elif hasattr(players, "players"):
        pool = pool_from_slate(players)
    else:
        raise TypeError(f"players must be a PlayerPool or a Slate, got {type(players).__name__}")
    if projections is not None:
        pool = pool.with_projections(projections)
    if ownership is not None:
        pool = pool.with_ownership(ownership)
    return pool


def _per_driver_values(pool: PlayerPool, spec: ConstraintSpec, leverage_weight: float) -> np.ndarray:
    """What a lineup's drivers add up to under the spec's objective (the scan's ranking)."""
    if spec.objective != "leverage":
        return pool.projections.astype(np.float64)
    if pool.ownership is None:
        raise ValueError("the leverage objective needs projected ownership (none in the slate or arguments)")
    if not 0.0 <= leverage_weight <= 1.0:
        raise ValueError(f"leverage_weight must be within [0, 1], got {leverage_weight}")
    return leverage_values(pool.projections, pool.ownership, leverage_weight)


def leverage_values(projections: np.ndarray, ownership: np.ndarray, weight: float) -> np.ndarray:
    """Projection discounted by the share of the field that will also roster the driver."""
    return projections * (1.0 - weight * ownership)


def scenario_points(pool: PlayerPool, scenarios: ScenarioSet) -> np.ndarray:
    """(N, D) DraftKings points with columns in pool order (drivers matched by name key)."""
    column = {name_key(name): j for j, name in enumerate(scenarios.drivers)}
    missing = [name for name in pool.names if name_key(name) not in column]
    if missing:
        raise UnknownDriverError("the player pool (absent from the scenarios)", missing)
    order = np.array([column[name_key(name)] for name in pool.names], dtype=np.int64)
    points = np.asarray(scenarios.dk_points, dtype=np.float32)[:, order]
    if points.shape[0] == 0:
        raise ValueError("the scenario set holds no simulated races")
    return points


def _target(
    spec: ConstraintSpec, points: np.ndarray | None, space: LineupSpace | None, sim_means: np.ndarray | None
) -> float | None:
    """The spec's target, else the DEFAULT_TARGET_QUANTILE of the best-mean lineup's simulated score."""
    if spec.target_score is not None:
        return float(spec.target_score)
    if points is None or space is None or sim_means is None:
        return None
    best = space.drivers[int(np.argmax(sim_means))]
    return float(np.quantile(points[:, best.astype(np.int64)].sum(axis=1), DEFAULT_TARGET_QUANTILE))


def _search_space(
    pool: PlayerPool,
    space: LineupSpace,
    req: Requirements,
    spec: ConstraintSpec,
    points: np.ndarray | None,
    target: float | None,
    mean_scores: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Run the objective's search. With min exposures, retry meeting them earlier (greedy lineups can
    spend late slots the minimums needed), then plan the whole portfolio in one MILP."""
    slacks = MIN_EXPOSURE_SLACKS if req.has_min_exposure else (1.0,)
    furthest: tuple[int, InfeasibleSpecError] | None = None
    for slack in slacks:
        state = PortfolioState(req, slack)
        if state.min_exposure_terms()[2] > req.slots:
            continue  # this slack asks the first lineup for more short drivers than it holds
        try:
            if spec.objective == "scenario":
                assert points is not None and target is not None
                return _scenario_build(pool, space, points, target, mean_scores, state)
            rows = scan_ranked(pool, space, mean_scores, state, req.n_lineups)
            return space.drivers[rows], mean_scores[rows], "scan"
        except InfeasibleSpecError as exc:
            if furthest is None or state.chosen > furthest[0]:
                furthest = (state.chosen, exc)
    if not req.has_min_exposure:
        assert furthest is not None
        raise furthest[1]
    try:
        rows = plan_portfolio(pool, space, mean_scores, req)
    except InfeasibleSpecError as plan_error:
        if furthest is None:
            raise
        raise InfeasibleSpecError(f"{furthest[1]}; {plan_error}") from furthest[1]
    return space.drivers[rows], mean_scores[rows], "plan"


def _scenario_build(
    pool: PlayerPool,
    space: LineupSpace,
    points: np.ndarray,
    target: float,
    sim_means: np.ndarray,
    state: PortfolioState,
) -> tuple[np.ndarray, np.ndarray, str]:
    cover = build_coverage(pool, space, points, target, sim_means, state)
    rows, values, method = list(cover.rows), list(cover.marginal), "coverage"
    if state.remaining:
        # The candidate pool ran dry under the portfolio constraints: the rest come from the whole space.
        extra = scan_ranked(pool, space, sim_means, state, state.remaining)
        rows += extra
        values += [0.0] * len(extra)
        method = "coverage+scan"
    return space.drivers[rows], np.array(values), method


def _finish(
    pool: PlayerPool,
    positions: np.ndarray,
    values: np.ndarray,
    spec: ConstraintSpec,
    method: str,
    points: np.ndarray | None,
    target: float | None,
) -> Portfolio:
    stats = None
    if points is not None:
        stats = lineup_stats(lineup_scores(positions, points), target)
    return assemble(pool, positions, values, spec.objective, method, stats, target)
