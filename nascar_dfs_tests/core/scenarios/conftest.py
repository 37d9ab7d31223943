from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.dominance import DominanceParams, estimate_dominance

# The last race of the shared data: its dominance figures come from the races before it.
LAST_RACE = "2024-cup-phoenix-2"
# One real 2024 field per track type (drivers, starts, laps) for plausible simulated races.
FIELD_RACES = {
    "superspeedway": "2024-cup-talladega-1",
    "intermediate": "2024-cup-kansas-1",
    "short": "2024-cup-martinsville-1",
    "road": "2024-cup-sonoma-1",
    "dirt": "2024-cup-bristol-1",  # no 2024 dirt race: a short-track field relabelled below
}


@pytest.fixture(scope="session")
def history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


@pytest.fixture(scope="session")
def dominance(history: RaceHistory) -> DominanceParams:
    return estimate_dominance(history, LAST_RACE)


@pytest.fixture(scope="session")
def recent_race_stats(history: RaceHistory) -> pd.DataFrame:
    """Per-race dominance figures and DNF share of the 2019-2024 points races."""
    from nascar_dfs.core.scenarios.dominance import race_dominance_stats

    races = history.points_races()
    stats = race_dominance_stats(races, history.results)
    seasons = races.set_index("race_id")["season"]
    return stats[seasons.reindex(stats.index) >= 2019]


def plausible_params(field: Field, dnf_rate: float, draws: int = 400, seed: int = 11) -> FieldParams:
    """Synthetic posterior: better starters are stronger (log-worth sd ~1), with per-draw noise."""
    rng = np.random.default_rng(seed)
    base = -np.linspace(-1.5, 1.5, field.size)[np.asarray(field.starts) - 1]
    log_worth = base[None, :] + rng.normal(0.0, 0.4, (draws, field.size))
    dnf_prob = np.clip(rng.normal(dnf_rate, 0.02, (draws, field.size)), 0.01, 0.9)
    return FieldParams(log_worth=log_worth, dnf_prob=dnf_prob)


@pytest.fixture(scope="session")
def make_params():
    """plausible_params as a fixture (test modules here are not a package, so they cannot import it)."""
    return plausible_params


@pytest.fixture(scope="session")
def fields(history: RaceHistory) -> dict[str, Field]:
    out = {}
    for track_type, race_id in FIELD_RACES.items():
        field = field_from_history(history, race_id)
        out[track_type] = Field(**{**field.__dict__, "track_type": track_type})
    return out


@pytest.fixture(scope="session")
def kansas(fields: dict[str, Field]) -> Field:
    return fields["intermediate"]


@pytest.fixture(scope="session")
def kansas_params(kansas: Field) -> FieldParams:
    return plausible_params(kansas, dnf_rate=0.12)
