"""The platform's real code location (every asset, check and job of nascar_dfs) with a short MCMC
chain, for the fault-injection tests that break a real lineup request.

Only the fit_settings resource differs from nascar_dfs.definitions, as in `nascar-dfs demo --quick`
but shorter still: the tests need *a* calibrated model to run the lineup pipeline on, not a good
one, and a default fit takes minutes on two shared cores.
"""

from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform.resources import FitSettings

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

defs = build_definitions({"fit_settings": FitSettings(**SHORT_FIT)})
