from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nascar_dfs.core.scenarios.kernel import simulate
from nascar_dfs.core.scenarios.validate import OutcomeError, validate_outcome, validate_scenarios


def _race_arrays(results, race_id):
    race = results[results["race_id"] == race_id]
    return {
        "finish": race["finish"].to_numpy(dtype=np.int64, copy=True),
        "dnf": race["status"].to_numpy(dtype=str),
        "laps_completed": race["laps"].to_numpy(dtype=np.int64, copy=True),
        "laps_led": race["laps_led"].to_numpy(dtype=np.int64, copy=True),
        "fastest_laps": race["fastest_laps"].fillna(0).to_numpy(dtype=np.int64),
    }


def test_every_real_points_race_is_accepted(history):
    races = history.points_races()
    assert len(races) == 360
    for race_id, race in history.results.groupby("race_id"):
        laps = int(races.loc[races["race_id"] == race_id, "laps"].iloc[0])
        validate_outcome(
            race["finish"].to_numpy(dtype=np.int64),
            race["status"].to_numpy(dtype=str),
            race["laps"].to_numpy(dtype=np.int64),
            race["laps_led"].to_numpy(dtype=np.int64),
            race["fastest_laps"].fillna(0).to_numpy(dtype=np.int64),
            laps,
            label=str(race_id),
        )


@pytest.fixture
def kansas_2024(history):
    races = history.points_races()
    laps = int(races.loc[races["race_id"] == "2024-cup-kansas-1", "laps"].iloc[0])
    return _race_arrays(history.results, "2024-cup-kansas-1"), laps


def test_duplicate_finishing_position_is_rejected(kansas_2024):
    arrays, laps = kansas_2024
    arrays["finish"][1] = arrays["finish"][0]
    with pytest.raises(OutcomeError, match=r"finishing positions are not 1\.\.38 once each: \[1, 1, 3"):
        validate_outcome(**arrays, race_laps=laps)


def test_car_with_more_laps_classified_behind_is_rejected(kansas_2024):
    arrays, laps = kansas_2024
    order = np.argsort(arrays["finish"])
    # Swap the winner with the last car (fewest laps): three or more cars would have to be demoted.
    first, last = order[0], order[-1]
    arrays["finish"][first], arrays["finish"][last] = arrays["finish"][last], arrays["finish"][first]
    with pytest.raises(OutcomeError, match="classified by laps completed"):
        validate_outcome(**arrays, race_laps=laps)


def test_leading_more_laps_than_completed_is_rejected(kansas_2024):
    arrays, laps = kansas_2024
    j = int(np.argmin(arrays["laps_completed"]))
    arrays["laps_led"][j] = arrays["laps_completed"][j] + 1
    with pytest.raises(OutcomeError, match=r"led \d+ laps but completed only"):
        validate_outcome(**arrays, race_laps=laps)


def test_laps_led_beyond_the_race_is_rejected(kansas_2024):
    arrays, laps = kansas_2024
    winner = int(np.argmin(arrays["finish"]))
    arrays["laps_led"][winner] += 5
    with pytest.raises(OutcomeError, match="laps led add up to"):
        validate_outcome(**arrays, race_laps=laps)


@pytest.fixture(scope="module")
def small_set(kansas, kansas_params, dominance):
    return simulate(kansas_params, kansas, dominance, n=200, seed=8)


def test_simulated_sets_pass_and_tampered_ones_fail(small_set, kansas):
    validate_scenarios(small_set, kansas.laps)
    led = small_set.laps_led.copy()
    led[3, 0] += 1  # one lap too many in scenario 3
    with pytest.raises(OutcomeError, match="row 3: laps led add up to"):
        validate_scenarios(replace(small_set, laps_led=led), kansas.laps)
    fastest = small_set.fastest_laps.copy()
    fastest[7] = 0
    with pytest.raises(OutcomeError, match="row 7: fastest laps add up to 0"):
        validate_scenarios(replace(small_set, fastest_laps=fastest), kansas.laps)


def test_running_car_behind_a_dnf_is_rejected_in_simulations(small_set, kansas):
    row = int(np.flatnonzero(small_set.dnf.any(axis=1))[0])
    dnf = small_set.dnf.copy()
    last_running = int(np.argmax(np.where(dnf[row], 0, small_set.finish[row])))
    first_dnf = int(np.argmin(np.where(dnf[row], small_set.finish[row], 99)))
    finish = small_set.finish.copy()
    finish[row, last_running], finish[row, first_dnf] = finish[row, first_dnf], finish[row, last_running]
    with pytest.raises(OutcomeError, match=f"row {row}"):
        validate_scenarios(replace(small_set, finish=finish), kansas.laps)
