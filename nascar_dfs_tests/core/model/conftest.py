from __future__ import annotations

import pytest

from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.data.history import RaceHistory, load_history


@pytest.fixture(scope="session")
def demo_history() -> RaceHistory:
    """The SYNTHETIC demo history (Plackett-Luce generated, shipped with the package)."""
    return load_history(DEMO_DIR)
