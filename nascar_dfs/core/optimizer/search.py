"""Choosing lineups one after another from the enumerated space.

Each new lineup is the best one (by the objective's ranking) among lineups that keep the
portfolio legal: no driver above its max exposure, at most ``max_overlap`` drivers shared with
any earlier lineup, and enough room left to reach every min exposure. These conditions only
tighten as lineups are added, so a candidate rejected once stays rejected and a single forward
pass over a ranked space picks what re-solving a MILP after every lineup would pick (ties aside).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nascar_dfs.core.optimizer.errors import InfeasibleSpecError
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.requirements import Requirements, bits_of
from nascar_dfs.core.optimizer.space import LineupSpace

DIAGNOSIS_SAMPLE = 20_000
FIRST_TIER = 1 << 15  # lineups fully sorted first; most builds never look past them


class PortfolioState:
    """Lineups chosen so far and the driver counts that constrain the next one."""

    def __init__(self, req: Requirements, slack: float = 1.0) -> None:
        """``slack`` is the share of the remaining lineups' slots that drivers short of their min
        exposure may count on; below 1 the build meets minimums earlier, leaving room for min_unique."""
        self.req = req
        self.slack = slack
        self.counts = np.zeros(req.locked.size, dtype=np.int64)
        self.masks: list[np.uint64] = []  # chosen lineups plus any kept apart from
        self._mask_array = np.zeros(0, dtype=np.uint64)
        self._chosen = 0

    @property
    def chosen(self) -> int:
        return self._chosen

    @property
    def remaining(self) -> int:
        return self.req.n_lineups - self.chosen

    def legal(self, drivers: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Which candidate lineups (rows of ``drivers`` / ``masks``) may be added next."""
        ok = ~(self.counts >= self.req.max_count)[drivers].any(axis=1)
        forced_bits, deficit_bits, need = self.min_exposure_terms()
        if forced_bits:
            ok &= (masks & forced_bits) == forced_bits
        if need > 0:
            ok &= np.bitwise_count(masks & deficit_bits) >= need
        if self.masks and ok.any():
            rows = np.flatnonzero(ok)
            if self.req.max_overlap >= self.req.slots - 1:
                clash = np.isin(masks[rows], self._mask_array)  # only a repeat is ruled out
            else:
                shared = np.bitwise_count(masks[rows, None] & self._mask_array[None, :]).max(axis=1)
                clash = shared > self.req.max_overlap
            ok[rows[clash]] = False
        return ok

    def min_exposure_terms(self) -> tuple[np.uint64, np.uint64, int]:
        """Drivers every remaining lineup needs, drivers still short of their minimum, and how many
        of those the next lineup must carry so the rest can still be placed."""
        deficit = np.maximum(self.req.min_count - self.counts, 0)
        if not deficit.any():
            return np.uint64(0), np.uint64(0), 0
        r = self.remaining
        forced = bits_of(np.flatnonzero(deficit >= r))
        need = int(deficit.sum()) - int((r - 1) * self.req.slots * self.slack)
        return forced, bits_of(np.flatnonzero(deficit > 0)), need

    def keep_apart_from(self, masks: list[np.uint64]) -> None:
        """Lineups outside this build (other entries) that min_unique must also respect."""
        self.masks.extend(np.uint64(m) for m in masks)
        self._mask_array = np.array(self.masks, dtype=np.uint64)

    def accept(self, drivers: np.ndarray, mask: np.uint64) -> None:
        self.counts[np.asarray(drivers, dtype=np.int64)] += 1
        self._chosen += 1
        self.masks.append(np.uint64(mask))
        self._mask_array = np.array(self.masks, dtype=np.uint64)

    def blocking_reasons(self, pool: PlayerPool, drivers: np.ndarray, masks: np.ndarray) -> str:
        """Which portfolio constraints rule out the remaining candidates (for the error message).

        Judged on a sample of the space: the message needs the kinds of obstacle, not a census.
        """
        req = self.req
        drivers, masks = drivers[:DIAGNOSIS_SAMPLE], masks[:DIAGNOSIS_SAMPLE]
        saturated = self.counts >= req.max_count
        reasons = []
        capped = (~saturated[drivers].any(axis=1)).sum()
        if capped < drivers.shape[0]:
            full = [pool.names[i] for i in np.flatnonzero(saturated & ~req.excluded)]
            reasons.append(f"max exposure reached by {len(full)} drivers ({', '.join(full[:8])}...)")
        if self.masks:
            shared = np.bitwise_count(masks[:, None] & self._mask_array[None, :]).max(axis=1)
            if np.any(shared > req.max_overlap):
                reasons.append(f"min_unique {req.slots - req.max_overlap} against the lineups already chosen")
        forced_bits, _, need = self.min_exposure_terms()
        if forced_bits or need > 0:
            reasons.append("min exposures that the remaining lineups must still reach")
        return "; ".join(reasons) or "the roster constraints"


def ranked(scores: np.ndarray) -> Iterator[np.ndarray]:
    """Positions of ``scores`` from best to worst, in blocks, sorting only as far as is consumed.

    Ties go to the lower position so a build is reproducible.
    """
    rest = np.arange(scores.size)
    tier = FIRST_TIER
    while rest.size:
        if rest.size > tier:
            top = np.argpartition(-scores[rest], tier - 1)[:tier]
            block, rest = rest[top], np.delete(rest, top)
        else:
            block, rest = rest, rest[:0]
        block = np.sort(block)  # a stable sort of the sorted block breaks ties by position
        yield block[np.argsort(-scores[block], kind="stable")]
        tier *= 8


def scan_ranked(
    pool: PlayerPool, space: LineupSpace, scores: np.ndarray, state: PortfolioState, wanted: int
) -> list[int]:
    """Add the ``wanted`` best legal lineups in ``scores`` order; raise if the space runs out."""
    picked: list[int] = []
    for block in ranked(scores):
        start, width = 0, 256
        while start < block.size and len(picked) < wanted:
            rows = block[start : start + width]
            legal = np.flatnonzero(state.legal(space.drivers[rows], space.masks[rows]))
            if legal.size == 0:
                start += width
                width = min(width * 2, 1 << 16)
                continue
            row = int(rows[legal[0]])
            state.accept(space.drivers[row], space.masks[row])
            picked.append(row)
            start += int(legal[0]) + 1
        if len(picked) == wanted:
            return picked
    raise_exhausted(pool, space, state)
    raise AssertionError("unreachable")


def raise_exhausted(pool: PlayerPool, space: LineupSpace, state: PortfolioState) -> None:
    req = state.req
    if space.size < req.n_lineups:
        raise InfeasibleSpecError(
            f"only {space.size} distinct lineups satisfy the roster constraints (salary, locks, excludes, "
            f"groups, team caps); {req.n_lineups} requested"
        )
    raise InfeasibleSpecError(
        f"no lineup can be added after {state.chosen} of {req.n_lineups}: blocked by "
        + state.blocking_reasons(pool, space.drivers, space.masks)
    )
