"""What a process outside Dagster (the REST API) needs to launch a lineup request's runs.

It stores the spec, plans the request with the platform's one plan (plan.py) against the asset
graph the caller read from the webserver that serves the definitions (`ASSET_GRAPH_QUERY`, then
`AssetGraph.from_graphql`), and hands back the first run to launch: job, asset selection and tags
(what the run is, the partition tags a launch by tags needs, who asked, and what follows it: chain.py).
The API launches it through the webserver; Dagster runs it, and launches the lineup run that
follows a calibration run itself (the run-status sensor of nascar_dfs/defs/lineups/sensors.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import race_calendar, spec_store, starting_lineups
from nascar_dfs.platform.chain import RequestRun, first_run, lineup_run_tags, next_run
from nascar_dfs.platform.failures import step_failure_message
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.jobs import CALIBRATION_JOB, LINEUP_JOB, REOPTIMIZE_JOB
from nascar_dfs.platform.plan import ASSET_GRAPH_QUERY, AssetGraph, plan_lineup_request
from nascar_dfs.platform.reads import slate_upload_path, storage_root
from nascar_dfs.platform.reoptimizations import (
    REOPTIMIZATION,
    Changes,
    Reoptimization,
    ReoptimizationInputError,
    check_reoptimization,
    save_reoptimization,
)
from nascar_dfs.platform.tags import (
    AUTO_RETRY_RUN_ID,
    CALIBRATION,
    FAILURE_REASON,
    KIND,
    LINEUPS,
    MAX_RETRIES,
    OWNER,
    PARENT_RUN_ID,
    PARTITION,
    REOPTIMIZATION_ID,
    REOPTIMIZE,
    REQUEST_ID,
    RETRY_NUMBER,
    SLATE_VERSION,
    SPEC,
    STEP,
    THEN,
    WILL_RETRY,
    partition_tags,
    request_tags,
    run_tags,
)

__all__ = [
    "ASSET_GRAPH_QUERY",
    "AUTO_RETRY_RUN_ID",
    "CALIBRATION",
    "CALIBRATION_JOB",
    "FAILURE_REASON",
    "KIND",
    "LINEUPS",
    "LINEUP_JOB",
    "MAX_RETRIES",
    "OWNER",
    "PARENT_RUN_ID",
    "PARTITION",
    "REOPTIMIZATION",
    "REOPTIMIZATION_ID",
    "REOPTIMIZE",
    "REOPTIMIZE_JOB",
    "REQUEST_ID",
    "RETRY_NUMBER",
    "SPEC",
    "STEP",
    "THEN",
    "WILL_RETRY",
    "AssetGraph",
    "Changes",
    "LaunchPlan",
    "LaunchStep",
    "Reoptimization",
    "ReoptimizationInputError",
    "check_reoptimization_inputs",
    "lineup_run_tags",
    "next_run",
    "partition_tags",
    "plan_launch",
    "request_tags",
    "run_tags",
    "save_reoptimization_inputs",
    "save_spec",
    "step_failure_message",
    "stored_reoptimized_entries",
]

LaunchStep = RequestRun  # one run to launch: job, partition, assets, kind and tags


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
    identity: Mapping[str, str] | None = None,
    reason: str = "request",
) -> LaunchPlan:
    """The request's plan (read-only) and the first run of it, if any, tagged with the request's
    `identity` (tags.request_tags) and, for a calibration, with the lineup run that follows it."""
    plan = plan_lineup_request(
        instance,
        race,
        spec.key,
        graph=graph,
        slate_upload=slate_upload_path(race),
        contest=spec.contest is not None,
        slate_version=spec.slate_version,
        calendar_version=race_calendar.calendar_version(storage_root()),
        starts_version=starting_lineups.starts_version(storage_root(), race),
    )
    carried = {**(identity or {})}
    if spec.slate_version is not None:  # the pinned slate: on the request's runs, the lineup run too
        carried[SLATE_VERSION] = spec.slate_version
    return LaunchPlan(plan.partition, first_run(plan, carried, reason))


def check_reoptimization_inputs(race: str, spec: ConstraintSpec, request: Reoptimization) -> int:
    """The number of entries of the request's DKEntries.csv; ReoptimizationInputError (every
    problem named) for a file or changes that do not fit the slate the request's lineups were built
    from, before anything is stored."""
    return len(check_reoptimization(storage_root(), race, spec, request).entries)


def save_reoptimization_inputs(request: Reoptimization) -> str:
    """Store the re-optimization's inputs where its run reads them; returns its partition key. Call
    it before the partition is added, so a partition never exists without its inputs."""
    return save_reoptimization(storage_root(), request)


def stored_reoptimized_entries(partition_key: str) -> str:
    """The re-optimized DKEntries.csv the run stored; FileNotFoundError before it did."""
    text = read_output(storage_root(), "reoptimized_entries", [partition_key])
    if text is None:
        raise FileNotFoundError(f"reoptimized_entries {partition_key} has no stored output")
    return text
