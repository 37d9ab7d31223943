import numpy as np
import pytest

from nascar_dfs.core.contest.ownership import OwnershipModel
from nascar_dfs.core.contest.selection import contest_portfolio, improve_by_swaps, select_by_contest_roi
from nascar_dfs.core.contest.simulate import simulate_contest
from nascar_dfs.core.contest.spec import ContestSpec
from nascar_dfs.core.optimizer import build_portfolio, scenario_points
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs_tests.core.optimizer.helpers import small_pool, small_scenarios


def _toy(rng, n_races=800, n_drivers=24):
    mean = rng.uniform(15, 45, n_drivers)
    points = np.round((mean + rng.normal(0, 15, (n_races, n_drivers))) * 4) / 4  # coarse: many ties
    lean = np.exp(-mean / 15)
    field = np.argsort(rng.random((990, n_drivers)) * lean, axis=1)[:, :6]
    field[:200] = field[0]
    candidates = np.unique(
        np.sort(np.argsort(rng.random((150, n_drivers)) * lean, axis=1)[:, :6], axis=1), axis=0
    )
    candidates[0] = np.sort(field[0])  # one candidate duplicates the field's chalk
    return points.astype(np.float32), candidates, field


def test_greedy_gains_add_up_to_the_simulated_payout_of_the_portfolio():
    points, candidates, field = _toy(np.random.default_rng(4))
    contest = ContestSpec(entries=1000, entry_fee=5.0)
    selection = select_by_contest_roi(points, candidates, field, contest, 10, selection_races=points.shape[0])
    assert len(set(selection.rows.tolist())) == 10
    assert selection.marginal_payout.sum() == pytest.approx(
        selection.report.payouts.sum(axis=1).mean(), rel=1e-9
    )


def test_greedy_portfolio_beats_the_first_candidates_and_the_top_projected_ones():
    points, candidates, field = _toy(np.random.default_rng(8))
    contest = ContestSpec(entries=1000, entry_fee=5.0)
    selection = select_by_contest_roi(points, candidates, field, contest, 10)
    first = simulate_contest(points, candidates[:10], field, contest).portfolio.roi.mean
    mean_points = points.mean(axis=0)[candidates].sum(axis=1)
    top_projected = simulate_contest(
        points, candidates[np.argsort(-mean_points)[:10]], field, contest
    ).portfolio.roi.mean
    assert selection.report.portfolio.roi.mean > first
    assert selection.report.portfolio.roi.mean > top_projected


def test_contest_portfolio_draws_candidates_from_the_optimizer():
    pool = small_pool(16, seed=3, with_ownership=False)
    scenarios = small_scenarios(pool, n=300, seed=5)
    own = OwnershipModel.default().project(pool.salaries, pool.projections, np.arange(1, 17), mean_spend=None)
    spec = ConstraintSpec(lineups=4, scenarios=300)
    contest = ContestSpec(entries=400, entry_fee=3.0)
    result = contest_portfolio(pool, spec, scenarios, contest, own, candidates=20)
    assert len(result.names) == 4 and len(set(map(frozenset, result.names))) == 4
    assert result.method == "greedy"
    assert all(sum(pool.salaries[list(pool.names).index(n)] for n in row) <= 50_000 for row in result.names)
    plain = build_portfolio(pool, spec, scenarios)
    plain_rows = np.array([np.sort(pool.index_of_dk_id(lineup.dk_ids, "test")) for lineup in plain.lineups])
    points = scenario_points(pool, scenarios)
    plain_roi = simulate_contest(points, plain_rows, result.field.lineups, contest).portfolio.roi.mean
    assert result.selection.report.portfolio.roi.mean >= plain_roi - 1e-9


def test_report_uses_races_the_search_did_not_see_when_there_are_enough():
    points, candidates, field = _toy(np.random.default_rng(6))
    contest = ContestSpec(entries=995, entry_fee=5.0)
    held_out = select_by_contest_roi(points, candidates, field, contest, 5, selection_races=300)
    assert not held_out.in_sample and held_out.report.races == points.shape[0] - 300
    reused = select_by_contest_roi(points, candidates, field, contest, 5, selection_races=700)
    assert reused.in_sample and reused.report.races == points.shape[0]


def test_selection_respects_exposure_caps_and_min_unique():
    points, candidates, field = _toy(np.random.default_rng(12))
    contest = ContestSpec(entries=998, entry_fee=5.0)
    free = select_by_contest_roi(points, candidates, field[:-2], contest, 10)
    counts = np.bincount(free.lineups.ravel(), minlength=points.shape[1])
    cap = int(counts.max()) - 2
    capped = select_by_contest_roi(
        points, candidates, field[:-2], contest, 10, max_per_driver=cap, min_unique=2
    )
    assert np.bincount(capped.lineups.ravel(), minlength=points.shape[1]).max() <= cap
    members = np.zeros((10, points.shape[1]), dtype=int)
    members[np.arange(10)[:, None], capped.lineups] = 1
    shared = members @ members.T
    assert shared[~np.eye(10, dtype=bool)].max() <= 4
    with pytest.raises(ValueError, match="no candidate respects"):
        select_by_contest_roi(points, candidates, field[:-2], contest, 10, max_per_driver=1)


def test_contest_portfolio_applies_the_specs_exposure_cap_and_min_unique():
    pool = small_pool(16, seed=3, with_ownership=False)
    scenarios = small_scenarios(pool, n=300, seed=5)
    own = OwnershipModel.default().project(pool.salaries, pool.projections, np.arange(1, 17), mean_spend=None)
    spec = ConstraintSpec(lineups=4, scenarios=300, max_exposure=0.5, min_unique=2)
    result = contest_portfolio(
        pool, spec, scenarios, ContestSpec(entries=400, entry_fee=3.0), own, candidates=40
    )
    counts = {}
    for row in result.names:
        for name in row:
            counts[name] = counts.get(name, 0) + 1
    assert max(counts.values()) <= 2
    sets = [set(row) for row in result.names]
    assert all(len(a & b) <= 4 for i, a in enumerate(sets) for b in sets[i + 1 :])
    assert result.method in {"greedy", "optimizer+swaps"}
    assert result.selection.report.races == 300


def test_swaps_never_lose_payout_and_keep_the_rules():
    points, candidates, field = _toy(np.random.default_rng(14))
    contest = ContestSpec(entries=996, entry_fee=5.0)
    start = np.arange(8)  # the first candidates, whatever they are
    starting = simulate_contest(points, candidates[start], field[:-2], contest).payouts.sum(axis=1).mean()
    better = improve_by_swaps(points, candidates, start, field[:-2], contest, max_per_driver=5, min_unique=1)
    assert better.in_sample
    assert better.report.payouts.sum(axis=1).mean() > starting
    assert np.bincount(better.lineups.ravel()).max() <= 5
    assert len({tuple(row) for row in better.lineups.tolist()}) == 8
