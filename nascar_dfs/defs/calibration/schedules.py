"""Weekly recalibration: Monday morning (New York), after the weekend's race is in the data."""

import dagster as dg

from nascar_dfs.core.data.calendar import read_calendar
from nascar_dfs.defs.calibration.jobs import calibration_job
from nascar_dfs.platform import tags
from nascar_dfs.platform.partitions import RACE, register_races
from nascar_dfs.platform.resources import NascarData

UPCOMING_RACES = 2  # the next race and the one after: both get a model fitted on the newest result
FALLBACK_RACES = 3  # without upcoming races, refresh the last races added


@dg.schedule(
    job=calibration_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_recalibration(context: dg.ScheduleEvaluationContext, nascar_data: NascarData):
    """Recalibrate the upcoming races; the run_key makes a repeated tick of the same week a no-op."""
    today = context.scheduled_execution_time.date()
    targets = read_calendar(nascar_data.root()).upcoming(today, UPCOMING_RACES)
    if targets:
        register_races(context.instance, targets)
    else:
        targets = context.instance.get_dynamic_partitions(RACE)[-FALLBACK_RACES:]
    if not targets:
        return dg.SkipReason("no upcoming race in the data and no race partition registered")
    stamp = today.isoformat()
    return [
        dg.RunRequest(
            run_key=f"weekly:{stamp}:{race}",
            partition_key=race,
            tags=tags.run_tags(tags.CALIBRATION, "weekly", race),
        )
        for race in targets
    ]
