import dagster as dg

from nascar_dfs.defs.contest.assets import contest_field, contest_report, ownership_projection

defs = dg.Definitions(assets=[ownership_projection, contest_field, contest_report])
