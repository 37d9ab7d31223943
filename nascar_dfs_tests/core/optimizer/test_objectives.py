"""Each objective's lineups are the true optimum of what the objective states (brute force)."""

from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.optimizer import build_portfolio, leverage_values
from nascar_dfs.core.scenarios.spec import ConstraintSpec

from .helpers import THREE_SLOTS, all_lineups, positions, small_pool, small_scenarios


def _sequential_best(pool, value, lineups: int, max_count: int, max_overlap: int) -> list[tuple[int, ...]]:
    """Lineup by lineup, the best legal lineup by ``value`` — the stated 'next best' build."""
    chosen: list[tuple[int, ...]] = []
    counts = np.zeros(pool.size, dtype=int)
    candidates = all_lineups(pool, THREE_SLOTS)
    for _ in range(lineups):
        legal = [
            c
            for c in candidates
            if all(counts[i] < max_count for i in c)
            and all(len(set(c) & set(prev)) <= max_overlap for prev in chosen)
        ]
        best = max(legal, key=value)
        chosen.append(best)
        counts[list(best)] += 1
    return chosen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_build_picks_the_brute_force_sequence(seed: int) -> None:
    pool = small_pool(seed=seed)
    spec = ConstraintSpec(lineups=8, max_exposure=0.5, min_unique=2, objective="mean")
    portfolio = build_portfolio(pool, spec, rules=THREE_SLOTS)
    expected = _sequential_best(
        pool, lambda c: pool.projections[list(c)].sum(), lineups=8, max_count=4, max_overlap=1
    )
    got = [positions(pool, lineup.drivers) for lineup in portfolio.lineups]
    assert got == expected


def test_leverage_build_maximizes_ownership_discounted_points() -> None:
    pool = small_pool(seed=3)
    spec = ConstraintSpec(lineups=5, objective="leverage")
    portfolio = build_portfolio(pool, spec, rules=THREE_SLOTS, leverage_weight=0.8)
    values = leverage_values(pool.projections, pool.ownership, 0.8)
    expected = _sequential_best(pool, lambda c: values[list(c)].sum(), lineups=5, max_count=5, max_overlap=2)
    assert [positions(pool, lineup.drivers) for lineup in portfolio.lineups] == expected
    mean = build_portfolio(pool, spec.model_copy(update={"objective": "mean"}), rules=THREE_SLOTS)
    # Leverage must actually change the choice on this pool, or the test above proves nothing new.
    assert [positions(pool, x.drivers) for x in mean.lineups] != expected


@pytest.mark.parametrize("seed", [0, 4])
def test_scenario_build_greedily_maximizes_coverage_of_the_target(seed: int) -> None:
    pool = small_pool(seed=seed)
    scenarios = small_scenarios(pool, n=50, seed=seed + 10)
    points = scenarios.dk_points.astype(np.float64)
    candidates = all_lineups(pool, THREE_SLOTS)
    sims = {c: points[:, list(c)].sum(axis=1) for c in candidates}
    target = float(np.quantile([s.mean() for s in sims.values()], 0.9)) + 10.0
    spec = ConstraintSpec(lineups=4, objective="scenario", target_score=target, max_exposure=0.75)
    portfolio = build_portfolio(pool, spec, scenarios=scenarios, rules=THREE_SLOTS)

    covered = np.zeros(points.shape[0], dtype=bool)
    counts = np.zeros(pool.size, dtype=int)
    for lineup in portfolio.lineups:
        got = positions(pool, lineup.drivers)
        legal = [c for c in candidates if all(counts[i] < 3 for i in c)]
        best = max(
            (int(((sims[c] >= target) & ~covered).sum()), int((sims[c] >= target).sum()), sims[c].mean())
            for c in legal
        )
        achieved = (int(((sims[got] >= target) & ~covered).sum()), int((sims[got] >= target).sum()))
        assert achieved == best[:2]
        assert sims[got].mean() == pytest.approx(best[2], abs=1e-3)
        covered |= sims[got] >= target
        counts[list(got)] += 1
    assert portfolio.lineups[0].stats.p_target == pytest.approx(
        max((sims[c] >= target).mean() for c in candidates)
    )


def test_lineup_stats_match_the_simulated_scores() -> None:
    pool = small_pool(seed=5)
    scenarios = small_scenarios(pool, n=50, seed=6)
    spec = ConstraintSpec(lineups=3, objective="mean", target_score=120.0)
    portfolio = build_portfolio(pool, spec, scenarios=scenarios, rules=THREE_SLOTS)
    for lineup in portfolio.lineups:
        sims = scenarios.dk_points[:, list(positions(pool, lineup.drivers))].astype(np.float64).sum(axis=1)
        assert lineup.stats.mean == pytest.approx(sims.mean(), rel=1e-5)
        assert lineup.stats.std == pytest.approx(sims.std(), rel=1e-4)
        assert lineup.stats.p90 == pytest.approx(np.quantile(sims, 0.9), rel=1e-5)
        assert lineup.stats.p99 == pytest.approx(np.quantile(sims, 0.99), rel=1e-5)
        assert lineup.stats.p_target == pytest.approx((sims >= 120.0).mean())
        assert lineup.salary == pool.salaries[list(positions(pool, lineup.drivers))].sum()


def test_milp_path_matches_the_scan() -> None:
    pool = small_pool(seed=7)
    spec = ConstraintSpec(lineups=6, max_exposure=0.5, min_unique=2, objective="mean")
    scan = build_portfolio(pool, spec, rules=THREE_SLOTS)
    milp = build_portfolio(pool, spec, rules=THREE_SLOTS, enumeration_limit=0)
    assert milp.method == "milp" and scan.method == "scan"
    assert [round(x.projection, 6) for x in milp.lineups] == [round(x.projection, 6) for x in scan.lineups]


def test_scenario_portfolio_covers_more_races_than_the_mean_build(bench_pool, bench_slate) -> None:
    """On a full-size slate (candidate-pool path) the coverage objective should pay off where it
    claims to: more races in which some lineup reaches the target, from more drivers."""
    from dataclasses import replace

    from nascar_dfs.core.optimizer import lineup_scores

    rng = np.random.default_rng(11)
    spread = bench_slate.players["std_dev"].to_numpy()
    noise = rng.standard_normal((2000, bench_pool.size)) * spread
    points = (bench_pool.projections + noise).astype(np.float32)
    scenarios = replace(small_scenarios(bench_pool, n=2000), dk_points=points)
    spec = ConstraintSpec(lineups=40, max_exposure=0.6, objective="scenario", target_score=310.0)
    cover = build_portfolio(bench_pool, spec, scenarios=scenarios)
    mean = build_portfolio(
        bench_pool.with_projections(points.mean(axis=0)),
        spec.model_copy(update={"objective": "mean"}),
        scenarios=scenarios,
    )

    def p_any(portfolio) -> float:
        rows = np.array([positions(bench_pool, lineup.drivers) for lineup in portfolio.lineups])
        return float((lineup_scores(rows, points) >= 310.0).any(axis=0).mean())

    assert len(cover.lineups) == len(mean.lineups) == 40
    assert p_any(cover) > p_any(mean) + 0.02
    assert cover.distinct_drivers > mean.distinct_drivers
