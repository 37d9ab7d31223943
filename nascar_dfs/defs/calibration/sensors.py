"""New completed races: from new result rows in the data folder, or a weekend feed dropped in a folder."""

import json
from pathlib import Path

import dagster as dg

from nascar_dfs.core.data.calendar import read_calendar
from nascar_dfs.defs.calibration.jobs import calibration_job
from nascar_dfs.defs.calibration.schedules import UPCOMING_RACES
from nascar_dfs.platform import science, tags
from nascar_dfs.platform.partitions import RACE, race_partitions
from nascar_dfs.platform.resources import NascarData


def _ingest_new_feeds(
    context: dg.SensorEvaluationContext, feed_dir: Path, data_dir: Path, seen: set[str]
) -> list[str]:
    """Append every feed file not seen before to the data folder; returns the feed names.

    A feed the data module refuses is logged and remembered as seen, so one bad file does not
    fail every later tick.
    """
    if not feed_dir.is_dir():
        return []
    new = sorted(p.name for p in feed_dir.glob("*.json") if p.name not in seen)
    for name in new:
        try:
            race = science.ingest_feed(feed_dir / name, data_dir)
            context.log.info(f"feed {name}: appended race {race}")
        except (ValueError, KeyError, OSError) as exc:
            context.log.error(f"feed {name} refused: {exc}")
    return new


@dg.sensor(
    job=calibration_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_race_sensor(context: dg.SensorEvaluationContext, nascar_data: NascarData):
    """Add partitions for new races and recalibrate the upcoming ones when a race gets results.

    The first tick only records what is there: a fresh deployment does not refit every race.
    """
    data_dir = nascar_data.root()
    cursor = json.loads(context.cursor) if context.cursor else None
    seen_feeds = set(cursor["feeds"]) if cursor else set()
    new_feeds = _ingest_new_feeds(context, nascar_data.feeds(), data_dir, seen_feeds)
    calendar = read_calendar(data_dir)
    completed = calendar.completed()
    known = set(context.instance.get_dynamic_partitions(RACE))
    missing = [r for r in calendar.race_ids() if r not in known]

    newly_completed = [] if cursor is None else sorted(set(completed) - set(cursor["completed"]))
    runs = []
    if newly_completed:
        reason = "new-feed" if new_feeds else "new-race"
        latest = max(newly_completed, key=calendar.race_ids().index)
        # The races right after the new result get models that include it; with none scheduled
        # yet, the new race's own model (a backtest of it) is refreshed instead.
        targets = calendar.next_after(latest, UPCOMING_RACES) or newly_completed
        runs = [
            dg.RunRequest(
                run_key=f"{reason}:{latest}:{race}",
                partition_key=race,
                tags=tags.run_tags(tags.CALIBRATION, reason, race),
            )
            for race in targets
        ]
    new_cursor = json.dumps({"completed": completed, "feeds": sorted(seen_feeds | set(new_feeds))})
    if not runs and not missing:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new completed race"), cursor=new_cursor)
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[race_partitions.build_add_request(missing)] if missing else [],
        cursor=new_cursor,
    )
