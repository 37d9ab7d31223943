"""The names the jobs go by: the UI, the API, the plan and the run history know them by these.

The jobs themselves are defined in nascar_dfs/defs/calibration/jobs.py, nascar_dfs/defs/lineups/jobs.py
and nascar_dfs/defs/lineups/reoptimize.py; what each job builds is read from the definitions (plan.py).
"""

CALIBRATION_JOB = "calibration_job"
LINEUP_JOB = "lineup_job"
FEED_JOB = "feed_job"
REOPTIMIZE_JOB = "reoptimize_job"
