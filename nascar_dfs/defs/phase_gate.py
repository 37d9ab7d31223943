"""Test-only hold at the start of a pipeline phase; does nothing unless the tests switch it on.

The fault-injection tests (nascar_dfs_tests/reliability/test_lineup_faults.py) cancel or kill a
real lineup request *during* a given phase. On two shared cores a phase lasts from milliseconds
(optimizing a few lineups) to minutes (a fit under load), so without a hold such a test could not
hit the phase it names. When NASCAR_DFS_TEST_PHASE_GATE_DIR is set (only those tests set it, in
their Dagster processes' environment) the asset of a phase writes `<phase>.reached` there and then
waits while `<phase>.hold` exists, at most MAX_HOLD_S. Unset, it is one environment lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

GATE_DIR_ENV = "NASCAR_DFS_TEST_PHASE_GATE_DIR"
PHASES = ("calibrating", "simulating", "optimizing")
MAX_HOLD_S = 300.0


def hold(phase: str) -> None:
    root = os.environ.get(GATE_DIR_ENV)
    if not root:
        return
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")
    gate = Path(root)
    # The pid tells the test which process is inside the phase (the run worker, or its step
    # process under the multiprocess executor).
    (gate / f"{phase}.reached").write_text(f"{os.getpid()}\n")
    deadline = time.monotonic() + MAX_HOLD_S
    while (gate / f"{phase}.hold").exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # interruptible: a cancel or SIGTERM ends the wait like any step code
