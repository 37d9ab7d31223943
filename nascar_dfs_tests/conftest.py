from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def _isolate_dagster_defs_state() -> Iterator[None]:
    """Every test starts and ends with Dagster's current defs-state storage as it found it.

    Entering a DagsterInstance sets a context variable that later `Definitions` resolution reads
    (dagster 1.13). A storage left there by an earlier test outlives its instance, and once the
    garbage collector frees that instance any `dg.materialize` fails with "undefined DagsterInstance
    weakref" (seen in CI, depending on when the collector ran). A dead one is dropped here.
    """
    from dagster._core.storage.defs_state import base

    prior = base._current_storage.get()
    reference = getattr(prior, "_instance_weakref", None)
    if reference is not None and reference() is None:
        prior = None
        base._current_storage.set(None)
    yield
    base._current_storage.set(prior)
