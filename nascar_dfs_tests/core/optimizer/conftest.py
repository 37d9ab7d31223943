from __future__ import annotations

from pathlib import Path

import pytest

from nascar_dfs.core.data.draftkings import Slate, read_dk_salaries
from nascar_dfs.core.optimizer import PlayerPool, pool_from_slate
from nascar_dfs_tests.conftest import BENCH_DATA


@pytest.fixture(scope="session")
def bench_slate_path() -> Path:
    path = BENCH_DATA / "slate.csv"
    if not path.exists():
        pytest.fail(f"benchmark slate not found at {path}; set NASCAR_DFS_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def bench_slate(bench_slate_path: Path) -> Slate:
    return read_dk_salaries(bench_slate_path)


@pytest.fixture(scope="session")
def bench_pool(bench_slate: Slate) -> PlayerPool:
    return pool_from_slate(bench_slate)
