"""The calibration job (refresh the history, the race's slate and model, then the CRPS history) and
the feed job (append one weekend feed to the data folder)."""

import dagster as dg

from nascar_dfs.defs.calibration.assets import calibrated_model, race_history, race_slate
from nascar_dfs.defs.calibration.feeds import weekend_feed
from nascar_dfs.defs.calibration.history import calibration_history
from nascar_dfs.platform import tags
from nascar_dfs.platform.jobs import CALIBRATION_JOB, FEED_JOB

calibration_job = dg.define_asset_job(
    CALIBRATION_JOB,
    selection=[race_history, race_slate, calibrated_model, calibration_history],
    # Job tags cover runs launched from the UI; schedule and sensor requests add reason and race.
    tags={
        tags.KIND: tags.CALIBRATION,
        tags.REASON: "ui",
        tags.MAX_RUNTIME: str(tags.CALIBRATION_MAX_SECONDS),
    },
)

feed_job = dg.define_asset_job(
    FEED_JOB,
    selection=[weekend_feed],
    tags={tags.KIND: tags.FEED, tags.REASON: "ui", tags.MAX_RUNTIME: str(tags.FEED_MAX_SECONDS)},
)
