"""Small instances and brute-force references for the optimizer tests."""

from __future__ import annotations

import itertools

import numpy as np

from nascar_dfs.core.optimizer import PlayerPool, RosterRules
from nascar_dfs.core.scenarios.types import ScenarioSet

THREE_SLOTS = RosterRules(slots=3, salary_cap=20_000, positions=("D",) * 3, name="test 3-driver")


def small_pool(n: int = 10, seed: int = 0, with_ownership: bool = True) -> PlayerPool:
    rng = np.random.default_rng(seed)
    return PlayerPool(
        names=tuple(f"Driver {i:02d}" for i in range(n)),
        dk_ids=np.arange(1000, 1000 + n, dtype=np.int64),
        salaries=rng.integers(30, 90, n).astype(np.int64) * 100,
        teams=tuple(f"T{i % 4}" for i in range(n)),
        projections=np.round(rng.uniform(10, 60, n), 2),
        ownership=rng.uniform(0.01, 0.5, n) if with_ownership else None,
    )


def small_scenarios(pool: PlayerPool, n: int = 50, seed: int = 1) -> ScenarioSet:
    rng = np.random.default_rng(seed)
    d = pool.size
    points = (pool.projections[None, :] + rng.normal(0, 15, (n, d))).astype(np.float32)
    zeros = np.zeros((n, d), dtype=np.int32)
    return ScenarioSet(
        race_id="test",
        drivers=pool.names,
        starts=np.arange(1, d + 1),
        finish=np.tile(np.arange(1, d + 1, dtype=np.int16), (n, 1)),
        dnf=np.zeros((n, d), dtype=bool),
        laps_completed=zeros,
        laps_led=zeros,
        fastest_laps=zeros,
        green_laps=np.zeros(n, dtype=np.int32),
        dk_points=points,
        seed=seed,
        draws=n,
        rejection_rate=0.0,
    )


def all_lineups(pool: PlayerPool, rules: RosterRules) -> list[tuple[int, ...]]:
    """Every lineup under the cap, by pool position."""
    return [
        combo
        for combo in itertools.combinations(range(pool.size), rules.slots)
        if pool.salaries[list(combo)].sum() <= rules.salary_cap
    ]


def positions(pool: PlayerPool, drivers: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(pool.names.index(name) for name in drivers))
