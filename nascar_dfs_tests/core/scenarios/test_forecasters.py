"""The ranked replay: each driver's recent races turned into valid joint races of today's field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.field import Field
from nascar_dfs.core.scenarios.forecasters import RankedReplay
from nascar_dfs.core.scenarios.validate import validate_scenarios

LAPS = 200
REGULARS = ["Ace", "Backmarker", *[f"Mid {i}" for i in range(18)]]


def replay_history(races: int = 14, seed: int = 3) -> pd.DataFrame:
    """`races` races of 20 cars: Ace always finishes 1st-3rd and leads most laps, Backmarker is always
    last and fails every other race; the rest finish in random order, a few failing."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(races):
        ace = int(rng.integers(1, 4))
        finish = {"Ace": ace, "Backmarker": 20}
        others = [p for p in range(1, 20) if p != ace]
        for name, place in zip(REGULARS[2:], rng.permutation(others), strict=False):
            finish[name] = int(place)
        fastest_left = 150
        for name, place in finish.items():
            failed = (name == "Backmarker" and k % 2 == 0) or (name.startswith("Mid") and place >= 18)
            led = 120 if name == "Ace" else (80 if place == 1 else 0)
            fastest = 60 if name == "Ace" else min(fastest_left, 5)
            fastest_left -= fastest
            rows.append(
                {
                    "race_id": f"2024-cup-test-{k + 1}",
                    "season": 2024,
                    "race_num": k + 1,
                    "driver": name,
                    "finish": place,
                    "laps": int(rng.integers(20, LAPS)) if failed else LAPS,
                    "status": "accident" if failed else "running",
                    "laps_led": led,
                    "fastest_laps": fastest,
                }
            )
    return pd.DataFrame(rows)


def target_field() -> Field:
    drivers = (*REGULARS, "Rookie")  # Rookie has no earlier race: he gets the baseline's fallback pool
    size = len(drivers)
    return Field(
        race_id="2024-cup-test-99",
        season=2024,
        track_slug="test",
        track_type="intermediate",
        laps=LAPS,
        drivers=drivers,
        teams=("T",) * size,
        manufacturers=("Ford",) * size,
        starts=np.arange(1, size + 1),
    )


@pytest.fixture(scope="module")
def replayed():
    return RankedReplay(replay_history()).simulate(target_field(), n=3000, seed=7)


def test_every_replayed_scenario_is_a_valid_race(replayed):
    field = target_field()

    validate_scenarios(replayed, field.laps)  # raises naming the broken rule

    assert np.array_equal(np.sort(replayed.finish, axis=1), np.tile(np.arange(1, field.size + 1), (3000, 1)))
    assert np.all(replayed.laps_led.sum(axis=1) == LAPS)
    assert np.array_equal(replayed.fastest_laps.sum(axis=1), replayed.green_laps)
    assert replayed.dnf.any(), "the replayed races' failures are kept"
    worst_running = np.where(replayed.dnf, 0, replayed.finish).max(axis=1)
    best_failed = np.where(replayed.dnf, replayed.finish, 99).min(axis=1)
    assert np.all(worst_running < best_failed)  # failed cars are classified behind the running ones


def test_the_replay_follows_each_drivers_history(replayed):
    drivers = list(replayed.drivers)
    ace, back = drivers.index("Ace"), drivers.index("Backmarker")

    assert replayed.finish[:, ace].mean() < 3.5
    assert np.mean(replayed.finish[:, ace] <= 3) > 0.7
    assert replayed.finish[:, back].mean() > 18
    # Backmarker failed in half his races, and so he does in about half the scenarios.
    assert replayed.dnf[:, back].mean() == pytest.approx(0.5, abs=0.05)
    # Ace led 120 of 200 laps in every race: he leads most laps of the replayed races too.
    assert replayed.laps_led[:, ace].mean() > 0.4 * LAPS
    assert replayed.dk_points[:, ace].mean() > replayed.dk_points[:, back].mean() + 30


def test_the_same_seed_gives_the_same_races_and_another_seed_others():
    history, field = replay_history(), target_field()

    first = RankedReplay(history).simulate(field, n=200, seed=5)
    again = RankedReplay(history).simulate(field, n=200, seed=5)
    other = RankedReplay(history).simulate(field, n=200, seed=6)

    for part in ("finish", "dnf", "laps_completed", "laps_led", "fastest_laps", "green_laps", "dk_points"):
        assert np.array_equal(getattr(first, part), getattr(again, part)), part
    assert not np.array_equal(first.finish, other.finish)


def test_a_replay_of_results_without_laps_or_status_is_refused_by_name():
    history = replay_history().drop(columns=["status"])

    with pytest.raises(ValueError, match="laps and status"):
        RankedReplay(history).simulate(target_field(), n=10, seed=0)
