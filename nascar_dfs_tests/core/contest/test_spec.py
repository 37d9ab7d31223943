import numpy as np
import pytest

from nascar_dfs.core.contest.spec import ContestSpec, PayoutTier, default_payouts, read_payouts_csv


def test_default_table_pays_exactly_the_prize_pool_top_heavy():
    contest = ContestSpec(entries=10_000, entry_fee=20.0, rake=0.13)
    prizes = contest.prize_by_place()
    assert prizes.sum() == pytest.approx(10_000 * 20.0 * 0.87, rel=1e-12)
    assert prizes[0] == pytest.approx(0.15 * contest.prize_pool, rel=1e-9)
    assert np.all(np.diff(prizes) <= 1e-9)  # never pays a worse place more
    paid = np.count_nonzero(prizes)
    assert 0.15 * 10_000 <= paid <= 0.25 * 10_000
    assert prizes[paid - 1] == pytest.approx(2 * 20.0, rel=0.05)  # the min cash is about twice the fee


def test_small_contest_default_table_is_valid():
    contest = ContestSpec(entries=20, entry_fee=5.0)
    prizes = contest.prize_by_place()
    assert prizes.sum() == pytest.approx(contest.prize_pool)
    assert np.count_nonzero(prizes) == 4


def test_overlapping_tiers_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        ContestSpec(
            entries=10,
            entry_fee=1.0,
            payouts=[
                PayoutTier(from_place=1, to_place=2, prize=3),
                PayoutTier(from_place=2, to_place=3, prize=1),
            ],
        )


def test_table_above_the_prize_pool_is_rejected():
    with pytest.raises(ValueError, match="above the prize pool"):
        ContestSpec(
            entries=10, entry_fee=1.0, rake=0.1, payouts=[PayoutTier(from_place=1, to_place=1, prize=9.5)]
        )


def test_worse_place_paying_more_is_rejected():
    with pytest.raises(ValueError, match="pays more"):
        ContestSpec(
            entries=10,
            entry_fee=1.0,
            payouts=[
                PayoutTier(from_place=1, to_place=1, prize=1),
                PayoutTier(from_place=2, to_place=2, prize=2),
            ],
        )


def test_payouts_csv_round_trip_and_errors(tmp_path):
    path = tmp_path / "payouts.csv"
    path.write_text("from_place,to_place,prize\n1,1,50\n2,3,10\n")
    tiers = read_payouts_csv(path)
    contest = ContestSpec(entries=100, entry_fee=1.0, payouts=tiers)
    assert contest.prize_by_place()[:4].tolist() == [50.0, 10.0, 10.0, 0.0]
    with pytest.raises(ValueError, match="columns"):
        read_payouts_csv("place,prize\n1,5\n")
    with pytest.raises(ValueError, match="line 3"):
        read_payouts_csv("from_place,to_place,prize\n1,1,5\n3,2,1\n")


def test_default_payouts_function_matches_spec_default():
    assert default_payouts(500, 3.0, 0.1) == ContestSpec(entries=500, entry_fee=3.0, rake=0.1).payout_table()


def test_tier_order_does_not_change_the_contest():
    a = [PayoutTier(from_place=2, to_place=3, prize=10), PayoutTier(from_place=1, to_place=1, prize=50)]
    one = ContestSpec(entries=100, entry_fee=1.0, payouts=a)
    other = ContestSpec(entries=100, entry_fee=1.0, payouts=a[::-1])
    assert one.model_dump_json() == other.model_dump_json()
