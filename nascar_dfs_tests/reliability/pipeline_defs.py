"""The platform's real code location (every asset, check and job of nascar_dfs) with a short MCMC
chain and a phase gate, for the fault-injection tests that break a real lineup request.

Only two resources differ from nascar_dfs.definitions: fit_settings, as in `nascar-dfs demo --quick`
but shorter still (the tests need *a* calibrated model to run the lineup pipeline on, not a good
one, and a default fit takes minutes on two shared cores), and phase_hooks, which holds a phase
open while the test's hold file exists (phase_gate.py; the gate folder comes from the environment
the tests give their Dagster processes).
"""

import dagster as dg

from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform.resources import FitSettings
from nascar_dfs_tests.reliability.phase_gate import GATE_DIR_ENV, GatedPhaseHooks

SHORT_FIT = {
    "chains": 2,
    "tune": 60,
    "draws": 60,
    "cores": 1,
    # A 60-draw chain does not mix; these thresholds only keep the fit from being rejected.
    "max_rhat": 10.0,
    "min_ess_bulk": 1.0,
    "max_divergences": 1000,
}

defs = build_definitions(
    {
        "fit_settings": FitSettings(**SHORT_FIT),
        "phase_hooks": GatedPhaseHooks(gate_dir=dg.EnvVar(GATE_DIR_ENV)),
    }
)
