"""A contest for one race's slate: projected ownership, the field, and the report of a portfolio.

These are the steps the platform runs for a race x spec whose spec names a contest, in the pool's
driver order throughout (`as_pool(slate)`), with the slate's simulated races as the only source of
points: the user's lineups and the field are scored in the same races.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from nascar_dfs.core.contest.opponents import SimulatedField, simulate_field
from nascar_dfs.core.contest.ownership import (
    DEFAULT_MEAN_SPEND,
    SLOTS,
    OwnershipModel,
    as_ownership_fractions,
    budget_tilted,
)
from nascar_dfs.core.contest.selection import DEFAULT_SELECTION_RACES, held_out_report
from nascar_dfs.core.contest.simulate import ContestReport
from nascar_dfs.core.contest.spec import ContestSpec
from nascar_dfs.core.names import name_key
from nascar_dfs.core.optimizer import PlayerPool, scenario_points
from nascar_dfs.core.optimizer.build import as_pool
from nascar_dfs.core.player_numbers import with_player_ownership
from nascar_dfs.core.scenarios.types import ScenarioSet

OWNERSHIP_COLUMNS = ("name", "dk_id", "salary", "projection", "start", "ownership", "source")
PLAYER_SOURCE = "player"  # the source of a share the player gave (the spec's ownership)
FIELD_CHECK_SIGMAS = 4.0  # binomial standard errors a driver's share may stray by chance alone


def slate_ownership(
    players: PlayerPool | Any,
    scenarios: ScenarioSet,
    model: OwnershipModel | None = None,
    given: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Projected field ownership per slate driver (pool order), one row each: OWNERSHIP_COLUMNS.

    The slate's own "Projected Ownership" column is used when every driver has one (source
    "slate"); otherwise the ownership model (default coefficients unless ``model``) on salary, the
    simulated mean DraftKings points and the start position (source "model"), tilted so the
    average lineup spends DEFAULT_MEAN_SPEND when the slate's prices allow it.

    ``given`` is the player's own ownership (driver -> percent, a spec's ``ownership``): those
    drivers get it (source "player"), the others the shares above rescaled to fill the rest of the
    six slots (core/player_numbers.py, `with_player_ownership`).
    """
    pool = as_pool(players)
    points = scenario_points(pool, scenarios)
    projection = points.mean(axis=0).astype(np.float64)
    start_of = {name_key(n): float(s) for n, s in zip(scenarios.drivers, scenarios.starts, strict=True)}
    start = np.array([start_of.get(name_key(n), np.nan) for n in pool.names])
    known = np.isfinite(start)
    start = np.where(known, start, start[known].mean() if known.any() else 0.0)
    salary = pool.salaries.astype(np.float64)
    cheapest, dearest = np.sort(salary)[:SLOTS].sum(), np.sort(salary)[-SLOTS:].sum()
    # A slate whose six dearest drivers cost less than the usual spend (or one flat price) cannot be
    # tilted towards it; the field then spends what the ownership implies.
    spend = DEFAULT_MEAN_SPEND if cheapest < DEFAULT_MEAN_SPEND < dearest else None
    if pool.ownership is not None and _usable(pool.ownership):
        ownership, source = as_ownership_fractions(pool.ownership), "slate"
        if spend is not None and ownership @ salary > spend:
            # Published projections need not add up to a lineup under the cap (the demo slate's imply
            # $58,800 on average); valid lineups cannot follow them, so they are tilted along salary
            # until they do, keeping their order among drivers of one price.
            ownership = budget_tilted(np.log(np.maximum(ownership, 1e-6)), salary, SLOTS, spend)
            source = "slate, budget-tilted"
    else:
        ownership = (model or OwnershipModel.default()).project(salary, projection, start, mean_spend=spend)
        source = "model"
    sources = np.full(pool.size, source, dtype=object)
    if given:
        ownership, mine = with_player_ownership(pool.names, ownership, given)
        sources[mine] = PLAYER_SOURCE
    return pd.DataFrame(
        {
            "name": list(pool.names),
            "dk_id": pool.dk_ids.astype(np.int64),
            "salary": pool.salaries.astype(np.int64),
            "projection": np.round(projection, 4),
            "start": start,
            "ownership": ownership,
            "source": sources,
        }
    )


def _usable(ownership: np.ndarray) -> bool:
    try:
        as_ownership_fractions(ownership)
    except ValueError:
        return False
    return True


def contest_field(ownership: pd.DataFrame, contest: ContestSpec, lineups: int, seed: int) -> SimulatedField:
    """The opponents: ``contest.entries - lineups`` valid lineups drawn from the projected ownership."""
    if lineups >= contest.entries:
        raise ValueError(
            f"a {contest.entries}-entry contest has no room for a field beside {lineups} lineups"
        )
    return simulate_field(
        ownership["ownership"].to_numpy(dtype=np.float64),
        ownership["salary"].to_numpy(dtype=np.int64),
        contest.entries - lineups,
        seed=seed,
    )


def field_check(field: SimulatedField, tolerance: float, names: list[str]) -> tuple[bool, dict[str, Any]]:
    """The field's ownership against its projection, allowing for the sampling noise of its size."""
    ok, figures = field.ownership_check(tolerance, sampling_sigmas=FIELD_CHECK_SIGMAS)
    worst = int(figures.pop("worst_driver_index"))
    return ok, {
        **figures,
        "worst_driver": names[worst],
        "worst_driver_projected": float(field.target[worst]),
        "worst_driver_simulated": float(field.ownership[worst]),
        "sampling_sigmas": FIELD_CHECK_SIGMAS,
        "field_entries": field.size,
        "share_salary_49k_plus": field.share_salary_at_least(49_000),
    }


def portfolio_report(
    players: PlayerPool | Any,
    scenarios: ScenarioSet,
    lineup_dk_ids: list[list[int]],
    field: SimulatedField,
    contest: ContestSpec,
    *,
    search_races: int = DEFAULT_SELECTION_RACES,
) -> tuple[ContestReport, bool]:
    """The lineups (DraftKings ids) and the field played in the scenario set's races; (report, in_sample).

    The first ``search_races`` races are left out when enough remain: the lineups were picked on them.
    """
    pool = as_pool(players)
    points = scenario_points(pool, scenarios)
    rows = np.array([np.sort(pool.index_of_dk_id(ids, "the lineups")) for ids in lineup_dk_ids])
    return held_out_report(points, rows, field.lineups, contest, search_races)


def report_dict(
    report: ContestReport,
    in_sample: bool,
    lineups: list[dict[str, Any]],
    field_figures: dict[str, Any],
    field_passed: bool,
) -> dict[str, Any]:
    """JSON-ready: the contest, the portfolio and every lineup (each with its drivers), the field.

    ``lineups`` holds {"drivers", "dk_ids"} per lineup, in the report's order.
    """
    body = report.to_dict()
    body["contest"]["prize_pool"] = report.contest.prize_pool
    body["contest"]["paid_places"] = int(np.count_nonzero(report.contest.prize_by_place()))
    body["in_sample"] = in_sample
    body["lineups"] = [{**who, **result} for who, result in zip(lineups, body["lineups"], strict=True)]
    body["field"] = {**field_figures, "ownership_check_passed": field_passed}
    return body


def contest_report(
    slate: Any,
    scenarios: ScenarioSet,
    portfolio: Any,
    field: SimulatedField,
    contest: ContestSpec,
    tolerance: float,
) -> dict[str, Any]:
    """The portfolio (an optimizer `Portfolio`) and the field played in the scenario set's races, as
    JSON-ready figures, with the field's ownership check so a reader of the report sees it too."""
    names = list(as_pool(slate).names)
    passed, figures = field_check(field, tolerance, names)
    ids = [list(lineup.dk_ids) for lineup in portfolio.lineups]
    report, in_sample = portfolio_report(slate, scenarios, ids, field, contest)
    who = [{"drivers": list(lineup.drivers), "dk_ids": list(lineup.dk_ids)} for lineup in portfolio.lineups]
    return report_dict(report, in_sample, who, figures, passed)


def pool_with_player_numbers(players: PlayerPool | Any, spec: Any, scenarios: ScenarioSet) -> PlayerPool:
    """The pool the objectives rank on, with the player's numbers of the spec where it gives them:
    their mean as the named drivers' projection (the "mean" and "leverage" objectives; the scenario
    objective reads the scenarios, already moved to it), and with the spec's ownership the projected
    ownership of every driver (the player's shares, the model's for the rest: `slate_ownership`)."""
    pool = as_pool(players)
    if spec.projections:
        values = pool.projections.astype(np.float64).copy()
        index = {name_key(n): j for j, n in enumerate(pool.names)}
        for name, projection in spec.projections.items():
            if name_key(name) in index:  # an unknown name failed the scenario set already
                values[index[name_key(name)]] = projection.mean
        pool = replace(pool, projections=values)
    if spec.ownership:
        frame = slate_ownership(pool, scenarios, given=spec.ownership)
        pool = replace(pool, ownership=frame["ownership"].to_numpy(dtype=np.float64))
    return pool
