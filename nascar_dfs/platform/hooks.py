"""Phase hooks: an asset tells the `phase_hooks` resource when its phase of the pipeline starts.

The platform's resource only checks the phase name. The fault-injection tests break a real lineup
request *inside* a phase (calibrating, simulating, optimizing), which on two shared cores lasts
from milliseconds to minutes; their own code location (nascar_dfs_tests/reliability/pipeline_defs.py)
supplies a resource that holds a phase open for them, so nothing of theirs lives in the product.
"""

from __future__ import annotations

import dagster as dg

PHASES = ("calibrating", "simulating", "optimizing")


class PhaseHooks(dg.ConfigurableResource):
    """Called at the start of each phase; does nothing else."""

    def reached(self, phase: str) -> None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")
