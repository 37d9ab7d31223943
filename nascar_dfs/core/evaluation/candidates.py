"""The product's candidate forecasters, and their scores on one completed race.

Both candidates forecast a race from what was known before it: the model is the fit stored for that
race (trained on the races before it), the ranked replay replays the drivers' races before it. Each
simulates the race's actual field (its real starts) and is scored on its own scenarios with the fair
CRPS the backtest uses (metrics.py), so the product's choice (selection.py) reads the same figures the
backtest reports.
"""

from __future__ import annotations

from typing import Any

from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.evaluation.backtest import observed_outcome, results_before
from nascar_dfs.core.evaluation.metrics import crps_ensemble
from nascar_dfs.core.scenarios.forecasters import Forecaster, ModelForecaster, RankedReplay


def candidate_forecasters(model: Any, history: RaceHistory, race_id: str) -> dict[str, Forecaster]:
    """The model fitted for ``race_id`` and the ranked replay of the races before it, by name."""
    replay = RankedReplay(results_before(history, race_id))
    return {f.name: f for f in (ModelForecaster(model), replay)}


def score_candidates(
    model: Any, history: RaceHistory, race_id: str, scenarios: int, seed: int
) -> dict[str, Any]:
    """Fair finish and DK-points CRPS (means over the field) of each candidate on a completed race."""
    if not history.has_results(race_id):
        raise ValueError(f"race {race_id} has no results to score the forecasters on")
    race_field = field_from_history(history, race_id)
    observed = observed_outcome(history, race_field)
    finish, dk = {}, {}
    for name, forecaster in candidate_forecasters(model, history, race_id).items():
        sims = forecaster.simulate(race_field, scenarios, seed)
        finish[name] = float(crps_ensemble(sims.finish, observed.finish).mean())
        dk[name] = float(crps_ensemble(sims.dk_points, observed.dk_points).mean())
    race = history.points_races().set_index("race_id").loc[race_id]
    return {
        "race": race_id,
        "season": int(race["season"]),
        "race_num": int(race["race_num"]),
        "track_type": race_field.track_type,
        "finish_crps": finish,
        "dk_crps": dk,
    }
