"""The scenario kernel: simulated races of one field, optionally conditioned on a user's views.

One simulated race, vectorized over scenarios and drivers:
1. pick a posterior draw; each car's performance is its log-worth plus a Gumbel shock (minus one
   for a reverse Plackett-Luce model, ``FieldParams.likelihood``), so the order of performances is a
   Plackett-Luce draw (Gumbel-max) and gives every car a latent rank;
2. DNFs ~ Bernoulli(dnf_prob) (if every car failed, the best one is kept running), each failing on a
   uniformly drawn lap; running cars finish in performance order, then DNFs by laps completed
   (ties by performance);
3. laps led and fastest laps from the allocators of ``allocation.py`` with the track type's
   ``DominanceParams``; DraftKings points with ``dk_points``.

Views are applied by rejection: batches are drawn and scenarios failing any view dropped, until n are kept
or the draw budget is spent. A preview batch estimates the acceptance first, so a spec whose views cannot
be met within the budget fails at once with ImpossibleViewsError.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.names import name_key
from nascar_dfs.core.scenarios.dominance import DominanceParams
from nascar_dfs.core.scenarios.simulation import Outcomes, simulate_batch
from nascar_dfs.core.scenarios.spec import ConstraintSpec, DriverProjection, View
from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.core.scenarios.validate import OutcomeError, outcome_problems
from nascar_dfs.core.scenarios.views import (
    Acceptance,
    ImpossibleViewsError,
    check_view_drivers,
    parse_views,
    views_mask,
)

DEFAULT_BUDGET_FACTOR = 50  # draws allowed per requested scenario under views
PREVIEW_BATCH = 2000
MAX_BATCH = 20_000  # bounds memory: one batch of 20k x 40 cars is a few tens of MB
MAX_FIELD = 43


def _check_inputs(params: FieldParams, field: Field, n: int) -> None:
    if params.log_worth.shape[1] != field.size:
        raise ValueError(f"params cover {params.log_worth.shape[1]} drivers, the field {field.size}")
    if params.log_worth.shape[0] == 0:
        raise ValueError("params hold no posterior draws")
    if not (2 <= field.size <= MAX_FIELD):
        raise ValueError(f"a field needs 2..{MAX_FIELD} cars, got {field.size}")
    if n < 1:
        raise ValueError(f"number of scenarios must be positive, got {n}")
    if not np.all(np.isfinite(params.log_worth)):
        raise ValueError("log_worth holds non-finite values")
    if np.any((params.dnf_prob < 0) | (params.dnf_prob > 1)) or not np.all(np.isfinite(params.dnf_prob)):
        raise ValueError("dnf_prob must lie in [0, 1]")


def _validated(outcomes: Outcomes, field: Field) -> Outcomes:
    problems = outcome_problems(
        outcomes.finish,
        outcomes.dnf,
        outcomes.laps_completed,
        outcomes.laps_led,
        outcomes.fastest_laps,
        field.laps,
        green_laps=outcomes.green_laps,
        simulated=True,
    )
    if problems:
        raise OutcomeError(f"kernel produced impossible races for {field.race_id}: " + "; ".join(problems))
    return outcomes


def _acceptance(kept: int, draws: int, elapsed: float) -> Acceptance:
    rate = kept / draws
    return Acceptance(
        rate=rate, stderr=math.sqrt(max(rate * (1 - rate), 0.0) / draws), draws=draws, elapsed_s=elapsed
    )


def preview_acceptance(
    params: FieldParams,
    field: Field,
    dominance: DominanceParams,
    views: Sequence[View | dict],
    seed: int,
    batch: int = PREVIEW_BATCH,
) -> Acceptance:
    """Estimated share of scenarios satisfying every view, from one unconstrained batch."""
    parsed = parse_views(views)
    _check_inputs(params, field, batch)
    check_view_drivers(parsed, field)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    out = simulate_batch(params, field, dominance.for_track(field.track_type), batch, rng)
    kept = int(views_mask(parsed, field, out.finish, out.dnf, out.laps_led).sum())
    return _acceptance(kept, batch, time.perf_counter() - started)


def simulate(
    params: FieldParams,
    field: Field,
    dominance: DominanceParams,
    n: int,
    seed: int,
    views: Sequence[View | dict] = (),
    max_draws: int | None = None,
) -> ScenarioSet:
    """n simulated races of the field satisfying every view; same inputs and seed -> same arrays."""
    _check_inputs(params, field, n)
    dom = dominance.for_track(field.track_type)
    return simulate_with(
        lambda size, rng: simulate_batch(params, field, dom, size, rng), field, n, seed, views, max_draws
    )


BatchDraw = Callable[[int, np.random.Generator], Outcomes]


def simulate_with(
    draw: BatchDraw,
    field: Field,
    n: int,
    seed: int,
    views: Sequence[View | dict] = (),
    max_draws: int | None = None,
) -> ScenarioSet:
    """n races from ``draw(size, rng)`` (any generator of valid races, e.g. the ranked replay of
    forecasters.py) satisfying every view, by the rejection described in the module docstring."""
    parsed = parse_views(views)
    if n < 1:
        raise ValueError(f"number of scenarios must be positive, got {n}")
    check_view_drivers(parsed, field)
    budget = max_draws if max_draws is not None else DEFAULT_BUDGET_FACTOR * n
    if budget < n:
        raise ValueError(f"max_draws {budget} is below the {n} scenarios requested")
    rng = np.random.default_rng(seed)

    if not parsed:
        parts = [_validated(draw(min(MAX_BATCH, n - done), rng), field) for done in range(0, n, MAX_BATCH)]
        return _scenario_set(field, Outcomes.concat(parts), seed, draws=n, accepted=n)

    # The preview batch is the first batch of the run, so its draws count and its keepers are kept.
    started = time.perf_counter()
    first = _validated(draw(min(PREVIEW_BATCH, budget), rng), field)
    keep = views_mask(parsed, field, first.finish, first.dnf, first.laps_led)
    preview = _acceptance(int(keep.sum()), len(keep), time.perf_counter() - started)
    # Refuse when even an optimistic acceptance (rate + 2 stderr) cannot reach n within the budget.
    optimistic = preview.rate + 2 * preview.stderr if preview.rate > 0 else 0.0
    if optimistic * budget < n:
        raise ImpossibleViewsError(preview, parsed, n, budget)

    parts, accepted, draws = [first.select(keep)], int(keep.sum()), preview.draws
    while accepted < n and draws < budget:
        rate = max(accepted / draws, 1.0 / draws)
        size = int(min(MAX_BATCH, budget - draws, max(1000, math.ceil(1.2 * (n - accepted) / rate))))
        batch = _validated(draw(size, rng), field)
        keep = views_mask(parsed, field, batch.finish, batch.dnf, batch.laps_led)
        parts.append(batch.select(keep))
        accepted += int(keep.sum())
        draws += size
    if accepted < n:
        raise ImpossibleViewsError(
            _acceptance(accepted, draws, time.perf_counter() - started), parsed, n, budget
        )
    kept = Outcomes.concat(parts).select(np.arange(n))
    return _scenario_set(field, kept, seed, draws=draws, accepted=accepted)


def _scenario_set(field: Field, out: Outcomes, seed: int, draws: int, accepted: int) -> ScenarioSet:
    known = field.starts is not None
    return ScenarioSet(
        race_id=field.race_id,
        drivers=field.drivers,
        starts=np.asarray(field.starts, dtype=np.int64) if known else np.full(field.size, np.nan),
        finish=out.finish,
        dnf=out.dnf,
        laps_completed=out.laps_completed,
        laps_led=out.laps_led,
        fastest_laps=out.fastest_laps,
        green_laps=out.green_laps,
        dk_points=out.dk_points,
        seed=seed,
        draws=draws,
        rejection_rate=1.0 - accepted / draws,
        starts_known=known,
        simulated_starts=None if known else out.starts,
    )


def check_projection_drivers(projections: Mapping[str, object], drivers: Sequence[str], race_id: str) -> None:
    """Raise ValueError listing every projected driver that is not in the race's field."""
    known = {name_key(name) for name in drivers}
    unknown = sorted(name for name in projections if name_key(name) not in known)
    if unknown:
        raise ValueError(f"projections name drivers not in the field of {race_id}: {', '.join(unknown)}")


def with_projections(scenarios: ScenarioSet, projections: Mapping[str, DriverProjection]) -> ScenarioSet:
    """The scenarios with the player's own points: each named driver's simulated DraftKings points
    are shifted to the given mean and, with an sd, scaled about it. A driver's points keep their
    order across the races, so every race stays the same race (the finish, the laps led, who wrecked
    with whom) and the dependence between drivers is unchanged; only the points' level and spread
    follow the player. Names not in the scenarios' field are an error naming each."""
    if not projections:
        return scenarios
    check_projection_drivers(projections, scenarios.drivers, scenarios.race_id)
    column = {name_key(name): j for j, name in enumerate(scenarios.drivers)}
    points = np.array(scenarios.dk_points, dtype=np.float64)
    for name, projection in projections.items():
        j = column[name_key(name)]
        simulated = points[:, j]
        centred = simulated - simulated.mean()
        spread = simulated.std()
        if projection.sd is not None and spread > 0:
            centred *= projection.sd / spread
        points[:, j] = projection.mean + centred
    return replace(scenarios, dk_points=points.astype(np.float32))


def simulate_for_spec(model: Any, field: Field, spec: ConstraintSpec, seed: int) -> ScenarioSet:
    """Scenarios of a fitted model (``FittedModel``) for the field under the spec's views."""
    check_projection_drivers(spec.projections, field.drivers, field.race_id)  # before the costly part
    params = model.field_params(field, seed=seed)
    dominance = DominanceParams.from_dict(model.dominance)
    scenarios = simulate(params, field, dominance, n=spec.scenarios, seed=seed, views=spec.views)
    return with_projections(scenarios, spec.projections)
