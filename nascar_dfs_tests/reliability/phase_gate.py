"""A phase hook that holds a pipeline phase open, for the fault-injection tests.

test_lineup_faults.py cancels or kills a real lineup request *during* a given phase. On two shared
cores a phase lasts from milliseconds (optimizing a few lineups) to minutes (a fit under load), so
without a hold such a test could not hit the phase it names. This resource replaces the platform's
no-op `phase_hooks` in pipeline_defs.py: at the start of a phase it writes `<phase>.reached` into
its gate folder and then waits while `<phase>.hold` exists, at most MAX_HOLD_S.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from nascar_dfs.platform.hooks import PhaseHooks

GATE_DIR_ENV = "NASCAR_DFS_TEST_PHASE_GATE_DIR"  # set by the tests in their Dagster processes
MAX_HOLD_S = 300.0


class GatedPhaseHooks(PhaseHooks):
    gate_dir: str

    def reached(self, phase: str) -> None:
        super().reached(phase)
        gate = Path(self.gate_dir)
        # The pid tells the test which process is inside the phase (the run worker, or its step
        # process under the multiprocess executor).
        # Written aside and renamed, so a test that sees the file also sees the pid in it.
        pending = gate / f".{phase}.reached.{os.getpid()}"
        pending.write_text(f"{os.getpid()}\n")
        pending.replace(gate / f"{phase}.reached")
        deadline = time.monotonic() + MAX_HOLD_S
        while (gate / f"{phase}.hold").exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # interruptible: a cancel or SIGTERM ends the wait like any step code
