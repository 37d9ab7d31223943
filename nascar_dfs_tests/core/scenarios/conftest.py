from __future__ import annotations

from pathlib import Path

import pytest

from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.core.scenarios.dominance import DominanceParams, estimate_dominance

# The last race of the shared data: its dominance figures come from every other 2015-2024 race.
LAST_RACE = "2024-cup-phoenix-2"


@pytest.fixture(scope="session")
def history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


@pytest.fixture(scope="session")
def dominance(history: RaceHistory) -> DominanceParams:
    return estimate_dominance(history, LAST_RACE)
