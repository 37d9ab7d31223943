"""What a process outside Dagster (the REST API) needs to launch a lineup request's runs.

It stores the spec, plans the request with the platform's one plan (plan.py) against the asset
graph the caller read from the webserver that serves the definitions (`ASSET_GRAPH_QUERY`, then
`AssetGraph.from_graphql`), and hands back the first run to launch: job, asset selection and tags
(what the run is, and the partition tags a launch by tags needs). The API launches it through the
webserver; Dagster runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import spec_store
from nascar_dfs.platform.jobs import CALIBRATION_JOB, LINEUP_JOB
from nascar_dfs.platform.plan import ASSET_GRAPH_QUERY, AssetGraph, plan_lineup_request
from nascar_dfs.platform.reads import slate_upload_path, storage_root
from nascar_dfs.platform.tags import CALIBRATION, LINEUPS, SLATE_VERSION, partition_tags, run_tags

__all__ = [
    "ASSET_GRAPH_QUERY",
    "CALIBRATION",
    "CALIBRATION_JOB",
    "LINEUPS",
    "LINEUP_JOB",
    "AssetGraph",
    "LaunchPlan",
    "LaunchStep",
    "partition_tags",
    "plan_launch",
    "run_tags",
    "save_spec",
]


@dataclass(frozen=True)
class LaunchStep:
    """One run to launch: these assets of this job, with these tags."""

    job: str
    assets: tuple[str, ...]
    kind: str  # CALIBRATION or LINEUPS
    tags: dict[str, str]  # run_tags (kind, reason, race, dagster/max_runtime) + partition_tags


@dataclass(frozen=True)
class LaunchPlan:
    partition: str  # race|spec
    first: LaunchStep | None  # None: everything is current, no run is needed


def save_spec(spec: ConstraintSpec) -> str:
    """Store the spec's canonical JSON where its runs read it; returns its key. Call it before the
    spec partition is added, so a partition never exists without its spec."""
    return spec_store.save_spec(storage_root(), spec)


def plan_launch(
    instance: dg.DagsterInstance,
    graph: AssetGraph,
    race: str,
    spec: ConstraintSpec,
    *,
    reason: str = "request",
) -> LaunchPlan:
    """The request's plan (read-only) and the first run of it, if any."""
    plan = plan_lineup_request(
        instance,
        race,
        spec.key,
        graph=graph,
        slate_upload=slate_upload_path(race),
        contest=spec.contest is not None,
        slate_version=spec.slate_version,
    )
    if plan.reuses_everything:
        return LaunchPlan(plan.partition, None)
    step = plan.steps[0]
    step_tags = step.run_tags(reason, race)
    if spec.slate_version is not None:
        step_tags[SLATE_VERSION] = spec.slate_version
    return LaunchPlan(plan.partition, LaunchStep(step.job, step.assets, step.kind, step_tags))
