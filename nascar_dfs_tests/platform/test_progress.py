"""Step reports read from a real in-process Dagster run: the time and warnings of each step, and the
exception an asset raised as the failure's message (not Dagster's wrapper around it)."""

from __future__ import annotations

import uuid

import dagster as dg

from nascar_dfs.platform.progress import StepReport, StepWatcher


@dg.asset(check_specs=[dg.AssetCheckSpec("data_quality", asset="warned")])
def warned() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"warnings": dg.MetadataValue.json([{"code": "start-positions-unknown", "detail": "grid"}])},
        check_results=[
            dg.AssetCheckResult(
                check_name="data_quality",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"quarantined": 1, "first_problems": dg.MetadataValue.md("- results.csv row 3")},
            )
        ],
    )


@dg.asset(deps=["warned"])
def broken() -> None:
    raise ValueError("results.csv row 7, column 'race_id': no race named")


def _run(*assets: dg.AssetsDefinition) -> list[StepReport]:
    job = dg.Definitions(assets=list(assets), jobs=[dg.define_asset_job("job")]).resolve_job_def("job")
    reports: list[StepReport] = []
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_event_listener(run_id, StepWatcher(run_id, reports.append))
        job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    return reports


def test_a_step_reports_its_time_its_recorded_warnings_and_its_failed_warn_checks():
    reports = {r.step: r for r in _run(warned, broken)}
    ok = reports["warned"]
    assert ok.succeeded and ok.seconds >= 0 and ok.error is None
    codes = [w["code"] for w in ok.warnings]
    assert codes == ["start-positions-unknown", "data_quality"]
    assert "results.csv row 3" in ok.warnings[1]["detail"] and "check on warned" in ok.warnings[1]["detail"]


def test_a_failed_step_reports_the_exception_the_asset_raised():
    failed = {r.step: r for r in _run(warned, broken)}["broken"]
    assert not failed.succeeded
    assert failed.error == "results.csv row 7, column 'race_id': no race named"
