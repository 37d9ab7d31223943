"""One background numba compile at a time per cache dir; a lock left by a killed filler expires."""

from __future__ import annotations

import os
import time
from pathlib import Path

from nascar_dfs.core.model import background_compile
from nascar_dfs.core.model.background_compile import LOCK_NAME, fill_numba_cache


def test_a_running_filler_keeps_a_second_one_from_starting(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("12345")
    started = fill_numba_cache(tmp_path, design=None, capacity=None, priors=None)  # type: ignore[arg-type]
    assert started is False
    assert not list(tmp_path.glob("nascar-nutpie-fill-*.pickle"))  # no job written, nothing spawned


def test_a_stale_lock_is_taken_over_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_NAME
    lock.write_text("12345")
    assert background_compile._take_lock(lock) is False
    old = time.time() - background_compile._STALE_S - 60
    os.utime(lock, (old, old))
    assert background_compile._take_lock(lock) is True
    assert lock.read_text() == str(os.getpid())
