"""How the runs of one lineup request follow each other, told by their tags alone.

A request's plan (plan.py) has at most two steps: a calibration run of the race (model or slate
first) and the lineup run of the race x spec partition. Whoever asks for the request launches the
first (the API through launch.py); the second is Dagster's to launch: the calibration run carries
what follows it (`nascar/spec`, and in `nascar/then` the lineup assets the plan builds), and the
run-status sensor of nascar_dfs/defs/lineups/sensors.py requests that run when the calibration
succeeds, with the request id as run key, so it is launched once however many API replicas watch
the request. Every run of the request carries the request's identity (tags.request_tags), by
which its runs are found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nascar_dfs.platform import tags
from nascar_dfs.platform.jobs import LINEUP_JOB
from nascar_dfs.platform.partitions import race_spec_key
from nascar_dfs.platform.plan import LineupPlan, Step

_ASSETS_SEPARATOR = ","


@dataclass(frozen=True)
class RequestRun:
    """One run of a request's plan: these assets of this job for this partition, with these tags."""

    job: str
    partition: str
    assets: tuple[str, ...]
    kind: str  # tags.CALIBRATION or tags.LINEUPS
    tags: dict[str, str]  # run_tags + partition_tags + the request's identity + the chain tags


def _identity(source: Mapping[str, str]) -> dict[str, str]:
    return {k: source[k] for k in tags.REQUEST_IDENTITY if source.get(k)}


def lineup_run_tags(
    race: str, spec: str, identity: Mapping[str, str], reason: str = "request"
) -> dict[str, str]:
    """The tags of a request's lineup run: what it is, its race x spec partition, who asked."""
    step = Step(LINEUP_JOB, str(race_spec_key(race, spec)), ())
    return {**step.run_tags(reason, race), **_identity(identity), tags.STEP: tags.LINEUPS}


def first_run(plan: LineupPlan, identity: Mapping[str, str], reason: str = "request") -> RequestRun | None:
    """The run to launch for a request (None when everything is current: nothing to run)."""
    if not plan.steps:
        return None
    step = plan.steps[0]
    if step.kind == tags.LINEUPS:
        run_tags = lineup_run_tags(plan.race, plan.spec, identity, reason)
    else:
        run_tags = {**step.run_tags(reason, plan.race), **_identity(identity), tags.STEP: step.kind}
        run_tags[tags.SPEC] = plan.spec
        if len(plan.steps) > 1:
            run_tags[tags.THEN] = _ASSETS_SEPARATOR.join(plan.steps[1].assets)
    return RequestRun(step.job, step.partition, step.assets, step.kind, run_tags)


def next_run(succeeded: Mapping[str, str]) -> RequestRun | None:
    """The run that follows a request's run once it succeeded, from that run's tags: the lineup run
    after a request's calibration whose plan goes on; None for every other run."""
    if succeeded.get(tags.STEP) != tags.CALIBRATION or not succeeded.get(tags.REQUEST_ID):
        return None
    assets = tuple(a for a in succeeded.get(tags.THEN, "").split(_ASSETS_SEPARATOR) if a)
    if not assets:
        return None
    race, spec = succeeded[tags.PARTITION], succeeded[tags.SPEC]
    reason = succeeded.get(tags.REASON, "request")
    return RequestRun(
        LINEUP_JOB,
        str(race_spec_key(race, spec)),
        assets,
        tags.LINEUPS,
        lineup_run_tags(race, spec, succeeded, reason),
    )
