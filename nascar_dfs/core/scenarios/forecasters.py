"""Forecasters: generators of valid joint races for a field, the model and a ranked replay.

The product builds its scenarios from whichever forecaster scores best on the latest completed races
(core/evaluation/selection.py). Each forecaster yields a ScenarioSet through the kernel's rejection and
validation (kernel.simulate_with), so every candidate's races obey the same rules: one finishing order
per scenario, DNFs behind the running cars, laps led adding up to the race's laps and fastest laps to
the scenario's green laps.

The ranked replay turns the naive 12-race baseline (core/evaluation/baseline.py, its selection and its
fallback for drivers without history) into joint races: in every scenario each driver draws one of his
replayed races, carrying its finish, whether he failed, the share of the laps he completed and his
shares of laps led and fastest laps. The scenario's order is the rank of the drawn finishes (running
cars first, ties at random); laps led and fastest laps are the drawn shares rescaled so the scenario's
totals are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from nascar_dfs.core.evaluation.baseline import N_RECENT, BaselineForecast, naive_baseline
from nascar_dfs.core.field import Field
from nascar_dfs.core.scenarios.allocation import row_ranks
from nascar_dfs.core.scenarios.simulation import Outcomes
from nascar_dfs.core.scenarios.spec import View
from nascar_dfs.core.scenarios.starts import sample_starts
from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.core.scoring import dk_points

MODEL = "model"
REPLAY = "replay"


class Forecaster(Protocol):
    """Something that simulates valid races of a field: same field, n and seed -> same arrays."""

    name: str

    def simulate(self, field: Field, n: int, seed: int, views: Sequence[View | dict] = ()) -> ScenarioSet: ...


@dataclass(frozen=True)
class ModelForecaster:
    """The calibrated race model (a core.model FittedModel) run through the scenario kernel."""

    model: Any
    name: str = MODEL

    def simulate(self, field: Field, n: int, seed: int, views: Sequence[View | dict] = ()) -> ScenarioSet:
        from nascar_dfs.core.scenarios.dominance import DominanceParams
        from nascar_dfs.core.scenarios.kernel import simulate

        params = self.model.field_params(field, seed=seed)
        return simulate(params, field, DominanceParams.from_dict(self.model.dominance), n, seed, views=views)


@dataclass(frozen=True)
class RankedReplay:
    """Each driver's recent races (``results``: earlier races only) replayed as joint, valid races."""

    results: pd.DataFrame
    n_recent: int = N_RECENT
    name: str = REPLAY

    def simulate(self, field: Field, n: int, seed: int, views: Sequence[View | dict] = ()) -> ScenarioSet:
        from nascar_dfs.core.scenarios.kernel import simulate_with

        base = naive_baseline(self.results, field, self.n_recent)
        if base.shares is None:
            raise ValueError("the ranked replay needs the results' laps and status columns")
        return simulate_with(lambda size, rng: replay_batch(base, field, size, rng), field, n, seed, views)


def _largest_remainder(weights: np.ndarray, totals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, D) whole numbers proportional to each row's weights, each row adding up to its total.

    Rows whose weights are all zero need a positive weight somewhere; the caller sees to it.
    """
    raw = weights / weights.sum(axis=1, keepdims=True) * totals[:, None]
    whole = np.floor(raw).astype(np.int64)
    short = totals - whole.sum(axis=1)
    # The largest remainders get the missing units; a jitter far below any remainder step breaks ties.
    rank = row_ranks(-(raw - whole) - 1e-9 * rng.random(raw.shape))
    return whole + (rank < short[:, None])


def _capped(counts: np.ndarray, laps_completed: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Counts above a car's laps completed move to the winner, who ran every lap (total unchanged)."""
    excess = np.maximum(counts - laps_completed, 0)
    counts = counts - excess
    counts[np.arange(len(winner)), winner] += excess.sum(axis=1)
    return counts


def replay_batch(base: BaselineForecast, field: Field, n: int, rng: np.random.Generator) -> Outcomes:
    """n races in which every driver replays one of his baseline races (see the module docstring)."""
    if base.shares is None:
        raise ValueError("the replay lacks its races' shares: build it from results with laps and status")
    d, laps = field.size, field.laps
    rows = np.arange(n)[:, None]
    cols = np.arange(d)[None, :]
    pick = np.floor(rng.random((n, d)) * base.members[None, :]).astype(np.int64)
    drawn_finish = base.finish[pick, cols]
    dnf = base.shares["dnf"][pick, cols] > 0.5
    all_out = dnf.all(axis=1)
    dnf[all_out, np.argmin(drawn_finish[all_out], axis=1)] = False  # someone finishes every race

    # Running cars first, each group by its drawn finish; ties broken at random.
    key = dnf * (2.0 * d) + drawn_finish + rng.random((n, d))
    finish = (row_ranks(key) + 1).astype(np.int16)
    winner = np.argmin(key, axis=1)
    # The failed cars' laps completed, sorted, go down the order of the failed cars, so a car never
    # has more laps than one classified ahead of it (the set of values is the drawn one).
    drawn_laps = np.minimum(np.floor(base.shares["laps_share"][pick, cols] * laps), laps - 1)
    by_place = -np.sort(-np.where(dnf, drawn_laps, laps), axis=1)
    laps_completed = by_place[rows, finish - 1].astype(np.int32)

    led_weight = base.shares["led_share"][pick, cols]
    led_weight[rows[:, 0], winner] += 1e-6  # the winner takes the laps when nobody drew any
    laps_led = _capped(_largest_remainder(led_weight, np.full(n, laps), rng), laps_completed, winner)
    # The winner leads the last lap of every real race (allocation.py): he takes one from the top leader.
    no_lead = laps_led[rows[:, 0], winner] == 0
    top = np.argmax(laps_led, axis=1)
    laps_led[no_lead, top[no_lead]] -= 1
    laps_led[no_lead, winner[no_lead]] += 1

    # Green laps (laps credited with a fastest lap): the mean share of them over the replayed races
    # that recorded fastest laps (2019 on), of every member when no drawn race did.
    green_share = base.shares["green_share"][pick, cols]
    recorded = green_share > 0
    overall = base.shares["green_share"]
    fallback = np.nanmean(np.where(overall > 0, overall, np.nan)) if (overall > 0).any() else 1.0
    mean_share = np.divide(
        green_share.sum(axis=1), recorded.sum(axis=1), out=np.full(n, fallback), where=recorded.any(axis=1)
    )
    green = np.clip(np.rint(mean_share * laps), 1, laps).astype(np.int32)
    # A tiny weight by laps run gives the fastest laps of drivers whose drawn race recorded none.
    fastest_weight = base.shares["fastest_share"][pick, cols] + 1e-6 * (laps_completed / laps)
    fastest = _capped(_largest_remainder(fastest_weight, green.astype(np.int64), rng), laps_completed, winner)

    if field.starts is None:
        starts = sample_starts(field.recent_starts, d, n, rng)
    else:
        starts = np.broadcast_to(np.asarray(field.starts, dtype=np.int64)[None, :], (n, d))
    points = dk_points(finish, starts, laps_led, fastest, field.season)
    return Outcomes(
        finish=finish,
        dnf=dnf,
        laps_completed=laps_completed,
        laps_led=laps_led.astype(np.int32),
        fastest_laps=fastest.astype(np.int32),
        green_laps=green,
        dk_points=points.astype(np.float32),
        starts=starts.astype(np.int16),
    )


def forecast_for_spec(forecaster: Forecaster, field: Field, spec: Any, seed: int) -> ScenarioSet:
    """A forecaster's scenarios of the field under a ConstraintSpec's views and own projections."""
    from nascar_dfs.core.scenarios.kernel import check_projection_drivers, with_projections

    check_projection_drivers(spec.projections, field.drivers, field.race_id)  # before the costly part
    scenarios = forecaster.simulate(field, spec.scenarios, seed, views=spec.views)
    return with_projections(scenarios, spec.projections)
