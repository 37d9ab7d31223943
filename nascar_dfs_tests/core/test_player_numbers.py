"""The player's numbers as a file and as ownership shares: what a row may hold, and how the model's
shares fill the drivers the player leaves out."""

from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.player_numbers import PlayerNumbersError, parse_csv, with_player_ownership

NAMES = tuple(f"Driver {k:02d}" for k in range(1, 13))


def test_the_players_shares_stand_and_the_models_fill_the_rest_in_their_order() -> None:
    base = np.linspace(0.9, 0.1, len(NAMES))
    base *= 6 / base.sum()
    shares, mine = with_player_ownership(NAMES, base, {"Driver 01": 5.0, "driver 12": 80.0})
    assert shares[0] == pytest.approx(0.05) and shares[-1] == pytest.approx(0.80)
    assert mine.tolist() == [True] + [False] * 10 + [True]
    assert shares.sum() == pytest.approx(6.0) and (shares <= 1).all()
    rest = shares[1:-1]
    assert (rest > 0).all() and (np.diff(rest) <= 1e-12).all()  # the model's order kept


def test_impossible_totals_and_unknown_names_are_refused_naming_them() -> None:
    base = np.full(len(NAMES), 0.5)
    with pytest.raises(ValueError, match="not on the slate: Nobody"):
        with_player_ownership(NAMES, base, {"Nobody": 5.0})
    with pytest.raises(ValueError, match=r"leaving 0\.0% for the 6 other drivers"):
        with_player_ownership(NAMES, base, {n: 100.0 for n in NAMES[:6]})
    with pytest.raises(ValueError, match=r"every driver adds up to 240\.0%"):
        with_player_ownership(NAMES, base, {n: 20.0 for n in NAMES})
    every = with_player_ownership(NAMES, base, {n: 49.0 for n in NAMES})[0]
    assert every.sum() == pytest.approx(6.0)  # 588% published: normalised to the six slots


def test_a_csv_row_holds_a_mean_an_sd_and_a_percent_and_every_bad_one_is_named() -> None:
    numbers = parse_csv(b"\xef\xbb\xbfDriver,Projection,SD,Ownership\nA One,40,8,12.5%\nB Two,,,3\n\n")
    assert numbers.projections["A One"].mean == 40 and numbers.projections["A One"].sd == 8
    assert numbers.ownership == {"A One": 12.5, "B Two": 3.0} and "B Two" not in numbers.projections
    with pytest.raises(PlayerNumbersError) as error:
        parse_csv(b"driver,mean,sd\nA,inf,\nB,,4\n,5,\nC,501,\n")
    text = str(error.value)
    assert "row 2, column mean: A: mean 'inf' is not a finite number" in text
    assert "row 3, column sd: B: an sd needs a mean" in text and "row 4, column driver" in text
    assert "row 5, column mean: C: mean" in text
    with pytest.raises(PlayerNumbersError, match="adds up to 700%"):
        parse_csv(("driver,ownership\n" + "".join(f"D{k},70\n" for k in range(10))).encode())
    with pytest.raises(PlayerNumbersError, match="not UTF-8"):
        parse_csv(b"driver,mean\n\xff\xfe,1\n")


def test_ownership_is_part_of_the_spec_key_and_older_specs_keep_theirs() -> None:
    from nascar_dfs.core.scenarios.spec import ConstraintSpec

    plain = ConstraintSpec()
    assert "ownership" not in plain.canonical_json()  # specs without it keep their partitions
    one = ConstraintSpec(ownership={"Driver 01": 20.0})
    other = ConstraintSpec(ownership={"Driver 01": 21.0})
    assert len({plain.key, one.key, other.key}) == 3
    assert ConstraintSpec.model_validate_json(one.canonical_json()).key == one.key


def test_the_mean_and_leverage_objectives_rank_on_the_players_numbers() -> None:
    from nascar_dfs.core.contest.slate import pool_with_player_numbers
    from nascar_dfs.core.optimizer import build_portfolio
    from nascar_dfs.core.scenarios.spec import ConstraintSpec
    from nascar_dfs_tests.core.optimizer.helpers import small_pool, small_scenarios

    pool = small_pool(14, with_ownership=False)  # a slate without projected ownership
    scenarios = small_scenarios(pool, n=200)
    best = pool.names[int(pool.projections.argmax())]
    worst = pool.names[int(pool.projections.argmin())]
    spec = ConstraintSpec(lineups=1, objective="leverage", projections={worst: {"mean": 500.0}})
    with pytest.raises(ValueError, match="needs projected ownership"):
        build_portfolio(pool, spec, scenarios)
    faded = spec.model_copy(update={"ownership": {best: 100.0}})
    moved = pool_with_player_numbers(pool, faded, scenarios)
    assert moved.projections[pool.names.index(worst)] == 500.0
    assert moved.ownership[pool.names.index(best)] == 1.0 and moved.ownership.sum() == pytest.approx(6.0)
    lineup = build_portfolio(moved, faded, scenarios).lineups[0]
    assert worst in lineup.drivers  # the player's 500 points
    # The player's ownership moves the leverage lineup: their best driver faded at 100%, kept at 0%.
    for share, kept in ((100.0, False), (0.0, True)):
        own = ConstraintSpec(lineups=1, objective="leverage", ownership={best: share})
        lineup = build_portfolio(pool_with_player_numbers(pool, own, scenarios), own, scenarios).lineups[0]
        assert (best in lineup.drivers) is kept, (share, lineup.drivers)


def test_row_numbers_count_the_files_lines_blank_ones_too() -> None:
    with pytest.raises(PlayerNumbersError, match=r"row 4, column mean: B: mean 'x'"):
        parse_csv(b"driver,mean\nA,1\n\nB,x\n")
