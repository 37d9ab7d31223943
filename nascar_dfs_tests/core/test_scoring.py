from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.scoring import dk_points, finish_points

# Published DraftKings totals of the 2021 fall Talladega race (DRAFTKINGS.md).
PUBLISHED_TALLADEGA_2021 = {
    "Bubba Wallace": 65.15,
    "Brad Keselowski": 50.70,
    "Kurt Busch": 55.85,
    "Denny Hamlin": 34.30,
    "Kyle Busch": -8.55,
}


def test_reproduces_published_talladega_totals(shared_data_dir):
    results = pd.read_csv(shared_data_dir / "cup_results.csv")
    race = results[results["race_id"] == "2021-cup-talladega-2"].set_index("driver")
    rows = race.loc[list(PUBLISHED_TALLADEGA_2021)]
    points = dk_points(rows["finish"], rows["start"], rows["laps_led"], rows["fastest_laps"], 2021)
    np.testing.assert_allclose(points, list(PUBLISHED_TALLADEGA_2021.values()), atol=1e-9)


def test_2021_table_skips_a_point_after_10th_20th_30th():
    pos = np.arange(1, 41)
    pts = finish_points(pos, 2024)
    assert pts[0] == 45 and pts[1] == 42 and pts[-1] == 1
    drops = -np.diff(pts)
    # positions whose next place loses two points instead of one: 1st (45->42 is 3), 10th, 20th, 30th
    assert drops[0] == 3
    assert sorted(np.flatnonzero(drops == 2) + 1) == [10, 20, 30]
    assert np.all(np.delete(drops, [0, 9, 19, 29]) == 1)
    assert finish_points(41, 2021) == 0


def test_2015_table_runs_to_43rd():
    pts = finish_points(np.arange(1, 44), 2018)
    assert pts[0] == 46 and pts[1] == 42 and pts[2] == 41
    assert pts[39] == 4 and pts[42] == 1
    assert np.all(-np.diff(pts[1:]) == 1)


def test_fastest_lap_value_changes_in_2021():
    before = dk_points(5, 5, 0, 10, 2020) - dk_points(5, 5, 0, 0, 2020)
    after = dk_points(5, 5, 0, 10, 2021) - dk_points(5, 5, 0, 0, 2021)
    assert before == pytest.approx(5.0)
    assert after == pytest.approx(4.5)


def test_broadcasts_scenarios_against_drivers_and_seasons():
    finish = np.array([[1, 2, 3], [3, 2, 1]])  # 2 scenarios x 3 drivers
    start = np.array([3, 2, 1])
    pts = dk_points(finish, start, np.zeros_like(finish), np.zeros_like(finish), 2022)
    assert pts.shape == (2, 3)
    assert pts[0, 0] == 45 + 2 and pts[1, 2] == 45 + 0
    mixed = dk_points(1, 1, 0, 0, np.array([2020, 2021]))
    np.testing.assert_array_equal(mixed, [46, 45])


def test_place_differential_and_laps_led():
    # 20th from 30th gains 10 places; 100 laps led add 25
    assert dk_points(20, 30, 100, 0, 2023) == pytest.approx(23 + 10 + 25)


@pytest.mark.parametrize("finish", [0, 44, 2.5])
def test_rejects_impossible_finishing_positions(finish):
    with pytest.raises(ValueError, match="finishing positions"):
        dk_points(finish, 1, 0, 0, 2022)


def test_rejects_missing_fastest_laps():
    with pytest.raises(ValueError, match="missing"):
        dk_points(1, 1, 0, np.nan, 2018)
