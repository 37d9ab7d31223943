"""A full-length fit on the real history (slow: excluded from the default run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import load_history
from nascar_dfs.core.model.fit import FitConfig, fit_model


@pytest.mark.slow
def test_default_fit_of_the_last_2024_race_converges_and_ranks_the_field(shared_data_dir: Path) -> None:
    history = load_history(shared_data_dir)
    races = history.points_races()
    target = str(races[races["season"] == 2024]["race_id"].iloc[-1])
    model = fit_model(history, target, FitConfig())  # raises FitError if the default thresholds fail
    assert model.diagnostics.n_races == 108
    race_field = field_from_history(history, target)
    params = model.field_params(race_field)
    assert params.log_worth.shape == (model.n_draws, race_field.size)
    # the predicted strength must order the real result better than chance
    finish = history.results_for(target).set_index("driver").loc[list(race_field.drivers), "finish"]
    strength = params.log_worth.mean(axis=0)
    predicted_rank = np.argsort(np.argsort(-strength))
    rank_corr = np.corrcoef(predicted_rank, np.argsort(np.argsort(finish.to_numpy())))[0, 1]
    assert rank_corr > 0.2
    dnf = params.dnf_prob.mean(axis=0)
    assert 0.03 < dnf.mean() < 0.3  # Cup DNF rate is ~13% (cup_results 2015-2024)
