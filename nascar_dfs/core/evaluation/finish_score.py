"""One completed race scored as the calibration checks score a model: the model's simulated
finishing order and the naive baseline's against the official finish (fair ensemble CRPS, lower is
better), plus the model's randomized PIT values. Built from the same pieces as the walk-forward
backtest (backtest.py), which refits before each race; here the model is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.evaluation.backtest import observed_outcome, results_before
from nascar_dfs.core.evaluation.baseline import naive_baseline
from nascar_dfs.core.evaluation.metrics import crps_ensemble, pit_randomized
from nascar_dfs.core.scenarios.kernel import simulate_for_spec
from nascar_dfs.core.scenarios.spec import ConstraintSpec


def score_finish(model: Any, history: RaceHistory, race_id: str, scenarios: int, seed: int) -> dict[str, Any]:
    """{race, crps, baseline_crps, pit}: mean finish CRPS of the fitted model (`FittedModel`) and of
    the naive baseline over the race's drivers, and the model's PIT per driver (4 decimals)."""
    race_field = field_from_history(history, race_id)
    sims = simulate_for_spec(model, race_field, ConstraintSpec(scenarios=scenarios), seed)
    observed = observed_outcome(history, race_field)
    base = naive_baseline(results_before(history, race_id), race_field)
    pit = pit_randomized(sims.finish, observed.finish, np.random.default_rng(seed))
    return {
        "race": race_id,
        "crps": float(crps_ensemble(sims.finish, observed.finish).mean()),
        "baseline_crps": float(crps_ensemble(base.finish, observed.finish).mean()),
        "pit": [round(float(u), 4) for u in pit],
    }
