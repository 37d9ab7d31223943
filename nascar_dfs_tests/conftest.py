from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NASCAR_DFS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data" / "nascar"))
BENCH_DATA = SHARED_DATA.parent / "bench"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real NASCAR history (read-only, never copied into the repo)."""
    if not (SHARED_DATA / "cup_results.csv").exists():
        pytest.fail(f"shared data not found at {SHARED_DATA}; set NASCAR_DFS_SHARED_DATA")
    return SHARED_DATA
