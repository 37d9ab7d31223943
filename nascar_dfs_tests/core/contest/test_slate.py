"""The per-race contest steps the platform runs: ownership, field, selection against it, report."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from nascar_dfs.core.contest.selection import contest_portfolio
from nascar_dfs.core.contest.slate import (
    contest_field,
    field_check,
    portfolio_report,
    report_dict,
    slate_ownership,
)
from nascar_dfs.core.contest.spec import ContestSpec
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs_tests.core.optimizer.helpers import small_pool, small_scenarios


@pytest.fixture
def race():
    pool = small_pool(16, seed=3, with_ownership=False)
    return pool, small_scenarios(pool, n=2_600, seed=5)


def test_ownership_comes_from_the_model_on_simulated_points_when_the_slate_has_none(race):
    pool, scenarios = race
    own = slate_ownership(pool, scenarios)
    assert list(own["name"]) == list(pool.names)
    assert set(own["source"]) == {"model"}
    assert own["ownership"].sum() == pytest.approx(6.0)
    assert own["projection"].to_numpy() == pytest.approx(scenarios.dk_points.mean(axis=0), abs=1e-3)
    # The best simulated scorer is the most popular, all else being similar.
    assert own["ownership"].corr(own["projection"]) > 0.5


def test_the_slates_projected_ownership_wins_when_every_driver_has_one(race):
    pool, scenarios = race
    given = np.linspace(1, 2, pool.size)
    given = given / given.sum() * 600  # percent, as DraftKings tools publish it
    own = slate_ownership(replace(pool, ownership=given / 100), scenarios)
    assert set(own["source"]) == {"slate"}
    assert own["ownership"].to_numpy() == pytest.approx(given / 100)


def test_slate_ownership_above_the_cap_on_average_is_tilted_until_valid_lineups_can_follow(race):
    pool, scenarios = race
    pool = replace(pool, salaries=pool.salaries + 2_000)  # the six dearest cost more than $49,400
    given = np.where(pool.salaries >= np.sort(pool.salaries)[-6], 0.9, 0.01)  # the six dearest
    own = slate_ownership(replace(pool, ownership=given / given.sum() * 6), scenarios)
    assert set(own["source"]) == {"slate, budget-tilted"}
    assert own["ownership"] @ own["salary"] == pytest.approx(49_400, rel=1e-3)
    contest_field(own, ContestSpec(entries=1_000, entry_fee=1.0), 2, seed=1)  # drawable


def test_a_flat_priced_slate_still_gets_ownership(race):
    pool, scenarios = race
    flat = replace(pool, salaries=np.full(pool.size, 8_000))
    own = slate_ownership(flat, scenarios)
    assert own["ownership"].sum() == pytest.approx(6.0)


def test_selection_against_the_given_field_and_the_report_in_the_same_races(race):
    pool, scenarios = race
    own = slate_ownership(pool, scenarios)
    contest = ContestSpec(entries=600, entry_fee=5.0)
    spec = ConstraintSpec(lineups=4, scenarios=2_600, contest=contest)
    field = contest_field(own, contest, spec.lineups, seed=7)
    assert field.size == 596
    picked = contest_portfolio(
        pool, spec, scenarios, contest, own["ownership"].to_numpy(), candidates=20, field=field, report=False
    )
    assert picked.field is field and picked.selection.report is None
    assert picked.portfolio.objective == "contest_roi" and len(picked.portfolio.lineups) == 4
    ids = [list(lineup.dk_ids) for lineup in picked.portfolio.lineups]
    report, in_sample = portfolio_report(pool, scenarios, ids, field, contest)
    assert not in_sample and report.races == 600  # the 2,000 races the search saw are left out
    ok, figures = field_check(field, 0.03, list(pool.names))
    body = report_dict(report, in_sample, [{"dk_ids": i} for i in ids], figures, ok)
    text = json.dumps(body)  # JSON-ready
    assert json.loads(text)["portfolio"]["roi"]["se"] > 0
    assert body["lineups"][0]["dk_ids"] == ids[0] and "p_first" in body["lineups"][0]
    assert body["contest"]["prize_pool"] == pytest.approx(600 * 5 * 0.87)
    assert body["field"]["ownership_check_passed"] is ok


def test_the_spec_minimum_exposure_is_kept_by_falling_back_to_the_optimizer(race):
    pool, scenarios = race
    own = slate_ownership(pool, scenarios)
    contest = ContestSpec(entries=600, entry_fee=5.0)
    rarely = pool.names[int(np.argmin(own["ownership"]))]
    spec = ConstraintSpec(lineups=4, scenarios=2_600, contest=contest, exposures={rarely: {"min": 0.5}})
    picked = contest_portfolio(pool, spec, scenarios, contest, own["ownership"].to_numpy(), candidates=20)
    assert sum(rarely in lineup.drivers for lineup in picked.portfolio.lineups) >= 2
    assert picked.selection.report is not None


def test_field_check_allows_sampling_noise_but_not_a_projection_the_field_cannot_follow(race):
    pool, scenarios = race
    given = np.linspace(1, 2, pool.size)
    own = slate_ownership(replace(pool, ownership=given / given.sum() * 6), scenarios)
    small = contest_field(own, ContestSpec(entries=300, entry_fee=1.0), 2, seed=1)
    ok, figures = field_check(small, 0.03, list(pool.names))
    assert ok, figures  # at 298 entries the sd of a 50% share is 0.029: noise alone nears 0.03
    wrong = replace(small, target=np.roll(small.target, 3))
    ok, figures = field_check(wrong, 0.03, list(pool.names))
    assert not ok and figures["max_ownership_error"] > figures["worst_driver_allowed"]
