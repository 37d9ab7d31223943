from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.evaluation.baseline import naive_baseline
from nascar_dfs.core.field import Field


def result_row(
    season: int, race_num: int, driver: str, finish: int, led: int = 0, fastest: float = 0.0
) -> dict:
    return {
        "race_id": f"{season}-cup-test-{race_num}",
        "season": season,
        "race_num": race_num,
        "driver": driver,
        "finish": finish,
        "laps_led": led,
        "fastest_laps": fastest,
    }


def tiny_history() -> pd.DataFrame:
    """15 races (8 in 2022, 7 in 2023). Alpha runs all, finishing n-th in his n-th race; Bravo runs
    three; Charlie debuts in 2023 and runs two."""
    rows = []
    schedule = [(2022, n) for n in range(1, 9)] + [(2023, n) for n in range(1, 8)]
    for k, (season, race_num) in enumerate(schedule, start=1):
        rows.append(result_row(season, race_num, "Alpha", finish=k, led=k, fastest=np.nan if k < 3 else 1))
    rows += [result_row(2022, n, "Bravo", finish=30 + n) for n in (1, 2, 3)]
    rows += [result_row(2023, 1, "Charlie", finish=7, led=2), result_row(2023, 2, "Charlie", finish=9)]
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=4).reset_index(drop=True)  # order must not matter


def target_field(size: int = 20) -> Field:
    drivers = ("Alpha", "Bravo", "Delta", *[f"Filler {i}" for i in range(size - 3)])
    return Field(
        race_id="2024-cup-test-1",
        season=2024,
        track_slug="test",
        track_type="intermediate",
        laps=200,
        drivers=drivers,
        teams=("T",) * size,
        manufacturers=("Ford",) * size,
        starts=np.arange(size, 0, -1),  # Alpha starts last (20th), Bravo 19th, Delta 18th
    )


def test_uses_the_last_twelve_races_in_schedule_order() -> None:
    forecast = naive_baseline(tiny_history(), target_field())
    alpha = forecast.finish[:, 0]
    assert sorted(alpha[~np.isnan(alpha)]) == list(range(4, 16))
    assert forecast.members[0] == 12


def test_dk_points_are_scored_from_the_current_start() -> None:
    forecast = naive_baseline(tiny_history(), target_field())
    alpha_finish = forecast.finish[:, 0]
    # Alpha's 5th race: finished 5th, led 5 laps, 1 fastest lap. From today's 20th start under 2024
    # scoring: 39 (5th) + 15 (20 - 5) + 1.25 + 0.45 = 55.70.
    row = np.flatnonzero(alpha_finish == 5)[0]
    assert forecast.dk_points[row, 0] == pytest.approx(55.70)


def test_missing_fastest_laps_count_as_zero() -> None:
    forecast = naive_baseline(tiny_history(), target_field(), n_recent=15)
    row = np.flatnonzero(forecast.finish[:, 0] == 1)[0]
    # 1st from 20th, led 1 lap, fastest laps unknown (pre-2019 style): 45 + 19 + 0.25
    assert forecast.dk_points[row, 0] == pytest.approx(64.25)


def test_driver_with_few_races_uses_what_he_has() -> None:
    forecast = naive_baseline(tiny_history(), target_field())
    bravo = forecast.finish[:, 1]
    assert forecast.members[1] == 3
    # 31st..33rd in a 20-car field can only be last place
    assert sorted(bravo[~np.isnan(bravo)]) == [20, 20, 20]
    assert not forecast.fallback[1]


def test_newcomer_gets_the_debutants_pool() -> None:
    forecast = naive_baseline(tiny_history(), target_field())
    delta = forecast.finish[:, 2]
    assert forecast.fallback[2]
    # only Charlie debuted after the history's first season: his two early starts are the pool
    assert sorted(delta[~np.isnan(delta)]) == [7, 9]
    row = np.flatnonzero(delta == 7)[0]
    # 7th from Delta's 18th start, 2 laps led: 37 + 11 + 0.5
    assert forecast.dk_points[row, 2] == pytest.approx(48.5)


def test_without_debutants_the_pool_is_every_earlier_result() -> None:
    history = tiny_history()
    history = history[history["driver"] != "Charlie"]
    forecast = naive_baseline(history, target_field())
    assert forecast.members[2] == len(history)


def test_rejects_results_that_include_the_target_race() -> None:
    history = pd.concat([tiny_history(), pd.DataFrame([result_row(2024, 1, "Alpha", finish=3)])])
    with pytest.raises(ValueError, match="target race"):
        naive_baseline(history, target_field())


def test_rejects_empty_or_incomplete_results() -> None:
    with pytest.raises(ValueError, match="no results"):
        naive_baseline(tiny_history().iloc[:0], target_field())
    with pytest.raises(ValueError, match="laps_led"):
        naive_baseline(tiny_history().drop(columns="laps_led"), target_field())


def test_smoothed_replay_spreads_each_drivers_finishes_over_neighbouring_places() -> None:
    from nascar_dfs.core.evaluation.baseline import smoothed_baseline
    from nascar_dfs.core.evaluation.metrics import crps_ensemble

    field = target_field()
    base = naive_baseline(tiny_history(), field)
    smooth = smoothed_baseline(base, np.random.default_rng(0), members=4000)
    assert smooth.finish.shape == (4000, field.size) and not np.isnan(smooth.finish).any()
    assert smooth.finish.min() >= 1 and smooth.finish.max() <= field.size
    # Alpha's 12 replayed finishes (4..15) keep their centre; the kernel fills the places between
    alpha = field.drivers.index("Alpha")
    assert np.mean(smooth.finish[:, alpha]) == pytest.approx(np.nanmean(base.finish[:, alpha]), abs=0.3)
    assert np.std(smooth.finish[:, alpha]) > np.nanstd(base.finish[:, alpha])
    # Bravo (three finishes 31..33, clipped to the 20-car field) stays at the back
    bravo = field.drivers.index("Bravo")
    assert smooth.finish[:, bravo].mean() > 18
    # laps led ride along with the replayed race, so a driver who never led still leads nothing
    assert np.all(smooth.laps_led[:, bravo] == 0)
    assert crps_ensemble(smooth.finish, np.full(field.size, 10.0)).shape == (field.size,)
