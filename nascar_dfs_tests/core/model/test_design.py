"""Training arrays: the right races, weighted by age, nothing from the target race or later."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.model.design import (
    PACE_SHRINK,
    RACES_PER_SEASON,
    DesignError,
    build_design,
    race_weights,
    recent_pace,
    standardize_starts,
)


def _completed(history: RaceHistory) -> pd.DataFrame:
    races = history.points_races()
    return races[races["race_id"].isin(history.results["race_id"])].reset_index(drop=True)


def _schedule(n: int) -> pd.DataFrame:
    return pd.DataFrame({"race_id": [f"r{i}" for i in range(n)]})


def test_target_and_later_races_weigh_nothing_and_a_season_older_weighs_half() -> None:
    races = _schedule(200)
    w = race_weights(races, "r150", window_seasons=3.0, half_life_seasons=1.0)
    assert np.all(w[150:] == 0.0)
    assert w[149] > 0
    assert w[149 - RACES_PER_SEASON] == pytest.approx(w[149] / 2)
    assert np.all(np.diff(w[:150]) >= 0)  # older races never weigh more


def test_window_keeps_only_the_most_recent_seasons() -> None:
    w = race_weights(_schedule(200), "r150", window_seasons=2.0, half_life_seasons=1.0)
    assert np.count_nonzero(w) == 2 * RACES_PER_SEASON
    assert w[150 - 2 * RACES_PER_SEASON] > 0 and w[150 - 2 * RACES_PER_SEASON - 1] == 0


def test_design_never_reads_the_target_or_later_races(demo_history: RaceHistory) -> None:
    races = _completed(demo_history)
    target = str(races["race_id"].iloc[15])
    later = set(races["race_id"].iloc[15:])
    before = build_design(demo_history, target)
    # scramble every result of the target and later races: the design must not change
    results = demo_history.results.copy()
    hit = results["race_id"].isin(later)
    results.loc[hit, "finish"] = results.loc[hit, "finish"].sample(frac=1, random_state=1).to_numpy()
    results.loc[hit, "status"] = "accident"
    results.loc[hit, "driver"] = "Someone Else " + results.loc[hit, "finish"].astype(str)
    after = build_design(dataclasses.replace(demo_history, results=results), target)
    assert before.race_ids == after.race_ids == tuple(races["race_id"].iloc[:15])
    assert before.index == after.index
    for name, array in before.data_arrays().items():
        np.testing.assert_array_equal(array, after.data_arrays()[name], err_msg=name)


def test_slots_hold_running_cars_in_finish_order_then_the_dnfs(demo_history: RaceHistory) -> None:
    races = _completed(demo_history)
    target = str(races["race_id"].iloc[10])
    design = build_design(demo_history, target)
    for r, race_id in enumerate(design.race_ids):
        rows = demo_history.results[demo_history.results["race_id"] == race_id]
        running = rows[rows["status"] == "running"].sort_values("finish")
        n_run, n_all = len(running), len(rows)
        drivers = [design.index.drivers[i] for i in design.driver[r, :n_run]]
        assert drivers == list(running["driver"])
        assert design.running[r].sum() == n_run and design.running[r, :n_run].all()
        assert design.entered[r].sum() == n_all
        assert design.dnf[r].sum() == n_all - n_run
        assert design.dnf[r, n_run:n_all].all()


def test_padding_adds_empty_zero_weight_races(demo_history: RaceHistory) -> None:
    target = str(_completed(demo_history)["race_id"].iloc[10])
    design = build_design(demo_history, target)
    capacity = design.capacity()
    padded = design.padded(capacity)
    assert padded.driver.shape == (capacity.races, capacity.slots)
    assert capacity.races == 3 * RACES_PER_SEASON  # shapes fixed by the window, not by the target
    assert np.all(padded.weight[design.n_races :] == 0)
    assert padded.entered[design.n_races :].sum() == 0
    with pytest.raises(DesignError, match="smaller"):
        padded.padded(dataclasses.replace(capacity, drivers=1))


def test_unknown_target_and_first_race_are_rejected(demo_history: RaceHistory) -> None:
    with pytest.raises(DesignError, match="not a points race"):
        build_design(demo_history, "1999-cup-nowhere-1")
    first = str(demo_history.points_races()["race_id"].iloc[0])
    with pytest.raises(DesignError, match="no points races before"):
        build_design(demo_history, first)


def test_standardised_starts_are_centred_and_scaled_for_any_field_size() -> None:
    for n in (36, 40):
        z = standardize_starts(np.arange(1, n + 1), n)
        assert z.mean() == pytest.approx(0.0, abs=1e-12)
        assert z.std() == pytest.approx(1.0)
        assert z[0] < 0 < z[-1]


def test_recent_pace_uses_only_earlier_races_and_shrinks_toward_zero() -> None:
    races = _schedule(4)
    # three cars; "c" misses race r1; average running positions 1, 2, 3 give z = +1, 0, -1
    loop = pd.DataFrame(
        {
            "race_id": ["r0", "r0", "r0", "r1", "r1", "r2", "r2", "r2"],
            "driver": ["a", "b", "c", "a", "b", "a", "b", "c"],
            "avg_running_pos": [1.0, 2.0, 3.0, 2.0, 1.0, 3.0, 2.0, 1.0],
        }
    )
    pace = recent_pace(loop, races, pace_races=2)
    assert ("r0", "a") not in pace.index  # nothing is known before a driver's first race
    assert pace[("r1", "a")] == pytest.approx(1.0 / (1 + PACE_SHRINK))
    # before r3: a's last two races r1 (+0.71) and r2 (-1); r0 has dropped out of the window
    z_r1 = 1.0 / np.std([1.0, 2.0], ddof=1) / 2
    assert pace[("r3", "a")] == pytest.approx((-z_r1 - 1.0) / (2 + PACE_SHRINK))
    assert pace[("r2", "c")] == pytest.approx(-1.0 / (1 + PACE_SHRINK))
    # the value before a race never reads that race: changing r3's loop row changes nothing
    later = pd.concat([loop, pd.DataFrame({"race_id": ["r3"], "driver": ["a"], "avg_running_pos": [9.0]})])
    pd.testing.assert_series_equal(recent_pace(later, races, pace_races=2), pace)
    assert recent_pace(None, races).empty
