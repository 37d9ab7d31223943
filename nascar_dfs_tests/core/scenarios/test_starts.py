"""Races whose starting grid is unknown: each scenario simulates its own grid from the drivers'
recent starts, and scores place differential against it (no order is ever assumed)."""

from __future__ import annotations

import dataclasses

import numpy as np

from nascar_dfs.core.data.entry_list import recent_starts
from nascar_dfs.core.scenarios.kernel import simulate
from nascar_dfs.core.scenarios.starts import sample_starts
from nascar_dfs.core.scoring import dk_points


def _is_grid(rows: np.ndarray) -> bool:
    d = rows.shape[1]
    return bool((np.sort(rows, axis=1) == np.arange(1, d + 1)[None, :]).all())


def test_every_simulated_grid_is_a_valid_order_that_follows_recent_form() -> None:
    d = 38
    recent = np.full((d, 10), np.nan)
    recent[0] = 1 / 38  # always on pole
    recent[1, :3] = [36 / 38, 37 / 38, 38 / 38]  # always at the back, three known starts
    recent[2:] = np.linspace(0.05, 0.95, d - 2)[:, None]  # driver 2 = front of the pack ... driver 37 = rear
    # driver 37 is a debutant
    recent[37] = np.nan

    grids = sample_starts(recent, d, 5_000, np.random.default_rng(3))

    assert grids.shape == (5_000, d) and _is_grid(grids)
    assert np.median(grids[:, 0]) <= 2 and np.median(grids[:, 1]) >= 35
    debut = grids[:, 37]
    assert debut.min() <= 3 and debut.max() >= 36  # anywhere on the grid
    assert np.mean(grids[:, 2]) < np.mean(grids[:, 30])


def test_no_recent_start_at_all_is_a_uniform_grid() -> None:
    grids = sample_starts(None, 10, 4_000, np.random.default_rng(0))
    assert _is_grid(grids)
    assert np.allclose(grids.mean(axis=0), 5.5, atol=0.25)


def test_recent_starts_come_from_earlier_races_only(history) -> None:
    recent = recent_starts(history, 2024, 36, ["Kyle Larson", "A Debutant"])
    larson = history.results[
        (history.results["driver"] == "Kyle Larson") & (history.results["season"] == 2024)
    ].sort_values("race_num")
    sizes = history.results.groupby("race_id").size()
    last = larson[larson["race_num"] < 36].iloc[-1]
    assert recent[0, 0] == last["start"] / sizes[last["race_id"]]
    assert np.isnan(recent[1]).all()


def test_scenarios_of_an_unknown_grid_simulate_it_and_score_against_it(
    kansas, kansas_params, dominance, history
):
    field = dataclasses.replace(
        kansas,
        starts=None,
        recent_starts=recent_starts(history, kansas.season, 9, list(kansas.drivers)),
    )
    params = dataclasses.replace(kansas_params, start_slope=np.full(kansas_params.log_worth.shape[0], -0.3))

    scenarios = simulate(params, field, dominance, n=2_000, seed=5)

    assert not scenarios.starts_known and np.isnan(scenarios.starts).all()
    grids = scenarios.simulated_starts.astype(np.int64)
    assert _is_grid(grids) and _is_grid(scenarios.finish.astype(np.int64))
    assert len({tuple(row) for row in grids[:50]}) == 50  # each race its own grid
    expected = dk_points(scenarios.finish, grids, scenarios.laps_led, scenarios.fastest_laps, field.season)
    assert np.allclose(scenarios.dk_points, expected, atol=1e-3)
    again = simulate(params, field, dominance, n=2_000, seed=5)
    assert np.array_equal(again.simulated_starts, scenarios.simulated_starts)


def test_a_known_grid_is_kept_as_is(kansas, kansas_params, dominance) -> None:
    scenarios = simulate(kansas_params, kansas, dominance, n=200, seed=5)
    assert scenarios.starts_known and scenarios.simulated_starts is None
    assert np.array_equal(scenarios.starts, kansas.starts)
