"""Pre-lock re-optimization of a DKEntries file: keep every entry, replace the drivers marked out.

NASCAR has one lock for the whole slate, so late swap means: before the green flag, drivers who
will not start (or start from the rear in a backup car and are no longer wanted) are swapped out of
every entry, each entry keeping its id and its other drivers. With the race's simulated races the
replacements are ranked on them by the spec's objective (the family `build_portfolio` uses: mean
simulated points, leverage, or coverage of the races reaching the target score); without them, by
the pool's plain projections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nascar_dfs.core.names import name_key
from nascar_dfs.core.optimizer.build import (
    DEFAULT_LEVERAGE_WEIGHT,
    DEFAULT_TARGET_QUANTILE,
    as_pool,
    leverage_values,
    scenario_points,
)
from nascar_dfs.core.optimizer.errors import InfeasibleSpecError, UnknownDriverError
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.portfolio import lineup_scores
from nascar_dfs.core.optimizer.requirements import Requirements, bits_of, resolve_requirements
from nascar_dfs.core.optimizer.rules import DK_NASCAR_CLASSIC, RosterRules
from nascar_dfs.core.optimizer.search import PortfolioState, scan_ranked
from nascar_dfs.core.optimizer.space import LineupSpace, enumerate_space
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet

if TYPE_CHECKING:
    from nascar_dfs.core.data.draftkings import DKEntries

# Candidates whose coverage is evaluated per entry under the scenario objective (the best by mean
# simulated points): an entry missing one driver has ~35, a blank entry millions, and scoring every
# one of those on 10,000 races would hold gigabytes.
COVERAGE_CANDIDATES = 4_000


def reoptimize_entries(
    entries: DKEntries,
    players: PlayerPool | Any,
    out_drivers: Iterable[str],
    spec: ConstraintSpec | None = None,
    rules: RosterRules = DK_NASCAR_CLASSIC,
    projections: Mapping[str, float] | np.ndarray | None = None,
    *,
    scenarios: ScenarioSet | None = None,
    leverage_weight: float = DEFAULT_LEVERAGE_WEIGHT,
) -> DKEntries:
    """The same entries, each lineup with its out drivers replaced by the best legal completion.

    Replacements maximize the spec's objective under the salary cap and the spec's max exposures,
    excludes, groups, team caps and min_unique (against every other entry). Entries without a
    lineup are filled whole. Kept drivers stay in their cells. Min exposures are not re-planned.
    With ``scenarios`` (the race's simulated races) the objective is evaluated on them: "mean" sums
    the drivers' mean simulated points, "leverage" discounts those by ownership, "scenario" ranks a
    completion by the simulated races in which it reaches the target score and no entry before it
    does (the coverage `build_portfolio` maximizes), ties by mean. Without scenarios the pool's
    projections rank them; ``projections`` re-values drivers (e.g. one sent to the rear) for that.
    """
    pool = as_pool(players, projections)
    out = np.zeros(pool.size, dtype=bool)
    out[pool.indices_of(list(out_drivers), "out drivers")] = True
    base = (spec or ConstraintSpec(objective="mean")).model_copy(
        update={"lineups": len(entries.entries), "min_exposure": 0.0}
    )
    req = resolve_requirements(pool, base, rules)
    ranker = _Ranker.build(pool, base, req, out, scenarios, leverage_weight)
    current = [_positions(pool, entry.lineup, entry.entry_id) for entry in entries.entries]
    kept = [row[~out[row]] for row in current]
    final: list[np.ndarray] = []
    for number, entry in enumerate(entries.entries):
        if kept[number].size == rules.slots:
            final.append(current[number])
            continue
        others = final + kept[number + 1 :]
        full = [row for row in others if row.size == rules.slots]
        completed = _complete(pool, req, out, kept[number], others, entry.entry_id, ranker, full)
        final.append(_in_original_cells(current[number], out, completed))
    return entries.with_lineups([[int(pool.dk_ids[i]) for i in row] for row in final])


def starts_with_rear(starts: Mapping[str, int], to_rear: Sequence[str]) -> dict[str, int]:
    """The starting lineup after ``to_rear`` drivers are sent to the back (in the order given),
    the others moving up and keeping their order; names are matched by `name_key`."""
    by_key = {name_key(name): name for name in starts}
    missing = [name for name in to_rear if name_key(name) not in by_key]
    if missing:
        raise UnknownDriverError("the drivers sent to the rear", missing)
    rear = list(dict.fromkeys(by_key[name_key(name)] for name in to_rear))
    ahead = sorted((name for name in starts if name not in rear), key=lambda name: starts[name])
    return {name: position for position, name in enumerate([*ahead, *rear], start=1)}


class _Ranker:
    """Scores of an entry's candidate completions under the objective (higher is better)."""

    def __init__(
        self, values: np.ndarray, points: np.ndarray | None = None, target: float | None = None
    ) -> None:
        self.values = values  # per-driver value summed by the mean / leverage objectives
        self.points = points  # (N, D) simulated points in pool order, for coverage
        self.target = target

    @classmethod
    def build(
        cls,
        pool: PlayerPool,
        spec: ConstraintSpec,
        req: Requirements,
        out: np.ndarray,
        scenarios: ScenarioSet | None,
        leverage_weight: float,
    ) -> _Ranker:
        if scenarios is None:
            return cls(pool.projections.astype(np.float64))
        points = scenario_points(pool, scenarios)
        means = points.mean(axis=0).astype(np.float64)
        if spec.objective == "leverage":
            if pool.ownership is None:
                raise ValueError("the leverage objective needs projected ownership (none in the slate)")
            return cls(leverage_values(means, pool.ownership, leverage_weight))
        if spec.objective != "scenario":
            return cls(means)
        return cls(means, points, _coverage_target(pool, spec, req, out, points, means))

    def scores(self, space: LineupSpace, covered: np.ndarray | None) -> np.ndarray:
        means = space.scores(self.values)
        if self.points is None or self.target is None:
            return means
        # Coverage is scored on the best candidates by mean; the rest rank after all of them.
        top = np.argsort(-means, kind="stable")[:COVERAGE_CANDIDATES]
        reached = lineup_scores(space.drivers[top], self.points) >= self.target
        if covered is not None:
            reached &= ~covered[None, :]
        gain = reached.sum(axis=1)
        order = top[np.lexsort((-means[top], -gain))]  # most new races first, then higher mean
        scores = means - means.max() - 1.0  # below every scored candidate, in mean order
        scores[order] = np.arange(order.size, 0, -1, dtype=np.float64)
        return scores

    def covered(self, lineups: list[np.ndarray]) -> np.ndarray | None:
        """Races in which one of these full lineups already reaches the target."""
        if self.points is None or self.target is None or not lineups:
            return None
        return (lineup_scores(np.stack(lineups), self.points) >= self.target).any(axis=0)


def _coverage_target(
    pool: PlayerPool,
    spec: ConstraintSpec,
    req: Requirements,
    out: np.ndarray,
    points: np.ndarray,
    means: np.ndarray,
) -> float:
    """The spec's target, else the score `build_portfolio` aims at: the DEFAULT_TARGET_QUANTILE of
    the simulated score of the best-mean lineup (here of the drivers still available)."""
    if spec.target_score is not None:
        return float(spec.target_score)
    open_req = replace(req, excluded=req.excluded | out, n_lineups=1, min_count=req.min_count * 0)
    space = enumerate_space(pool, open_req)
    best = space.drivers[int(np.argmax(space.scores(means)))].astype(np.int64)
    return float(np.quantile(points[:, best].sum(axis=1), DEFAULT_TARGET_QUANTILE))


def _positions(pool: PlayerPool, lineup: tuple[int, ...] | None, entry_id: str) -> np.ndarray:
    if lineup is None:
        return np.zeros(0, dtype=np.int64)
    return pool.index_of_dk_id(lineup, f"entry {entry_id}")


def _complete(
    pool: PlayerPool,
    req: Requirements,
    out: np.ndarray,
    kept: np.ndarray,
    others: list[np.ndarray],
    entry_id: str,
    ranker: _Ranker,
    full: list[np.ndarray],
) -> np.ndarray:
    """Best lineup holding ``kept`` that stays legal against the ``others`` (kept parts or final)."""
    locked = np.zeros(pool.size, dtype=bool)
    locked[kept] = True
    one = replace(req, locked=locked, excluded=req.excluded | out, n_lineups=1, min_count=req.min_count * 0)
    counts = np.bincount(np.concatenate([*others, np.zeros(0, dtype=np.int64)]), minlength=pool.size)
    max_count = np.where(locked, np.maximum(req.max_count, counts + 1), req.max_count - counts)
    one = replace(one, max_count=np.maximum(max_count, 0))
    try:
        space = enumerate_space(pool, one)
        state = PortfolioState(one)
        state.keep_apart_from([bits_of(row) for row in others if row.size])
        row = scan_ranked(pool, space, ranker.scores(space, ranker.covered(full)), state, 1)[0]
    except InfeasibleSpecError as exc:
        raise InfeasibleSpecError(
            f"entry {entry_id}: no legal replacement for its out drivers: {exc}"
        ) from exc
    return space.drivers[row].astype(np.int64)


def _in_original_cells(original: np.ndarray, out: np.ndarray, completed: np.ndarray) -> np.ndarray:
    """Kept drivers stay in their cells; newcomers take the cells of the drivers they replace."""
    if original.size == 0:
        return completed
    newcomers = iter(sorted(set(completed.tolist()) - set(original.tolist())))
    return np.array([next(newcomers) if out[i] else i for i in original.tolist()], dtype=np.int64)
