"""New completed races: from new result rows in the data folder, or a weekend feed dropped in a folder."""

import json
from pathlib import Path

import dagster as dg

from nascar_dfs.core.data.calendar import read_calendar
from nascar_dfs.defs.calibration.feeds import WEEKEND_FEED, FeedFile
from nascar_dfs.defs.calibration.jobs import calibration_job, feed_job
from nascar_dfs.defs.calibration.schedules import UPCOMING_RACES
from nascar_dfs.platform import tags
from nascar_dfs.platform.jobs import CALIBRATION_JOB, FEED_JOB
from nascar_dfs.platform.materializations import recent_materializations
from nascar_dfs.platform.partitions import RACE, race_partitions
from nascar_dfs.platform.resources import NascarData

FED_RACES_LOOKBACK = 100  # weekend_feed materializations searched for the race a feed appended


def _new_feeds(feed_dir: Path, seen: set[str]) -> list[str]:
    """Feed files of the watch folder not asked for before, by name."""
    if not feed_dir.is_dir():
        return []
    return sorted(p.name for p in feed_dir.glob("*.json") if p.name not in seen)


def _feed_run(name: str) -> dg.RunRequest:
    """One weekend_feed run per file: the run key makes a repeated tick a no-op, and a file the data
    module refuses fails its own run (the UI shows why) without holding up the others."""
    return dg.RunRequest(
        job_name=FEED_JOB,
        run_key=f"feed:{name}",
        run_config=dg.RunConfig(ops={WEEKEND_FEED: FeedFile(feed=name)}),
        tags=tags.run_tags(tags.FEED, "new-feed"),
    )


def _races_from_feeds(instance: dg.DagsterInstance) -> set[str]:
    return {
        str(m.value("race_id")) for m in recent_materializations(instance, WEEKEND_FEED, FED_RACES_LOOKBACK)
    }


@dg.sensor(
    jobs=[calibration_job, feed_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_race_sensor(context: dg.SensorEvaluationContext, nascar_data: NascarData):
    """Ask for the ingestion of new feed files, add partitions for new races and recalibrate the
    upcoming ones when a race gets results. Writes nothing itself.

    The first tick only records what is there: a fresh deployment does not refit every race.
    """
    data_dir = nascar_data.root()
    cursor = json.loads(context.cursor) if context.cursor else None
    seen_feeds = set(cursor["feeds"]) if cursor else set()
    new_feeds = _new_feeds(nascar_data.feeds(), seen_feeds)
    calendar = read_calendar(data_dir)
    completed = calendar.completed()
    known = set(context.instance.get_dynamic_partitions(RACE))
    missing = [r for r in calendar.race_ids() if r not in known]

    newly_completed = [] if cursor is None else sorted(set(completed) - set(cursor["completed"]))
    runs = [_feed_run(name) for name in new_feeds]
    if newly_completed:
        fed = _races_from_feeds(context.instance)
        reason = "new-feed" if any(r in fed for r in newly_completed) else "new-race"
        latest = max(newly_completed, key=calendar.race_ids().index)
        # The races right after the new result get models that include it; with none scheduled
        # yet, the new race's own model (a backtest of it) is refreshed instead.
        targets = calendar.next_after(latest, UPCOMING_RACES) or newly_completed
        runs += [
            dg.RunRequest(
                job_name=CALIBRATION_JOB,
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
