"""Pre-lock re-optimization of a DKEntries file: keep every entry, replace the drivers marked out.

NASCAR has one lock for the whole slate, so late swap means: before the green flag, drivers who
will not start (or start from the rear in a backup car and are no longer wanted) are swapped out of
every entry, each entry keeping its id and its other drivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nascar_dfs.core.optimizer.build import as_pool
from nascar_dfs.core.optimizer.errors import InfeasibleSpecError
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.requirements import Requirements, bits_of, resolve_requirements
from nascar_dfs.core.optimizer.rules import DK_NASCAR_CLASSIC, RosterRules
from nascar_dfs.core.optimizer.search import PortfolioState, scan_ranked
from nascar_dfs.core.optimizer.space import enumerate_space
from nascar_dfs.core.scenarios.spec import ConstraintSpec

if TYPE_CHECKING:
    from nascar_dfs.core.data.draftkings import DKEntries


def reoptimize_entries(
    entries: DKEntries,
    players: PlayerPool | Any,
    out_drivers: Iterable[str],
    spec: ConstraintSpec | None = None,
    rules: RosterRules = DK_NASCAR_CLASSIC,
    projections: Mapping[str, float] | np.ndarray | None = None,
) -> DKEntries:
    """The same entries, each lineup with its out drivers replaced by the best legal completion.

    Replacements maximize projected points under the salary cap and the spec's max exposures,
    excludes, groups, team caps and min_unique (against every other entry). Entries without a
    lineup are filled whole. Kept drivers stay in their cells. Min exposures are not re-planned.
    ``projections`` re-values drivers (e.g. one sent to the rear in a backup car) for the swaps.
    """
    pool = as_pool(players, projections)
    out = np.zeros(pool.size, dtype=bool)
    out[pool.indices_of(list(out_drivers), "out drivers")] = True
    base = (spec or ConstraintSpec(objective="mean")).model_copy(
        update={"lineups": len(entries.entries), "min_exposure": 0.0}
    )
    req = resolve_requirements(pool, base, rules)
    current = [_positions(pool, entry.lineup, entry.entry_id) for entry in entries.entries]
    kept = [row[~out[row]] for row in current]
    final: list[np.ndarray] = []
    for number, entry in enumerate(entries.entries):
        if kept[number].size == rules.slots:
            final.append(current[number])
            continue
        others = final + kept[number + 1 :]
        completed = _complete(pool, req, out, kept[number], others, entry.entry_id)
        final.append(_in_original_cells(current[number], out, completed))
    return entries.with_lineups([[int(pool.dk_ids[i]) for i in row] for row in final])


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
        row = scan_ranked(pool, space, space.scores(pool.projections), state, 1)[0]
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
