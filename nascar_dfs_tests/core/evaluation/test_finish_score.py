"""Scoring a given model on one completed race, as the calibration checks do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.core.evaluation.finish_score import score_finish
from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.dominance import estimate_dominance

RACE = "2024-cup-phoenix-2"
DRAWS = 40


@pytest.fixture(scope="module")
def history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


@dataclass
class StandInModel:
    """A fitted model's two faces the kernel uses: per-driver log-worth and the dominance figures."""

    log_worth: dict[str, float]
    dominance: dict[str, Any]

    def field_params(self, field: Field, seed: int = 0) -> FieldParams:
        row = np.array([self.log_worth[d] for d in field.drivers])
        return FieldParams(np.tile(row, (DRAWS, 1)), np.full((DRAWS, field.size), 0.02))


def _models(history: RaceHistory) -> tuple[StandInModel, StandInModel]:
    field = field_from_history(history, RACE)
    finish = history.results_for(RACE).set_index("driver").loc[list(field.drivers), "finish"]
    dominance = estimate_dominance(history, RACE).to_dict()
    knows_the_result = StandInModel({d: -0.3 * float(finish[d]) for d in field.drivers}, dominance)
    knows_nothing = StandInModel(dict.fromkeys(field.drivers, 0.0), dominance)
    return knows_the_result, knows_nothing


def test_a_model_that_knew_the_finish_beats_the_baseline_and_one_that_knew_nothing(history) -> None:
    oracle, blind = _models(history)

    good = score_finish(oracle, history, RACE, scenarios=400, seed=5)
    bad = score_finish(blind, history, RACE, scenarios=400, seed=5)

    assert good["race"] == RACE and set(good) == {"race", "crps", "baseline_crps", "pit"}
    assert good["baseline_crps"] == bad["baseline_crps"]  # the baseline does not depend on the model
    assert good["crps"] < good["baseline_crps"] < bad["crps"]
    drivers = field_from_history(history, RACE).size
    assert len(good["pit"]) == drivers and all(0.0 <= u <= 1.0 for u in good["pit"])


def test_the_same_seed_scores_the_same(history) -> None:
    oracle, _ = _models(history)
    assert score_finish(oracle, history, RACE, 200, seed=9) == score_finish(
        oracle, history, RACE, 200, seed=9
    )
