"""Portfolios honour every ConstraintSpec constraint, and impossible specs say why."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nascar_dfs.core.optimizer import InfeasibleSpecError, UnknownDriverError, build_portfolio
from nascar_dfs.core.scenarios.spec import ConstraintSpec, ExposureBounds, Group

from .helpers import THREE_SLOTS, small_pool


def _max_shared(portfolio) -> int:
    sets = [set(lineup.drivers) for lineup in portfolio.lineups]
    return max(len(a & b) for a, b in itertools.combinations(sets, 2))


def test_classic_bench_build_is_exact_distinct_valid_and_optimal(bench_pool) -> None:
    spec = ConstraintSpec(lineups=150, max_exposure=0.6, min_unique=1, objective="mean")
    portfolio = build_portfolio(bench_pool, spec)
    assert len(portfolio.lineups) == 150
    assert len({frozenset(lineup.dk_ids) for lineup in portfolio.lineups}) == 150
    assert all(len(set(lineup.drivers)) == 6 for lineup in portfolio.lineups)
    assert all(lineup.salary <= 50_000 for lineup in portfolio.lineups)
    assert max(portfolio.exposures.values()) <= 0.6
    # The bench README publishes the optimal single lineup: 258.19 projected points.
    assert portfolio.lineups[0].projection == pytest.approx(258.19, abs=1e-6)
    projections = [lineup.projection for lineup in portfolio.lineups]
    assert projections == sorted(projections, reverse=True)


def test_min_unique_and_per_driver_exposures_are_honoured(bench_pool) -> None:
    star, filler = bench_pool.names[0], bench_pool.names[20]
    spec = ConstraintSpec(
        lineups=40,
        min_unique=3,
        max_exposure=0.5,
        exposures={star: ExposureBounds(max=0.2), filler: ExposureBounds(min=0.3)},
        objective="mean",
    )
    portfolio = build_portfolio(bench_pool, spec)
    assert len(portfolio.lineups) == 40
    assert _max_shared(portfolio) <= 3
    assert portfolio.exposures.get(star, 0.0) <= 0.2
    assert portfolio.exposures[filler] >= 0.3
    assert max(portfolio.exposures.values()) <= 0.5


def test_global_min_exposure_puts_every_driver_in_enough_lineups(bench_pool) -> None:
    spec = ConstraintSpec(lineups=40, min_exposure=0.05, max_exposure=0.6, objective="mean")
    portfolio = build_portfolio(bench_pool, spec)
    assert len(portfolio.exposures) == bench_pool.size
    assert min(portfolio.exposures.values()) >= 0.05


def test_locks_excludes_salary_groups_and_team_caps(bench_pool) -> None:
    lock, excluded = bench_pool.names[5], bench_pool.names[0]
    group = Group(drivers=list(bench_pool.names[10:16]), at_least=2)
    spec = ConstraintSpec(
        lineups=25,
        locks=[lock],
        excludes=[excluded],
        min_salary=49_500,
        groups=[group],
        max_per_team=1,
        objective="mean",
    )
    portfolio = build_portfolio(bench_pool, spec)
    team_of = dict(zip(bench_pool.names, bench_pool.teams, strict=True))
    for lineup in portfolio.lineups:
        assert lock in lineup.drivers and excluded not in lineup.drivers
        assert 49_500 <= lineup.salary <= 50_000
        assert len(set(lineup.drivers) & set(group.drivers)) >= 2
        teams = [team_of[name] for name in lineup.drivers]
        assert len(teams) == len(set(teams))


@pytest.mark.parametrize(
    ("spec_args", "phrase"),
    [
        ({"lineups": 150, "max_exposure": 0.1}, "max exposure 0.1 × 150 lineups"),
        ({"lineups": 10, "locks": ["Driver 00"], "max_exposure": 0.5}, "locked driver Driver 00"),
        ({"lineups": 5, "min_salary": 50_000}, "min salary $50,000"),
        (
            {
                "lineups": 5,
                "groups": [Group(drivers=["Driver 01", "Driver 02"], at_least=2)],
                "excludes": ["Driver 02"],
            },
            "group [Driver 01, Driver 02] needs at least 2",
        ),
        (
            {
                "lineups": 5,
                "locks": ["Driver 01", "Driver 02"],
                "groups": [Group(drivers=["Driver 01", "Driver 02", "Driver 03"], at_most=1)],
            },
            "above its at_most 1",
        ),
        ({"lineups": 500}, "distinct lineups satisfy the roster constraints"),
        ({"lineups": 20, "min_unique": 3}, "min_unique 3"),
    ],
)
def test_infeasible_specs_name_the_constraint(spec_args: dict, phrase: str) -> None:
    pool = small_pool(n=10, seed=0)
    spec = ConstraintSpec(objective="mean", **spec_args)
    with pytest.raises(InfeasibleSpecError) as err:
        build_portfolio(pool, spec, rules=THREE_SLOTS)
    assert phrase in str(err.value)


def test_locks_above_the_cap_are_reported_with_their_cost(bench_pool) -> None:
    priciest = [bench_pool.names[i] for i in np.argsort(-bench_pool.salaries)[:5]]
    with pytest.raises(InfeasibleSpecError, match=r"above the salary cap \$50,000"):
        build_portfolio(bench_pool, ConstraintSpec(lineups=1, locks=priciest, objective="mean"))


def test_unknown_driver_names_are_listed() -> None:
    spec = ConstraintSpec(lineups=2, locks=["Nobody Here"], objective="mean")
    with pytest.raises(UnknownDriverError, match="Nobody Here"):
        build_portfolio(small_pool(), spec, rules=THREE_SLOTS)


def test_objectives_without_their_inputs_fail_clearly() -> None:
    with pytest.raises(ValueError, match="needs simulated races"):
        build_portfolio(small_pool(), ConstraintSpec(lineups=2, objective="scenario"), rules=THREE_SLOTS)
    with pytest.raises(ValueError, match="needs projected ownership"):
        build_portfolio(
            small_pool(with_ownership=False),
            ConstraintSpec(lineups=2, objective="leverage"),
            rules=THREE_SLOTS,
        )


def test_a_slate_is_accepted_directly_and_matches_its_pool(bench_slate, bench_pool) -> None:
    spec = ConstraintSpec(lineups=5, objective="mean")
    from_slate = build_portfolio(bench_slate, spec)
    from_pool = build_portfolio(bench_pool, spec)
    assert from_slate.dk_id_rows() == from_pool.dk_id_rows()


def test_scenarios_missing_a_slate_driver_are_refused() -> None:
    from dataclasses import replace

    from .helpers import small_scenarios

    pool = small_pool()
    scenarios = small_scenarios(pool)
    renamed = replace(scenarios, drivers=("Someone Else", *scenarios.drivers[1:]))
    with pytest.raises(UnknownDriverError, match="Driver 00"):
        build_portfolio(pool, ConstraintSpec(lineups=2, objective="scenario"), renamed, rules=THREE_SLOTS)


def test_min_exposures_the_greedy_cannot_reach_are_planned_in_one_model() -> None:
    pool = small_pool(n=12, seed=0)
    low = [pool.names[i] for i in np.argsort(pool.projections)[:4]]
    spec = ConstraintSpec(
        lineups=10,
        exposures={name: ExposureBounds(min=0.5) for name in low},
        max_exposure=0.6,
        objective="mean",
    )
    portfolio = build_portfolio(pool, spec, rules=THREE_SLOTS)
    assert portfolio.method == "plan"  # this instance defeats the lineup-by-lineup search
    assert len({frozenset(lineup.drivers) for lineup in portfolio.lineups}) == 10
    assert all(portfolio.exposures.get(name, 0.0) >= 0.5 for name in low)
    assert max(portfolio.exposures.values()) <= 0.6
    assert all(lineup.salary <= THREE_SLOTS.salary_cap for lineup in portfolio.lineups)
