"""Run tags: why a run ran, what kind it is, the runtime cap every run carries, the partition
tags a run launched from outside needs, and the tags of a lineup request's runs (who asked, and
which run of the request's plan it is: nascar_dfs/platform/chain.py).

`dagster/max_runtime` is what ends a hung run (alive, not progressing) and an orphan whose worker
cannot be proved gone (nascar_dfs/platform/run_workers.py), so no run of this platform goes without it.
"""

from __future__ import annotations

from nascar_dfs.platform.partitions import RACE as RACE_DIMENSION
from nascar_dfs.platform.partitions import SPEC as SPEC_DIMENSION
from nascar_dfs.platform.partitions import race_spec_key

KIND = "nascar/kind"
REASON = "nascar/reason"
RACE = "nascar/race"
SLATE_VERSION = "nascar/slate-version"  # the DKSalaries.csv version a lineup run builds from
CALIBRATION_RACE = "nascar/calibration-race"  # per-race concurrency limit in dagster.yaml
MAX_RUNTIME = "dagster/max_runtime"

CALIBRATION = "calibration"
LINEUPS = "lineups"
FEED = "feed"
REOPTIMIZE = "reoptimize"  # pre-lock re-optimization of a DKEntries file (defs/lineups/reoptimize.py)

CALIBRATION_MAX_SECONDS = 3600
LINEUPS_MAX_SECONDS = 900
FEED_MAX_SECONDS = 600  # appending one race to the data folder: seconds; the cap only ends a hung run
REOPTIMIZE_MAX_SECONDS = 900  # one re-simulation of the race at most, then a scan per entry
_MAX_SECONDS = {
    CALIBRATION: CALIBRATION_MAX_SECONDS,
    LINEUPS: LINEUPS_MAX_SECONDS,
    FEED: FEED_MAX_SECONDS,
    REOPTIMIZE: REOPTIMIZE_MAX_SECONDS,
}

REASONS = ("weekly", "new-race", "new-feed", "request", "demo", "ui")

PARTITION = "dagster/partition"
# Dagster's own run tags the platform reads (retries, why Dagster failed a run from outside it).
AUTO_RETRY_RUN_ID = "dagster/auto_retry_run_id"  # on a failed run: the run that retries it
PARENT_RUN_ID = "dagster/parent_run_id"  # on a retry (or re-execution): the run it repeats
RETRY_NUMBER = "dagster/retry_number"
MAX_RETRIES = "dagster/max_retries"
WILL_RETRY = "dagster/will_retry"  # set on the failed run at once; the retry run follows later
FAILURE_REASON = "dagster/failure_reason"

# A lineup request's runs: its identity, carried by every run of its plan (the API finds them by
# REQUEST_ID), and the chain tags of chain.py.
REQUEST_ID = "nascar/request_id"
OWNER = "nascar/owner"
HTTP_REQUEST_ID = "nascar/http_request_id"  # joins the run's logs to the API's
REQUEST_IDENTITY = (REQUEST_ID, OWNER, HTTP_REQUEST_ID)
CARRIED = (*REQUEST_IDENTITY, SLATE_VERSION)  # from a request's calibration to its lineup run
REOPTIMIZATION_ID = "nascar/reoptimization_id"  # the API's re-optimization a reoptimize run is for
STEP = "nascar/step"  # CALIBRATION or LINEUPS: which step of the request's plan the run is
SPEC = "nascar/spec"  # on a request's calibration run (race-partitioned): the spec it is for
THEN = "nascar/then"  # on a request's calibration run: the lineup assets to build once it succeeded


def run_tags(kind: str, reason: str, race: str | None = None) -> dict[str, str]:
    if kind not in _MAX_SECONDS:
        raise ValueError(f"unknown run kind {kind!r}")
    if reason not in REASONS:
        raise ValueError(f"unknown run reason {reason!r}; expected one of {', '.join(REASONS)}")
    tags = {KIND: kind, REASON: reason, MAX_RUNTIME: str(_MAX_SECONDS[kind])}
    if race is not None:
        tags[RACE] = race
        if kind == CALIBRATION:
            tags[CALIBRATION_RACE] = race
    return tags


def partition_tags(race: str, spec: str | None = None) -> dict[str, str]:
    """The partition of a run launched by tags: `dagster/partition` and, for race x spec, one tag per
    dimension as well; with the first alone the run's partition key is a plain string and the
    assets' `keys_by_dimension` fails."""
    if spec is None:
        return {PARTITION: race}
    return {
        PARTITION: str(race_spec_key(race, spec)),
        f"{PARTITION}/{RACE_DIMENSION}": race,
        f"{PARTITION}/{SPEC_DIMENSION}": spec,
    }


def request_tags(request_id: str, owner: str, http_request_id: str | None = None) -> dict[str, str]:
    """Who asked for a run: the lineup request, its owner and the HTTP request that submitted it."""
    tags = {REQUEST_ID: request_id, OWNER: owner}
    if http_request_id:
        tags[HTTP_REQUEST_ID] = http_request_id
    return tags
