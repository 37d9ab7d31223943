"""The project's code location with a short MCMC chain, for the end-to-end API tests and the
API benchmark: every asset, job, check and run is the real one; only the calibration's chain
length differs (the demo's `--quick` settings), so a calibration takes about a minute on two
shared cores instead of a quarter of an hour. The API contract under test does not depend on
the chain length; the model's accuracy has its own tests and backtest.
"""

from nascar_dfs.commands.demo import QUICK_FIT
from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform.resources import FitSettings

defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)})
