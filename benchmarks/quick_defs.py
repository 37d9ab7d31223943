"""The project's code location with the demo's short MCMC chain (`nascar-dfs demo --quick`), for
benchmarks/api_e2e.py: every asset, job, check and run is the real one; only the calibration's
chain length differs, so the warm-up calibration takes about a minute on two shared cores.
"""

from nascar_dfs.commands.demo import QUICK_FIT
from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform.resources import FitSettings

defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)})
