"""The on-demand lineup job, in one process: each step of the multiprocess executor starts a Python
process of its own (seconds per step on two cores), where these steps are short."""

import dagster as dg

from nascar_dfs.defs.lineups.assets import dk_upload_csv, lineups, scenario_set
from nascar_dfs.platform import tags
from nascar_dfs.platform.jobs import LINEUP_JOB

# The contest assets (defs/contest) belong to the same run of a race x spec: a request for a spec
# with a contest selects them, one without leaves them out.
CONTEST_ASSETS = ("ownership_projection", "contest_field", "contest_report")

lineup_job = dg.define_asset_job(
    LINEUP_JOB,
    selection=dg.AssetSelection.assets(scenario_set, lineups, dk_upload_csv, *CONTEST_ASSETS),
    executor_def=dg.in_process_executor,
    tags={tags.KIND: tags.LINEUPS, tags.REASON: "ui", tags.MAX_RUNTIME: str(tags.LINEUPS_MAX_SECONDS)},
)
