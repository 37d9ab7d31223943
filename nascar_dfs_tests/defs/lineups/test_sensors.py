"""The run-status sensor that chains a lineup request's runs in Dagster: a request's calibration
that succeeded asks for the plan's lineup run under the request's tags, keyed by the request id;
any other run asks for nothing. The requested run is then run, as the daemon would launch it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.defs.lineups.sensors import lineups_after_calibration
from nascar_dfs.platform import chain, tags
from nascar_dfs.platform.jobs import LINEUP_JOB
from nascar_dfs.platform.materializations import latest_materialization
from nascar_dfs.platform.plan import AssetGraph, plan_lineup_request
from nascar_dfs.platform.spec_store import register_spec_partition
from nascar_dfs_tests.platform.fakes import UPCOMING

SPEC = ConstraintSpec(lineups=3, scenarios=100)
IDENTITY = tags.request_tags("req-1", "alice", "http-1")


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, run: chain.RequestRun) -> dg.DagsterRun:
    result = defs.resolve_job_def(run.job).execute_in_process(
        instance=instance,
        partition_key=run.partition,
        asset_selection=[dg.AssetKey(a) for a in run.assets],
        tags={k: v for k, v in run.tags.items() if not k.startswith(tags.PARTITION)},
        raise_on_error=False,
    )
    assert result.success
    stored = instance.get_run_by_id(result.run_id)
    assert stored is not None
    return stored


def _sensor_sees_success(instance: dg.DagsterInstance, run: dg.DagsterRun):  # type: ignore[no-untyped-def]
    (success,) = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    context = dg.build_run_status_sensor_context(
        sensor_name=lineups_after_calibration.name,
        dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    )
    return lineups_after_calibration(context)


@pytest.fixture
def planned(fake_defs: dg.Definitions, registered: dg.DagsterInstance, storage_dir: Path):  # type: ignore[no-untyped-def]
    spec_key = register_spec_partition(registered, storage_dir, SPEC)
    graph = AssetGraph.from_definitions(fake_defs)
    plan = plan_lineup_request(registered, UPCOMING, spec_key, graph=graph, storage_root=storage_dir)
    first = chain.first_run(plan, IDENTITY)
    assert first is not None and first.kind == tags.CALIBRATION  # no model yet
    return plan, first


def test_a_request_s_calibration_success_asks_for_its_lineup_run_under_the_request_tags(
    fake_defs: dg.Definitions, registered: dg.DagsterInstance, planned
) -> None:  # type: ignore[no-untyped-def]
    plan, first = planned
    calibration = _run(fake_defs, registered, first)

    request = _sensor_sees_success(registered, calibration)

    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "req-1"  # Dagster launches one run per key: once per request
    assert request.partition_key == plan.partition
    assert [k.to_user_string() for k in request.asset_selection or []] == list(plan.steps[1].assets)
    assert {k: request.tags[k] for k in IDENTITY} == IDENTITY
    assert request.tags[tags.STEP] == tags.LINEUPS and request.tags[tags.KIND] == tags.LINEUPS
    assert request.tags[tags.MAX_RUNTIME] == str(tags.LINEUPS_MAX_SECONDS)

    # The run it asks for is the plan's lineup run: it builds the request's lineups.
    lineup = chain.next_run(calibration.tags)
    assert lineup is not None and lineup.job == LINEUP_JOB
    lineup_run = _run(fake_defs, registered, lineup)
    assert lineup_run.tags[tags.REQUEST_ID] == "req-1"
    assert lineup_run.tags[f"{tags.PARTITION}/race"] == UPCOMING  # from the key, as the daemon does
    assert lineup_run.tags[f"{tags.PARTITION}/spec"] == plan.spec
    assert latest_materialization(registered, "dk_upload_csv", plan.partition) is not None
    # ... and its own success asks for nothing more (the lineup job is not watched, and no tags).
    assert chain.next_run(lineup_run.tags) is None


def test_a_calibration_of_no_request_asks_for_nothing(
    fake_defs: dg.Definitions, registered: dg.DagsterInstance, planned
) -> None:  # type: ignore[no-untyped-def]
    _, first = planned
    weekly = chain.RequestRun(
        first.job,
        first.partition,
        first.assets,
        first.kind,
        tags.run_tags(tags.CALIBRATION, "weekly", UPCOMING),
    )
    assert isinstance(_sensor_sees_success(registered, _run(fake_defs, registered, weekly)), dg.SkipReason)


def test_a_request_s_calibration_that_ends_its_plan_asks_for_nothing(
    fake_defs: dg.Definitions, registered: dg.DagsterInstance, planned
) -> None:  # type: ignore[no-untyped-def]
    _, first = planned
    ending = {k: v for k, v in first.tags.items() if k != tags.THEN}
    run = chain.RequestRun(first.job, first.partition, first.assets, first.kind, ending)
    assert isinstance(_sensor_sees_success(registered, _run(fake_defs, registered, run)), dg.SkipReason)


def test_the_sensor_runs_by_default_and_watches_the_calibration_job(fake_defs: dg.Definitions) -> None:
    sensor = fake_defs.resolve_sensor_def(lineups_after_calibration.name)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == LINEUP_JOB
