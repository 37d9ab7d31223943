import numpy as np
import pytest

from nascar_dfs.core.contest.simulate import contest_payouts, simulate_contest
from nascar_dfs.core.contest.spec import ContestSpec, PayoutTier

# Hand-made contest: 5 entries at $10, no rake, pays $30 / $15 / $5 for places 1-3.
TINY = ContestSpec(
    entries=5,
    entry_fee=10.0,
    rake=0.0,
    payouts=[
        PayoutTier(from_place=1, to_place=1, prize=30.0),
        PayoutTier(from_place=2, to_place=2, prize=15.0),
        PayoutTier(from_place=3, to_place=3, prize=5.0),
    ],
)


def test_ties_split_the_prizes_of_the_places_they_occupy():
    # Driver points chosen as float32-unfriendly decimals so summation order could differ.
    points = np.array([[10.1, 7.3, 3.45, 0.25, 1.7, 2.2, 3.3, 3.3, 1.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    user = np.array([[0, 1, 2, 3, 4, 5]])
    field = np.array(
        [
            [5, 4, 3, 2, 1, 0],  # the user's drivers in another order: ties for first (25.0)
            [6, 8, 1, 3, 10, 11],  # 3.3 + 1 + 7.3 + 0.25 = 11.85
            [7, 9, 1, 3, 10, 11],  # the same score with other drivers: ties for third
            [10, 11, 8, 9, 3, 6],  # 5.55, last
        ]
    )
    report = simulate_contest(points, user, field, TINY)
    assert report.payouts[0, 0] == pytest.approx((30 + 15) / 2)
    assert report.lineups[0].duplicates.mean == 1
    assert report.lineups[0].p_first.mean == 1.0
    all_scores = np.array([[25.0, 25.0, 11.85, 11.85, 5.55]])
    assert contest_payouts(all_scores, TINY)[0].tolist() == pytest.approx([22.5, 22.5, 2.5, 2.5, 0.0])
    # The field won what the user did not: 50 - 22.5 over 4 entries at $10.
    assert report.field_mean_roi.mean == pytest.approx(27.5 / 40 - 1)


def test_three_way_tie_across_paid_and_unpaid_places():
    scores = np.array([[9.0, 4.0, 4.0, 4.0, 1.0]])
    assert contest_payouts(scores, TINY)[0].tolist() == pytest.approx([30.0, 20 / 3, 20 / 3, 20 / 3, 0.0])


def _random_contest(rng, n_races=400, n_drivers=30, n_field=980, n_user=20):
    points = (rng.gamma(2.0, 12.0, size=(n_races, n_drivers)) * 20).round() / 20  # DK steps of 0.05
    field = np.argsort(rng.random((n_field, n_drivers)), axis=1)[:, :6]
    field[: n_field // 4] = field[0]  # heavy duplication, so ties are common
    user = np.argsort(rng.random((n_user, n_drivers)), axis=1)[:, :6]
    user[:3] = field[0]
    return points.astype(np.float32), user, field


def test_conservation_every_race_pays_the_pool_and_mean_roi_is_minus_rake():
    rng = np.random.default_rng(5)
    points, user, field = _random_contest(rng)
    contest = ContestSpec(entries=1000, entry_fee=25.0, rake=0.15)
    lineups = np.concatenate([user, field])
    onehot = np.zeros((points.shape[1], lineups.shape[0]))
    onehot[lineups, np.arange(lineups.shape[0])[:, None]] = 1.0
    everyone = contest_payouts(points.astype(np.float64) @ onehot, contest)
    np.testing.assert_allclose(everyone.sum(axis=1), contest.prize_pool, rtol=1e-12)
    assert np.mean(everyone / contest.entry_fee - 1) == pytest.approx(-0.15, abs=1e-12)
    # The fast path (top-K of the field, searchsorted, chunks) gives the same user payouts as ranking all.
    report = simulate_contest(points, user, field, contest, chunk_cells=50_000)
    np.testing.assert_allclose(report.payouts, everyone[:, : user.shape[0]], rtol=1e-12)
    field_roi = everyone[:, user.shape[0] :].mean(axis=1) / contest.entry_fee - 1
    assert report.field_mean_roi.mean == pytest.approx(field_roi.mean(), abs=1e-12)


def test_copies_of_the_chalk_lineup_lose_to_the_field_average_when_duplicated():
    rng = np.random.default_rng(9)
    n_races, n_drivers = 4000, 30
    points = rng.gamma(2.0, 12.0, size=(n_races, n_drivers)).astype(np.float32)  # exchangeable drivers
    field = np.argsort(rng.random((1880, n_drivers)), axis=1)[:, :6]
    chalk = field[0].copy()
    field[:300] = chalk  # 16% of the field plays the chalk lineup
    user = np.repeat(chalk[None], 20, axis=0)
    report = simulate_contest(points, user, field, ContestSpec(entries=1900, entry_fee=10.0))
    gap = report.field_mean_roi.mean - report.portfolio.roi.mean
    assert report.lineups[0].duplicates.mean == 300
    assert gap > 3 * np.hypot(report.portfolio.roi.se, report.field_mean_roi.se)


def test_field_draws_split_the_races_and_average_duplicates():
    rng = np.random.default_rng(2)
    points, user, field = _random_contest(rng, n_races=100)
    other = np.argsort(rng.random((field.shape[0], 30)), axis=1)[:, :6]
    report = simulate_contest(
        points, user, np.stack([field, other]), ContestSpec(entries=1000, entry_fee=1.0)
    )
    dup_first = report.lineups[0].duplicates
    assert dup_first.mean == pytest.approx(field.shape[0] // 4 / 2, abs=1)
    assert dup_first.se > 0


def test_inconsistent_inputs_raise():
    points = np.ones((5, 12), dtype=np.float32)
    user = np.array([[0, 1, 2, 3, 4, 5]])
    field = np.array([[6, 7, 8, 9, 10, 11]] * 4)
    with pytest.raises(ValueError, match="!= the contest's"):
        simulate_contest(points, user, field[:3], TINY)
    with pytest.raises(ValueError, match="same driver twice"):
        simulate_contest(points, np.array([[0, 0, 2, 3, 4, 5]]), field, TINY)
    with pytest.raises(ValueError, match="outside"):
        simulate_contest(points, np.array([[0, 1, 2, 3, 4, 12]]), field, TINY)
    with pytest.raises(ValueError, match="per user"):
        simulate_contest(
            points, np.repeat(user, 2, axis=0), field[:3], TINY.model_copy(update={"max_entries_per_user": 1})
        )
