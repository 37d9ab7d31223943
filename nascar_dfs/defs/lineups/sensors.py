"""The lineup run of a request follows its calibration here, in Dagster, not in the API.

When a calibration run launched for a lineup request succeeds (a retry of it included), the plan's
next run is requested: the lineup assets the calibration run's tags name (nascar_dfs/platform/
chain.py), under the request's tags. The request id is the run key, so Dagster launches it once
however often the success is seen; the API only finds it by the request tag.
"""

import dagster as dg

from nascar_dfs.defs.calibration.jobs import calibration_job
from nascar_dfs.defs.lineups.jobs import lineup_job
from nascar_dfs.platform import chain, tags

# Seconds between ticks: the wait a request pays between its calibration and its lineup run.
CHAIN_INTERVAL_S = 2


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[calibration_job],
    request_job=lineup_job,
    minimum_interval_seconds=CHAIN_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def lineups_after_calibration(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    """Request the lineup run of the request whose calibration run just succeeded."""
    succeeded = context.dagster_run.tags
    run = chain.next_run(succeeded)
    if run is None:
        return dg.SkipReason(f"run {context.dagster_run.run_id} is not a lineup request's calibration")
    return dg.RunRequest(
        run_key=succeeded[tags.REQUEST_ID],
        # Dagster derives the partition tags (one per dimension too) from the key itself.
        partition_key=run.partition,
        asset_selection=[dg.AssetKey(a) for a in run.assets],
        tags={k: v for k, v in run.tags.items() if not k.startswith(tags.PARTITION)},
    )
