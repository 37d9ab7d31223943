"""weekend_feed: one NASCAR weekend feed file from the watch folder appended to the data folder.

new_race_sensor asks for one run per new file (its name in the run config); the run, not the
sensor, writes. A feed the data module refuses fails its run with the reason (the venue is not in
tracks.csv, the results do not cover the field, the race is already there) and nothing is written.
"""

# No `from __future__ import annotations`: Dagster reads the Config field types at runtime.
from pathlib import Path

import dagster as dg

from nascar_dfs.platform import science, versions
from nascar_dfs.platform.resources import NascarData

WEEKEND_FEED = "weekend_feed"


class FeedFile(dg.Config):
    feed: str  # a file name in the watch folder (NascarData.feeds), e.g. "2026-sonoma.json"


@dg.asset(group_name="data", code_version=versions.WEEKEND_FEED_CODE)
def weekend_feed(context: dg.AssetExecutionContext, config: FeedFile, nascar_data: NascarData):
    """The race of a weekend feed file, appended to races.csv and cup_results.csv of the data folder."""
    folder = nascar_data.feeds()
    if Path(config.feed).name != config.feed:
        raise dg.Failure(f"feed {config.feed!r}: name a file of the watch folder {folder}, not a path")
    path = folder / config.feed
    if not path.is_file():
        raise dg.Failure(f"feed {config.feed} is not in the watch folder {folder}")
    try:
        race = science.ingest_feed(path, nascar_data.root())
    except (ValueError, KeyError, OSError) as exc:
        raise dg.Failure(f"feed {config.feed} refused: {exc}") from exc
    context.log.info(f"feed {config.feed}: appended race {race}")
    return dg.MaterializeResult(
        metadata={
            "feed": config.feed,
            "race_id": race,
            "data_dir": dg.MetadataValue.path(str(nascar_data.root())),
        }
    )
