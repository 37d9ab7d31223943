"""The tables a player reads about a race x spec: projections, lineups, exposures, and the spec."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nascar_dfs.core.optimizer import build_portfolio
from nascar_dfs.core.race_tables import exposures_table, lineups_table, projections_table, spec_summary
from nascar_dfs.core.scenarios.spec import ConstraintSpec, DriverProjection, ExposureBounds, FinishTopView
from nascar_dfs_tests.core.optimizer.helpers import small_pool, small_scenarios


def test_projections_follow_the_simulated_races() -> None:
    pool = small_pool(12, with_ownership=False)
    scenarios = small_scenarios(pool, n=200)
    # Driver 03 wins every race and leads 10 laps in each; finishes are otherwise the start order.
    winner = pool.names.index("Driver 03")
    finish = np.tile(np.arange(2, pool.size + 2, dtype=np.int16), (scenarios.n, 1))
    finish[:, winner] = 1
    laps_led = np.zeros_like(scenarios.laps_led)
    laps_led[:, winner] = 10
    scenarios = replace(scenarios, finish=finish, laps_led=laps_led)

    table = projections_table(pool, scenarios)

    assert [c.name for c in table.columns][:3] == ["driver", "salary", "start"]
    means = [row["mean_points"] for row in table.rows]
    assert means == sorted(means, reverse=True) and len(table.rows) == pool.size
    row = next(r for r in table.rows if r["driver"] == "Driver 03")
    points = scenarios.dk_points[:, winner]
    assert row["salary"] == int(pool.salaries[winner]) and row["start"] == winner + 1
    assert row["mean_points"] == pytest.approx(points.mean(), abs=0.01)
    assert row["p10_points"] < row["mean_points"] < row["p90_points"]
    assert row["win_pct"] == 100.0 and row["top5_pct"] == 100.0 and row["mean_laps_led"] == 10.0
    assert all(r["ownership_pct"] is None for r in table.rows)  # no ownership known, none invented
    owned = projections_table(small_pool(12), scenarios)
    assert all(0.0 < r["ownership_pct"] <= 50.0 for r in owned.rows)


def test_lineups_and_exposures_of_a_built_portfolio() -> None:
    pool = small_pool(14)
    scenarios = small_scenarios(pool, n=300)
    spec = ConstraintSpec(
        lineups=5, scenarios=300, max_exposure=0.8, exposures={"Driver 01": ExposureBounds(max=0.4)}
    )
    portfolio = build_portfolio(pool, spec, scenarios)

    lineups = lineups_table(portfolio)
    assert [r["lineup"] for r in lineups.rows] == [1, 2, 3, 4, 5]
    first = portfolio.lineups[0]
    assert lineups.rows[0]["drivers"] == ", ".join(first.drivers)
    assert lineups.rows[0]["salary"] == first.salary <= 50_000
    assert first.stats is not None and lineups.rows[0]["projected_points"] == round(first.stats.mean, 2)

    exposures = exposures_table(portfolio, spec)
    shares = {r["driver"]: r["exposure_pct"] for r in exposures.rows}
    assert shares == {name: round(100 * share, 1) for name, share in portfolio.exposures.items()}
    caps = {r["driver"]: r["cap_pct"] for r in exposures.rows}
    assert all(cap == (40.0 if name == "Driver 01" else 80.0) for name, cap in caps.items())
    assert sum(r["lineups"] for r in exposures.rows) == 5 * 6


def test_spec_summary_says_what_the_partition_asks() -> None:
    spec = ConstraintSpec(
        lineups=20,
        max_exposure=0.6,
        excludes=["Kyle Busch"],
        locks=["Denny Hamlin"],
        objective="mean",
        views=[FinishTopView(driver="Chase Elliott", k=5)],
        projections={"Ryan Blaney": DriverProjection(mean=48.5, sd=12.0)},
    )
    text = spec_summary(spec)
    for phrase in (
        "20 lineups",
        "objective `mean`",
        "at most 60%",
        "locked in every lineup: Denny Hamlin",
        "excluded: Kyle Busch",
        "only races where Chase Elliott finishes top 5",
        "own points (simulated points moved to them): Ryan Blaney 48.5 ± 12",
        spec.key,
    ):
        assert phrase in text, text
