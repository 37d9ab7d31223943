"""Run tags: why a run ran, what kind it is, and the runtime cap every run carries.

`dagster/max_runtime` is what ends a hung run (alive, not progressing) and an orphan whose worker
cannot be proved gone (nascar_dfs/platform/run_workers.py), so no run of this platform goes without it.
"""

from __future__ import annotations

KIND = "nascar/kind"
REASON = "nascar/reason"
RACE = "nascar/race"
CALIBRATION_RACE = "nascar/calibration-race"  # per-race concurrency limit in dagster.yaml
MAX_RUNTIME = "dagster/max_runtime"

CALIBRATION = "calibration"
LINEUPS = "lineups"

CALIBRATION_MAX_SECONDS = 3600
LINEUPS_MAX_SECONDS = 900

REASONS = ("weekly", "new-race", "new-feed", "request", "demo", "ui")


def run_tags(kind: str, reason: str, race: str | None = None) -> dict[str, str]:
    if kind not in (CALIBRATION, LINEUPS):
        raise ValueError(f"unknown run kind {kind!r}")
    if reason not in REASONS:
        raise ValueError(f"unknown run reason {reason!r}; expected one of {', '.join(REASONS)}")
    limit = CALIBRATION_MAX_SECONDS if kind == CALIBRATION else LINEUPS_MAX_SECONDS
    tags = {KIND: kind, REASON: reason, MAX_RUNTIME: str(limit)}
    if race is not None:
        tags[RACE] = race
        if kind == CALIBRATION:
            tags[CALIBRATION_RACE] = race
    return tags
