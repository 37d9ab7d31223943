import dagster as dg

from nascar_dfs.defs.lineups.assets import dk_upload_csv, lineups, scenario_set
from nascar_dfs.defs.lineups.jobs import lineup_job

defs = dg.Definitions(assets=[scenario_set, lineups, dk_upload_csv], jobs=[lineup_job])
