"""The Dagster definitions of nascar_dfs: one folder per area (calibration, lineups, contest, graph).

`nascar_dfs.definitions` loads the folder as `dg` does: every module's assets, checks, jobs,
schedules and sensors, so a new area or module needs no registration. What the areas share lives
in `nascar_dfs.platform`; the science they call, in `nascar_dfs.core`.
"""
