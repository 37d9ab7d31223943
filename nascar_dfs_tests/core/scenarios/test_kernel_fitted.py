"""The kernel on a real FittedModel (engineer B's fit on the SYNTHETIC demo history): slow."""

from __future__ import annotations

import numpy as np
import pytest

from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import load_history
from nascar_dfs.core.scenarios.kernel import simulate_for_spec
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.validate import validate_scenarios


@pytest.mark.slow
def test_simulate_for_spec_on_a_fitted_demo_model():
    from nascar_dfs.core.model.fit import FitConfig, fit_model

    history = load_history(DEMO_DIR)
    races = history.points_races()
    target = str(races[races["race_id"].isin(history.results["race_id"])]["race_id"].iloc[-1])
    # Loose thresholds: this checks the kernel on a real model, not the quality of the fit.
    config = FitConfig(
        chains=2, tune=300, draws=300, seed=1, max_rhat=1.3, min_ess_bulk=10, max_divergences=50
    )
    model = fit_model(history, target, config)
    field = field_from_history(history, target)

    spec = ConstraintSpec(scenarios=2000)
    sims = simulate_for_spec(model, field, spec, seed=3)
    validate_scenarios(sims, field.laps)
    again = simulate_for_spec(model, field, spec, seed=3)
    np.testing.assert_array_equal(sims.dk_points, again.dk_points)

    # The model's favourite (highest mean log-worth) should out-finish its weakest driver.
    params = model.field_params(field, seed=3)
    strength = params.log_worth.mean(axis=0)
    best, worst = int(np.argmax(strength)), int(np.argmin(strength))
    assert sims.finish[:, best].mean() < sims.finish[:, worst].mean()

    favourite = field.drivers[best]
    viewed = simulate_for_spec(
        model,
        field,
        ConstraintSpec(scenarios=500, views=[{"kind": "finish_top", "driver": favourite, "k": 3}]),
        seed=4,
    )
    assert np.all(viewed.finish[:, best] <= 3) and viewed.rejection_rate > 0


@pytest.mark.slow
def test_a_fitted_model_simulates_an_unknown_grid_into_valid_races():
    import dataclasses

    from nascar_dfs.core.data.entry_list import recent_starts
    from nascar_dfs.core.model.fit import FitConfig, fit_model

    history = load_history(DEMO_DIR)
    races = history.points_races()
    target = str(races[races["race_id"].isin(history.results["race_id"])]["race_id"].iloc[-1])
    config = FitConfig(
        chains=2, tune=300, draws=300, seed=1, max_rhat=1.3, min_ess_bulk=10, max_divergences=50
    )
    model = fit_model(history, target, config)
    known = field_from_history(history, target)
    info = history.race(target)
    field = dataclasses.replace(
        known,
        starts=None,
        recent_starts=recent_starts(history, info.season, info.race_num, list(known.drivers)),
    )

    assert model.field_params(field, seed=3).start_slope is not None
    sims = simulate_for_spec(model, field, ConstraintSpec(scenarios=2000), seed=3)

    validate_scenarios(sims, field.laps)
    grids = sims.simulated_starts.astype(np.int64)
    assert not sims.starts_known
    assert (np.sort(grids, axis=1) == np.arange(1, field.size + 1)[None, :]).all()
