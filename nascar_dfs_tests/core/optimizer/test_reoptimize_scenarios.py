"""Re-optimization on the race's simulated races: the replacement is the one the scenarios favour,
not the one the slate's projections favour, and every entry stays a legal DraftKings entry."""

from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.data.draftkings import DKEntries, DKEntry
from nascar_dfs.core.optimizer import PlayerPool, UnknownDriverError, build_portfolio, reoptimize_entries
from nascar_dfs.core.optimizer.reoptimize import starts_with_rear
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet

KEPT = ("Kept A", "Kept B", "Kept C", "Kept D", "Kept E")


def _pool(projections: dict[str, float], salaries: dict[str, int]) -> PlayerPool:
    names = tuple(projections)
    return PlayerPool(
        names=names,
        dk_ids=np.arange(5000, 5000 + len(names), dtype=np.int64),
        salaries=np.array([salaries[n] for n in names], dtype=np.int64),
        teams=tuple(f"T{i}" for i in range(len(names))),
        projections=np.array([projections[n] for n in names], dtype=np.float64),
    )


def _scenarios(pool: PlayerPool, points: np.ndarray) -> ScenarioSet:
    n, d = points.shape
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
        dk_points=points.astype(np.float32),
        seed=0,
        draws=n,
        rejection_rate=0.0,
    )


def _entries(pool: PlayerPool, lineups: list[tuple[str, ...]]) -> DKEntries:
    ids = dict(zip(pool.names, pool.dk_ids.tolist(), strict=True))
    return DKEntries(
        entries=tuple(
            DKEntry(str(7000 + i), f"Classic {i}", str(190000 + i), "$3", tuple(ids[n] for n in lineup))
            for i, lineup in enumerate(lineups)
        ),
        source="DKEntries.csv",
    )


def _names(pool: PlayerPool, lineup: tuple[int, ...] | None) -> set[str]:
    assert lineup is not None
    by_id = dict(zip(pool.dk_ids.tolist(), pool.names, strict=True))
    return {by_id[i] for i in lineup}


def _swap_slate() -> tuple[PlayerPool, dict[str, int]]:
    """Five kept drivers, the out driver, and two candidates for his seat."""
    projections = dict.fromkeys(KEPT, 20.0) | {"Gone": 40.0, "Pricey Pick": 50.0, "Cheap Pick": 30.0}
    salaries = dict.fromkeys(KEPT, 6000) | {"Gone": 9000, "Pricey Pick": 10_000, "Cheap Pick": 5000}
    pool = _pool(projections, salaries)
    return pool, {name: i for i, name in enumerate(pool.names)}


def test_the_replacement_is_the_driver_the_scenarios_favour_not_the_slate_projection() -> None:
    pool, col = _swap_slate()
    rng = np.random.default_rng(3)
    points = rng.normal(20.0, 5.0, (400, pool.size))
    points[:, col["Pricey Pick"]] = rng.normal(18.0, 5.0, 400)  # projected 50, simulated ~18
    points[:, col["Cheap Pick"]] = rng.normal(45.0, 5.0, 400)  # projected 30, simulated ~45
    entries = _entries(pool, [(*KEPT[:3], "Gone", *KEPT[3:])])
    spec = ConstraintSpec(lineups=1, objective="mean")

    plain = reoptimize_entries(entries, pool, ["Gone"], spec)
    on_scenarios = reoptimize_entries(entries, pool, ["Gone"], spec, scenarios=_scenarios(pool, points))

    assert _names(pool, plain.entries[0].lineup) == {*KEPT, "Pricey Pick"}  # what projections alone pick
    assert _names(pool, on_scenarios.entries[0].lineup) == {*KEPT, "Cheap Pick"}
    # The newcomer takes the out driver's cell; the kept drivers keep theirs.
    assert on_scenarios.entries[0].lineup[3] == int(pool.dk_ids[col["Cheap Pick"]])
    assert on_scenarios.entries[0].lineup[:3] == entries.entries[0].lineup[:3]


def test_the_scenario_objective_takes_the_cheap_boom_driver_with_the_lower_mean() -> None:
    pool, col = _swap_slate()
    n = 400
    points = np.full((n, pool.size), 20.0)  # the five kept drivers: 100 points in every race
    points[:, col["Pricey Pick"]] = 40.0  # mean 40, never reaches the target
    boom = np.zeros(n)
    boom[: n // 2] = 70.0
    points[:, col["Cheap Pick"]] = boom  # mean 35, half the races at 70
    entries = _entries(pool, [(*KEPT, "Gone")])
    scenarios = _scenarios(pool, points)

    by_mean = reoptimize_entries(
        entries, pool, ["Gone"], ConstraintSpec(lineups=1, objective="mean"), scenarios=scenarios
    )
    by_coverage = reoptimize_entries(
        entries, pool, ["Gone"], ConstraintSpec(lineups=1, objective="scenario", target_score=160.0),
        scenarios=scenarios,
    )  # fmt: skip

    assert _names(pool, by_mean.entries[0].lineup) == {*KEPT, "Pricey Pick"}
    assert _names(pool, by_coverage.entries[0].lineup) == {*KEPT, "Cheap Pick"}


@pytest.mark.parametrize("objective", ["scenario", "mean"])
def test_every_entry_stays_legal_with_its_id_and_contest(bench_pool: PlayerPool, objective: str) -> None:
    rng = np.random.default_rng(11)
    points = bench_pool.projections[None, :] + rng.normal(0.0, 12.0, (300, bench_pool.size))
    scenarios = _scenarios(bench_pool, points)
    spec = ConstraintSpec(lineups=12, max_exposure=0.7, objective=objective)
    built = build_portfolio(bench_pool, spec, scenarios=scenarios)
    entries = _entries(bench_pool, [lineup.drivers for lineup in built.lineups])
    out = [next(iter(built.exposures)), built.lineups[-1].drivers[0]]

    swapped = reoptimize_entries(entries, bench_pool, out, spec, scenarios=scenarios)

    salary = dict(zip(bench_pool.dk_ids.tolist(), bench_pool.salaries.tolist(), strict=True))
    out_ids = {int(bench_pool.dk_ids[bench_pool.names.index(name)]) for name in out}
    for before, after in zip(entries.entries, swapped.entries, strict=True):
        assert (after.entry_id, after.contest_name, after.contest_id, after.entry_fee) == (
            before.entry_id, before.contest_name, before.contest_id, before.entry_fee,
        )  # fmt: skip
        assert after.lineup is not None and len(set(after.lineup)) == 6
        assert not set(after.lineup) & out_ids
        assert sum(salary[i] for i in after.lineup) <= 50_000
        kept = [i for i in before.lineup if i not in out_ids]
        assert [after.lineup[before.lineup.index(i)] for i in kept] == kept
    assert len({frozenset(e.lineup) for e in swapped.entries}) == len(entries.entries)


def test_an_unknown_out_driver_is_named() -> None:
    pool, _ = _swap_slate()
    entries = _entries(pool, [(*KEPT, "Gone")])
    with pytest.raises(UnknownDriverError, match="Nobody Known"):
        reoptimize_entries(entries, pool, ["Nobody Known"], ConstraintSpec(lineups=1, objective="mean"))


def test_drivers_sent_to_the_rear_start_last_and_the_others_move_up() -> None:
    starts = {"A": 1, "B": 2, "C": 3, "D": 4}
    assert starts_with_rear(starts, ["b"]) == {"A": 1, "C": 2, "D": 3, "B": 4}
    with pytest.raises(UnknownDriverError, match="Z"):
        starts_with_rear(starts, ["Z"])
