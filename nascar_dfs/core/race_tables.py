"""What a player reads about one race x spec, as plain tables: the drivers' simulated projections,
the portfolio's lineups and exposures, and the spec in words.

Pure functions over the scenario set, the player pool and the portfolio; the platform shows them in
the Dagster UI (nascar_dfs/platform/materializations.py wraps them as table metadata).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nascar_dfs.core.names import name_key
from nascar_dfs.core.optimizer.build import as_pool, scenario_points
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.portfolio import Portfolio
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.core.scenarios.views import describe_view

ColumnType = Literal["string", "int", "float"]
Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str


@dataclass(frozen=True)
class Table:
    """Rows as dicts keyed by the column names, in display order."""

    columns: tuple[Column, ...]
    rows: tuple[dict[str, Cell], ...]


PROJECTION_COLUMNS = (
    Column("driver", "string", "driver as the race field names them"),
    Column("salary", "int", "DraftKings salary"),
    Column("start", "int", "starting position (empty when the grid was unknown and simulated)"),
    Column("mean_points", "float", "mean DraftKings points over the simulated races"),
    Column("p10_points", "float", "10th percentile of the simulated DraftKings points"),
    Column("p90_points", "float", "90th percentile of the simulated DraftKings points"),
    Column("win_pct", "float", "share of simulated races won, in percent"),
    Column("top5_pct", "float", "share of simulated races finished in the top 5, in percent"),
    Column("mean_laps_led", "float", "mean laps led over the simulated races"),
    Column("ownership_pct", "float", "projected field ownership in percent (empty when unknown)"),
)

LINEUP_COLUMNS = (
    Column("lineup", "int", "lineup number, best first as the build ranked them"),
    Column("drivers", "string", "the six drivers, highest salary first"),
    Column("salary", "int", "total salary"),
    Column("projected_points", "float", "mean simulated DraftKings points (else the slate's projection)"),
    Column("p90_points", "float", "90th percentile of the simulated points (empty without scenarios)"),
)

EXPOSURE_COLUMNS = (
    Column("driver", "string", "driver used by at least one lineup"),
    Column("lineups", "int", "lineups containing the driver"),
    Column("exposure_pct", "float", "share of the portfolio's lineups, in percent"),
    Column("cap_pct", "float", "the spec's maximum exposure for the driver, in percent"),
)


def _round(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def projections_table(players: PlayerPool | Any, scenarios: ScenarioSet) -> Table:
    """One row per slate driver, best simulated mean first: salary, start, DK points mean / p10 /
    p90, win and top-5 shares, mean laps led, and the slate's projected ownership where it has one."""
    pool = as_pool(players)
    points = scenario_points(pool, scenarios)
    # scenario_points has matched every pool driver to a scenario column by name key.
    column = {name_key(name): j for j, name in enumerate(scenarios.drivers)}
    order = np.array([column[name_key(name)] for name in pool.names], dtype=np.int64)
    finish = np.asarray(scenarios.finish)[:, order]
    laps_led = np.asarray(scenarios.laps_led)[:, order]
    starts = np.asarray(scenarios.starts, dtype=np.float64)[order]
    p10, p90 = np.quantile(points, [0.1, 0.9], axis=0)
    mean = points.mean(axis=0)
    rows = [
        {
            "driver": pool.names[i],
            "salary": int(pool.salaries[i]),
            # empty when the grid was unknown and each scenario simulated its own (ScenarioSet.starts NaN)
            "start": None if np.isnan(starts[i]) else int(starts[i]),
            "mean_points": _round(mean[i]),
            "p10_points": _round(p10[i]),
            "p90_points": _round(p90[i]),
            "win_pct": _round(100.0 * np.mean(finish[:, i] == 1), 1),
            "top5_pct": _round(100.0 * np.mean(finish[:, i] <= 5), 1),
            "mean_laps_led": _round(laps_led[:, i].mean(), 1),
            "ownership_pct": None if pool.ownership is None else _round(100.0 * pool.ownership[i], 1),
        }
        for i in np.argsort(-mean, kind="stable")
    ]
    return Table(PROJECTION_COLUMNS, tuple(rows))


def lineups_table(portfolio: Portfolio) -> Table:
    """One row per lineup in the portfolio's order."""
    rows = [
        {
            "lineup": number,
            "drivers": ", ".join(lineup.drivers),
            "salary": lineup.salary,
            "projected_points": _round(lineup.stats.mean if lineup.stats else lineup.projection),
            "p90_points": None if lineup.stats is None else _round(lineup.stats.p90),
        }
        for number, lineup in enumerate(portfolio.lineups, start=1)
    ]
    return Table(LINEUP_COLUMNS, tuple(rows))


def exposures_table(portfolio: Portfolio, spec: ConstraintSpec) -> Table:
    """Every driver the lineups use, most used first, with the spec's cap for them."""
    counts: dict[str, int] = {}
    for lineup in portfolio.lineups:
        for driver in lineup.drivers:
            counts[driver] = counts.get(driver, 0) + 1
    total = len(portfolio.lineups)
    rows = [
        {
            "driver": driver,
            "lineups": count,
            "exposure_pct": _round(100.0 * count / total, 1),
            "cap_pct": _round(100.0 * spec.driver_bounds(driver).max, 1),
        }
        for driver, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Table(EXPOSURE_COLUMNS, tuple(rows))


def _pct(share: float) -> str:
    return f"{100.0 * share:g}%"


def spec_summary(spec: ConstraintSpec) -> str:
    """The spec in words, as Markdown: what the partition asks for."""
    lines = [
        f"**{spec.lineups} lineup{'s' if spec.lineups != 1 else ''}**, objective `{spec.objective}`"
        + (f" (target {spec.target_score:g} points)" if spec.target_score is not None else "")
        + f", built on {spec.scenarios:,} simulated races",
        f"- any two lineups differ by at least {spec.min_unique} driver{'s' if spec.min_unique != 1 else ''}",
        f"- exposure per driver: at most {_pct(spec.max_exposure)}"
        + (f", at least {_pct(spec.min_exposure)}" if spec.min_exposure > 0 else ""),
    ]
    for driver, bounds in sorted(spec.exposures.items()):
        lines.append(f"- {driver}: exposure between {_pct(bounds.min)} and {_pct(bounds.max)}")
    if spec.locks:
        lines.append(f"- locked in every lineup: {', '.join(spec.locks)}")
    if spec.excludes:
        lines.append(f"- excluded: {', '.join(spec.excludes)}")
    if spec.min_salary is not None or spec.max_salary is not None:
        low = f"${spec.min_salary:,}" if spec.min_salary is not None else "any"
        high = f"${spec.max_salary:,}" if spec.max_salary is not None else "the cap"
        lines.append(f"- salary from {low} to {high}")
    if spec.max_per_team is not None:
        lines.append(f"- at most {spec.max_per_team} drivers of one team")
    for group in spec.groups:
        bounds = [f"at least {group.at_least}" if group.at_least is not None else "",
                  f"at most {group.at_most}" if group.at_most is not None else ""]  # fmt: skip
        lines.append(f"- {' and '.join(b for b in bounds if b)} of {', '.join(group.drivers)} per lineup")
    for view in spec.views:
        lines.append(f"- only races where {describe_view(view)}")
    if spec.projections:
        own = ", ".join(
            f"{name} {p.mean:g}" + (f" ± {p.sd:g}" if p.sd is not None else "")
            for name, p in sorted(spec.projections.items())
        )
        lines.append(f"- the player's own points (simulated points moved to them): {own}")
    if spec.ownership:
        shares = ", ".join(f"{name} {pct:g}%" for name, pct in sorted(spec.ownership.items()))
        lines.append(f"- the player's own ownership (the model's fills the other drivers): {shares}")
    if spec.contest is not None:
        contest = spec.contest
        lines.append(
            f"- picked by simulated ROI for a {contest.entries:,}-entry GPP at ${contest.entry_fee:g}"
            f" (rake {_pct(contest.rake)}, {'default' if not contest.payouts else 'own'} payout table)"
        )
    if spec.slate_version is not None:
        lines.append(f"- on the slate version `{spec.slate_version}`")
    lines.append(f"\nspec `{spec.key}`: `{spec.canonical_json()}`")
    return "\n".join(lines)
