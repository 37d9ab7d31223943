"""Pick the portfolio with the best simulated contest return from a larger pool of candidate lineups.

Candidates come from the optimizer (`build_portfolio`, scenario and ownership-leverage objectives);
the portfolio is then grown greedily: each step adds the candidate that raises the portfolio's
expected payout the most, in the same simulated races and against the same field. A lineup's gain is
its own payout minus what it takes from lineups already chosen: when it beats one of them that one
drops a place, when it ties one that one shares its places with one more entry. Both effects depend
only on each chosen lineup's current (better, tied) counts, so per race they are running sums over
the chosen lineups sorted by score, found for all candidates with one searchsorted; the gain is exact
for the races used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nascar_dfs.core.contest.opponents import SimulatedField, simulate_field
from nascar_dfs.core.contest.simulate import (
    TOP_SHARE,
    ContestReport,
    count_above_and_equal,
    lineup_onehot,
    paid_places,
    quantise,
    rank_against_field,
    simulate_contest,
)
from nascar_dfs.core.contest.spec import ContestSpec
from nascar_dfs.core.optimizer import PlayerPool, Portfolio, build_portfolio, scenario_points
from nascar_dfs.core.optimizer.build import DEFAULT_LEVERAGE_WEIGHT, as_pool
from nascar_dfs.core.optimizer.portfolio import assemble, lineup_scores, lineup_stats
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet


class SelectionExhaustedError(ValueError):
    """The greedy search ran out of candidates that respect the portfolio rules."""


DEFAULT_SELECTION_RACES = 2_000  # races the greedy search evaluates; the report uses the others
MIN_REPORT_RACES = 500  # fewer held-out races than this and the report falls back to all races


@dataclass(frozen=True)
class Selection:
    rows: np.ndarray  # (n,) indices into the candidates, in the order picked
    lineups: np.ndarray  # (n, 6) the chosen lineups
    marginal_payout: np.ndarray  # (n,) expected dollars each pick added when it was picked
    report: (
        ContestReport | None
    )  # the chosen portfolio over the races the search did not see (None: not asked)
    in_sample: bool  # True when too few races were left over and the report reuses the search's races


def select_by_contest_roi(
    dk_points: np.ndarray,
    candidates: np.ndarray,
    field_lineups: np.ndarray,
    contest: ContestSpec,
    n_lineups: int,
    *,
    selection_races: int = DEFAULT_SELECTION_RACES,
    max_per_driver: np.ndarray | int | None = None,
    min_unique: int = 0,
    report: bool = True,
) -> Selection:
    """Greedily choose ``n_lineups`` distinct candidates maximising the portfolio's expected payout.

    ``field_lineups`` (F, 6) with F = contest.entries - n_lineups; lineups are driver column indices.
    ``max_per_driver`` caps how many chosen lineups hold a driver (scalar or (D,)); ``min_unique``: any
    two chosen lineups differ in at least this many drivers.
    """
    search = _Search(dk_points, candidates, field_lineups, contest, n_lineups, selection_races)
    rules = _PickRules(search.cands, search.n_drivers, max_per_driver, min_unique)
    chosen: list[int] = []
    gains: list[float] = []
    for step in range(n_lineups):
        gain = search.gains(chosen)
        gain[~rules.allowed] = -np.inf
        pick = int(np.argmax(gain))
        if not np.isfinite(gain[pick]):
            raise SelectionExhaustedError(
                f"after {step} lineups no candidate respects the exposure caps and min_unique={min_unique};"
                " supply more candidates or loosen them"
            )
        chosen.append(pick)
        gains.append(float(gain[pick]))
        rules.take(pick)
    return search.report(np.array(chosen, dtype=np.int64), np.array(gains), simulate=report)


def improve_by_swaps(
    dk_points: np.ndarray,
    candidates: np.ndarray,
    start_rows: np.ndarray,
    field_lineups: np.ndarray,
    contest: ContestSpec,
    *,
    selection_races: int = DEFAULT_SELECTION_RACES,
    max_per_driver: np.ndarray | int | None = None,
    min_unique: int = 0,
    passes: int = 2,
    report: bool = True,
) -> Selection:
    """Local search from a portfolio that meets the rules (rows of ``candidates``): each lineup in turn
    is replaced by the candidate that adds the most expected payout given the others, if that beats it
    and keeps the rules. Never worse than the start on the search races."""
    chosen = [int(r) for r in start_rows]
    search = _Search(dk_points, candidates, field_lineups, contest, len(chosen), selection_races)
    kept = np.full(len(chosen), np.nan)
    for _ in range(passes):
        swapped = False
        for pos in range(len(chosen)):
            rest = chosen[:pos] + chosen[pos + 1 :]
            rules = _PickRules(search.cands, search.n_drivers, max_per_driver, min_unique)
            for row in rest:
                rules.take(row)
            gain = search.gains(rest)
            gain[~rules.allowed] = -np.inf
            best = int(np.argmax(gain))
            if gain[best] > gain[chosen[pos]] + 1e-9:
                chosen[pos], swapped = best, True
            kept[pos] = gain[chosen[pos]]
        if not swapped:
            break
    return search.report(np.array(chosen, dtype=np.int64), kept, simulate=report)


class _Search:
    """The search races' scores and field standings of every candidate, computed once."""

    def __init__(
        self,
        dk_points: np.ndarray,
        candidates: np.ndarray,
        field_lineups: np.ndarray,
        contest: ContestSpec,
        n_lineups: int,
        selection_races: int,
    ):
        self.points = np.asarray(dk_points, dtype=np.float32)
        self.cands = np.asarray(candidates, dtype=np.int64)
        self.field = np.asarray(field_lineups, dtype=np.int64)
        self.contest = contest
        self.n_drivers = self.points.shape[1]
        if self.cands.ndim != 2 or self.cands.shape[0] < n_lineups or n_lineups < 1:
            raise ValueError(f"need at least {n_lineups} >= 1 candidate lineups, got {self.cands.shape}")
        if self.field.shape[0] + n_lineups != contest.entries:
            raise ValueError(
                f"{self.field.shape[0]} field entries + {n_lineups} lineups"
                f" != the contest's {contest.entries}"
            )
        sample = self.points[: min(selection_races, self.points.shape[0])]
        self.n_search = sample.shape[0]
        prizes = contest.prize_by_place()
        self.cum = np.concatenate([[0.0], np.cumsum(prizes)])
        depth = min(self.field.shape[0], max(paid_places(prizes), math.ceil(TOP_SHARE * contest.entries)))
        self.cand_q = quantise(sample @ lineup_onehot(self.cands, self.n_drivers))
        field_q = quantise(sample @ lineup_onehot(self.field, self.n_drivers))
        self.field_gt, self.field_eq = rank_against_field(self.cand_q, field_q, depth)
        # Candidates sorted by score within each race: searchsorted over sorted keys walks memory in order.
        self.order = np.argsort(self.cand_q, axis=1, kind="stable")
        self.ranked = _Ranked(
            q=np.take_along_axis(self.cand_q, self.order, axis=1),
            field_gt=np.take_along_axis(self.field_gt, self.order, axis=1),
            field_eq=np.take_along_axis(self.field_eq, self.order, axis=1),
        )

    def gains(self, chosen: list[int]) -> np.ndarray:
        """(K,) expected payout each candidate would add to ``chosen`` over the search races."""
        per_race = _marginal_payouts(self.ranked, self.cand_q, self.field_gt, self.field_eq, chosen, self.cum)
        total = np.bincount(self.order.ravel(), weights=per_race.ravel(), minlength=self.cands.shape[0])
        return total / self.n_search

    def report(self, rows: np.ndarray, gains: np.ndarray, *, simulate: bool = True) -> Selection:
        if not simulate:
            in_sample = self.points.shape[0] - self.n_search < MIN_REPORT_RACES
            return Selection(rows, self.cands[rows], gains, None, in_sample)
        return report_selection(self.points, self.cands, rows, gains, self.field, self.contest, self.n_search)


def report_selection(
    points: np.ndarray,
    candidates: np.ndarray,
    rows: np.ndarray,
    gains: np.ndarray,
    field: np.ndarray,
    contest: ContestSpec,
    search_races: int,
) -> Selection:
    """The chosen rows simulated on the races after the first ``search_races`` (or all, if too few)."""
    report, in_sample = held_out_report(points, candidates[rows], field, contest, search_races)
    return Selection(
        rows=rows, lineups=candidates[rows], marginal_payout=gains, report=report, in_sample=in_sample
    )


def held_out_report(
    points: np.ndarray,
    lineups: np.ndarray,
    field: np.ndarray,
    contest: ContestSpec,
    search_races: int = DEFAULT_SELECTION_RACES,
) -> tuple[ContestReport, bool]:
    """``lineups`` simulated on the races after the first ``search_races``; (report, in_sample).

    Picking the best of many candidates on some races flatters them on those races, so the report
    uses the others, unless fewer than MIN_REPORT_RACES are left (then all races, and in_sample).
    """
    search_races = min(search_races, points.shape[0])
    held_out = points[search_races:]
    in_sample = held_out.shape[0] < MIN_REPORT_RACES
    return simulate_contest(points if in_sample else held_out, lineups, field, contest), in_sample


@dataclass(frozen=True)
class _Ranked:
    """Candidates' quantised scores and field standing, each race's row sorted by score."""

    q: np.ndarray
    field_gt: np.ndarray
    field_eq: np.ndarray


class _PickRules:
    """Which candidates may still be picked: not yet chosen, no driver over its cap, and sharing at
    most 6 - min_unique drivers with every chosen lineup."""

    def __init__(
        self, cands: np.ndarray, n_drivers: int, max_per_driver: np.ndarray | int | None, min_unique: int
    ):
        self.members = lineup_onehot(cands, n_drivers).T.astype(np.int16)  # (K, D)
        caps = np.full(n_drivers, np.iinfo(np.int64).max) if max_per_driver is None else max_per_driver
        self.caps = np.broadcast_to(np.asarray(caps, dtype=np.int64), (n_drivers,))
        self.max_shared = cands.shape[1] - min_unique
        self.counts = np.zeros(n_drivers, dtype=np.int64)
        self.shared = np.zeros(cands.shape[0], dtype=np.int64)
        self.allowed = np.ones(cands.shape[0], dtype=bool)
        self._update()

    def take(self, pick: int) -> None:
        self.allowed[pick] = False
        self.counts += self.members[pick]
        self.shared = np.maximum(self.shared, self.members @ self.members[pick])
        self._update()

    def _update(self) -> None:
        full = self.counts >= self.caps
        self.allowed &= ~(self.members[:, full] > 0).any(axis=1)
        self.allowed &= self.shared <= self.max_shared


def _marginal_payouts(
    ranked: _Ranked,
    cand_q: np.ndarray,
    field_gt: np.ndarray,
    field_eq: np.ndarray,
    chosen: list[int],
    cum: np.ndarray,
) -> np.ndarray:
    """(races, candidates in ``ranked`` order) payout each candidate would add to the chosen lineups."""
    if not chosen:
        return (cum[ranked.field_gt + ranked.field_eq + 1] - cum[ranked.field_gt]) / (ranked.field_eq + 1)
    idx = np.array(chosen)
    chosen_q = cand_q[:, idx]
    # The chosen lineups' own standing now (among the field and each other).
    own_gt, own_eq = count_above_and_equal(np.sort(chosen_q, axis=1), chosen_q)
    better, tied = field_gt[:, idx] + own_gt, field_eq[:, idx] + own_eq
    now = (cum[better + tied] - cum[better]) / tied
    beaten = (cum[better + 1 + tied] - cum[better + 1]) / tied - now  # a new entry above it
    shared = (cum[better + tied + 1] - cum[better]) / (tied + 1) - now  # a new entry tied with it
    # Running sums over the chosen lineups in ascending score order, per race.
    order = np.argsort(chosen_q, axis=1)
    sorted_q = np.take_along_axis(chosen_q, order, axis=1)
    zeros = np.zeros((chosen_q.shape[0], 1))
    beaten_cum = np.concatenate([zeros, np.cumsum(np.take_along_axis(beaten, order, axis=1), axis=1)], axis=1)
    shared_cum = np.concatenate([zeros, np.cumsum(np.take_along_axis(shared, order, axis=1), axis=1)], axis=1)
    above, equal = count_above_and_equal(sorted_q, ranked.q)
    below = idx.size - above - equal  # chosen lineups scoring less than the candidate
    loss_beaten = np.take_along_axis(beaten_cum, below, axis=1)
    loss_shared = np.take_along_axis(shared_cum, below + equal, axis=1) - np.take_along_axis(
        shared_cum, below, axis=1
    )
    c_better = ranked.field_gt + above
    c_tied = ranked.field_eq + equal + 1
    own = (cum[c_better + c_tied] - cum[c_better]) / c_tied
    return own + loss_beaten + loss_shared


@dataclass(frozen=True)
class ContestPortfolio:
    """A portfolio picked by simulated contest return, in the pool's terms."""

    names: tuple[tuple[str, ...], ...]  # drivers of each chosen lineup
    dk_ids: tuple[tuple[int, ...], ...]
    selection: Selection
    field: SimulatedField
    candidates: int
    # "greedy"; "optimizer+swaps" when greedy picks could not meet the rules together; "optimizer"
    # when the spec's minimum exposures rule out both (the spec's own portfolio is kept).
    method: str
    portfolio: Portfolio  # the chosen lineups in the optimizer's terms (exposures, simulated stats)


def contest_portfolio(
    players: PlayerPool | Any,
    spec: ConstraintSpec,
    scenarios: ScenarioSet,
    contest: ContestSpec,
    ownership: np.ndarray,
    *,
    candidates: int | None = None,
    leverage_weight: float = DEFAULT_LEVERAGE_WEIGHT,
    seed: int = 0,
    field: SimulatedField | None = None,
    report: bool = True,
) -> ContestPortfolio:
    """``spec.lineups`` lineups for ``contest``; ``players`` is a PlayerPool or a Slate.

    Candidates come from the optimizer's scenario and ownership-leverage builds, the field is drawn from
    ``ownership`` (pool order, fractions) unless ``field`` (drawn already, pool order) is given, then the
    greedy selection by simulated payout applies the spec's exposure caps and min_unique (each candidate
    already meets the per-lineup rules). When the chosen lineups miss a minimum exposure of the spec,
    the spec's own portfolio (which meets every rule) is kept instead. ``report=False`` skips the
    held-out report (a caller that reports separately saves one contest simulation).
    """
    n_candidates = candidates or min(500, max(3 * spec.lineups, 50))
    if n_candidates < spec.lineups:
        raise ValueError(f"{n_candidates} candidates cannot supply {spec.lineups} lineups")
    own = np.asarray(ownership, dtype=np.float64)
    pool = as_pool(players, ownership=own)
    rows, spec_rows, target = _candidate_rows(pool, spec, scenarios, n_candidates, leverage_weight)
    points = scenario_points(pool, scenarios)
    if field is None:
        field = simulate_field(own, pool.salaries, contest.entries - spec.lineups, seed=seed)
    elif field.size != contest.entries - spec.lineups or field.target.shape != own.shape:
        raise ValueError(
            f"the given field has {field.size} entries over {field.target.size} drivers; this contest"
            f" needs {contest.entries - spec.lineups} over the pool's {own.size}"
        )
    caps = np.array(
        [math.floor(spec.driver_bounds(name).max * spec.lineups + 1e-9) for name in pool.names],
        dtype=np.int64,
    )
    method = "greedy"
    try:
        selection = select_by_contest_roi(
            points,
            rows,
            field.lineups,
            contest,
            spec.lineups,
            max_per_driver=caps,
            min_unique=spec.min_unique,
            report=report,
        )
    except SelectionExhaustedError:
        # Greedy picks can strand the rules (caps and uniqueness bind together); the optimizer's own
        # portfolio meets them all, so the search starts from it and swaps lineups while that pays.
        method = "optimizer+swaps"
        start = _rows_in(rows, spec_rows)
        selection = improve_by_swaps(
            points,
            rows,
            start,
            field.lineups,
            contest,
            max_per_driver=caps,
            min_unique=spec.min_unique,
            report=report,
        )
    if not _meets_minimums(pool, spec, selection.lineups):
        # The search does not impose minimum exposures; the optimizer's portfolio does.
        method = "optimizer"
        start = _rows_in(rows, spec_rows)
        held_out, in_sample = (
            held_out_report(points, rows[start], field.lineups, contest)
            if report
            else (None, points.shape[0] - DEFAULT_SELECTION_RACES < MIN_REPORT_RACES)
        )
        # No lineup was picked for its payout here, so none added any; 0 rather than NaN, which
        # the stored JSON and the API's responses cannot carry.
        selection = Selection(start, rows[start], np.zeros(start.size), held_out, in_sample)
    positions = selection.lineups
    portfolio = assemble(
        pool,
        positions,
        selection.marginal_payout,
        "contest_roi",
        f"contest:{method}",
        lineup_stats(lineup_scores(positions, points), target),
        target,
    )
    return ContestPortfolio(
        names=tuple(tuple(pool.names[i] for i in row) for row in positions),
        dk_ids=tuple(tuple(int(pool.dk_ids[i]) for i in row) for row in positions),
        selection=selection,
        field=field,
        candidates=rows.shape[0],
        method=method,
        portfolio=portfolio,
    )


def _meets_minimums(pool: PlayerPool, spec: ConstraintSpec, lineups: np.ndarray) -> bool:
    counts = np.bincount(np.asarray(lineups).ravel(), minlength=pool.size)
    floors = np.array([math.ceil(spec.driver_bounds(n).min * spec.lineups - 1e-9) for n in pool.names])
    return bool(np.all(counts >= floors))


def _candidate_rows(
    pool: PlayerPool, spec: ConstraintSpec, scenarios: ScenarioSet, n: int, leverage_weight: float
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Distinct candidate lineups (pool positions, sorted) from a scenario and a leverage build, the
    spec's own portfolio (which is among them) and that build's target score.

    Portfolio-level rules (exposures, min_unique) are lifted here, because the greedy selection applies
    them to the chosen lineups; per-lineup rules (locks, excludes, salary, groups, teams) stay.
    """
    portfolio_rules = {"min_unique": 1, "max_exposure": 1.0, "min_exposure": 0.0, "exposures": {}}
    builds = [
        spec.model_copy(update={"lineups": n, "objective": o, **portfolio_rules})
        for o in ("scenario", "leverage")
    ]
    rows = [
        _pool_rows(pool, build_portfolio(pool, b, scenarios, leverage_weight=leverage_weight)) for b in builds
    ]
    # The spec's own portfolio meets every rule together: a candidate set and the fallback.
    spec_build = build_portfolio(pool, spec, scenarios, leverage_weight=leverage_weight)
    own = _pool_rows(pool, spec_build)
    return np.unique(np.concatenate([*rows, own]), axis=0), own, spec_build.target_score


def _rows_in(candidates: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row index in ``candidates`` of each row of ``wanted`` (all present)."""
    where = {tuple(row): i for i, row in enumerate(candidates.tolist())}
    return np.array([where[tuple(row)] for row in wanted.tolist()], dtype=np.int64)


def _pool_rows(pool: PlayerPool, portfolio: Portfolio) -> np.ndarray:
    return np.array(
        [np.sort(pool.index_of_dk_id(lineup.dk_ids, "candidates")) for lineup in portfolio.lineups]
    )
