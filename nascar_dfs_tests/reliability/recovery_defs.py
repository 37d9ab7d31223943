"""The code location of test_recovery.py: the platform's pipeline with a short chain (pipeline_defs.py),
plus a hold that keeps a run STARTING.

A run is STARTING from its launch until its run worker has loaded the code location and begun
executing; the run worker (a process the code server spawns) imports this module in between. When
the phase-gate folder of the tests (NASCAR_DFS_TEST_PHASE_GATE_DIR) holds `starting.hold`, a run
worker importing this module writes `starting.reached` (its pid) and waits while the file exists,
at most MAX_HOLD_S, so the test can crash the platform while the run is still starting. Code
servers import it too, but they are not spawned by multiprocessing and never hold.
"""

import multiprocessing
import os
import time
from pathlib import Path

from .phase_gate import GATE_DIR_ENV, MAX_HOLD_S
from .pipeline_defs import defs

STARTING = "starting"


def _hold_while_starting() -> None:
    root = os.environ.get(GATE_DIR_ENV)
    if not root or multiprocessing.parent_process() is None:
        return
    gate = Path(root)
    if not (gate / f"{STARTING}.hold").exists():
        return
    (gate / f"{STARTING}.reached").write_text(f"{os.getpid()}\n")
    deadline = time.monotonic() + MAX_HOLD_S
    while (gate / f"{STARTING}.hold").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


_hold_while_starting()

__all__ = ["defs"]
