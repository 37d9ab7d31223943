"""The candidates' scores on a completed race of the shared data, as the calibration asset reads them.

The model is a stand-in with the FittedModel surface the kernel uses (field_params, dominance): a real
fit takes minutes, and what is under test here is the scoring of both candidates on the race's field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.core.evaluation.candidates import score_candidates
from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.dominance import estimate_dominance

RACE = "2024-cup-martinsville-2"


@dataclass(frozen=True)
class StartOrderModel:
    """Better starters are stronger; every car fails with probability 0.1."""

    dominance: dict[str, Any]
    strength: float

    def field_params(self, field: Field, seed: int) -> FieldParams:
        worth = -self.strength * np.linspace(-1.5, 1.5, field.size)[np.asarray(field.starts) - 1]
        return FieldParams(log_worth=worth[None, :], dnf_prob=np.full((1, field.size), 0.1))


@pytest.fixture(scope="module")
def history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


def test_both_candidates_are_scored_on_the_races_field_and_a_sharper_model_scores_differently(history):
    dominance = estimate_dominance(history, RACE).to_dict()

    flat = score_candidates(StartOrderModel(dominance, 0.0), history, RACE, scenarios=500, seed=3)
    informed = score_candidates(StartOrderModel(dominance, 1.0), history, RACE, scenarios=500, seed=3)

    assert (flat["race"], flat["track_type"], flat["season"], flat["race_num"]) == (RACE, "short", 2024, 35)
    assert set(flat["finish_crps"]) == set(flat["dk_crps"]) == {"model", "replay"}
    # A model that knows nothing (every order equally likely) loses to the drivers' own history.
    assert flat["finish_crps"]["replay"] < flat["finish_crps"]["model"]
    assert informed["finish_crps"]["model"] < flat["finish_crps"]["model"]
    assert informed["finish_crps"]["replay"] == flat["finish_crps"]["replay"]  # same seed, same replay
