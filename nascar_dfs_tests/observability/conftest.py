"""promtool for the rule tests (found on PATH, else the tests skip saying how to install it), and
a real Dagster instance with materialized partitions for the metric tests."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import codecs, io_manager, science
from nascar_dfs.platform.partitions import register_races
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.tags import run_tags
from nascar_dfs_tests.platform.conftest import SCIENCE_FUNCTIONS, make_defs
from nascar_dfs_tests.platform.fakes import COMPLETED, RACES, UPCOMING, FakeScience, write_calendar


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool is not installed: run `bash scripts/services/promtool.sh` (Debian package prometheus)"
        )
    return path


@dataclass(frozen=True)
class DagsterWithPartitions:
    """A real Dagster instance (SQLite storage) holding one materialized calibration, scenario set
    and lineups partition of the platform's own definitions, and the race calendar it was built on."""

    instance: dg.DagsterInstance
    data_dir: Path
    upcoming: str
    scored: str
    spec_key: str
    race_day: date


@pytest.fixture(scope="module")
def dagster_with_partitions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterWithPartitions]:
    """The demo request chain (calibration run, then the lineup run) plus the calibration of a
    completed race (the only kind that gets a CRPS), materialized through the real asset and check
    code. The science is replaced by the platform tests' stand-ins (nascar_dfs_tests/platform/fakes.py)
    so this takes seconds, not the minutes of a real fit; the metrics only read what Dagster
    recorded, which is the same either way."""
    work = tmp_path_factory.mktemp("dagster-metrics")
    race_day = datetime.now(UTC).date() + timedelta(days=2)
    data_dir = work / "data"
    today = datetime.now(UTC).date()
    weeks_ago = range(len(COMPLETED), 0, -1)
    dates = {
        race: (today - timedelta(weeks=w)).isoformat() for race, w in zip(COMPLETED, weeks_ago, strict=True)
    }
    dates[UPCOMING] = race_day.isoformat()
    write_calendar(data_dir, RACES, COMPLETED, dates)
    storage = work / "storage"
    stand_in = FakeScience(data_dir=data_dir, rejection_rate=0.12, crps=5.0, baseline_crps=6.0)
    stand_in.dates.update(dates)
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
        for name in SCIENCE_FUNCTIONS:
            patch.setattr(science, name, getattr(stand_in, name))
        patch.setitem(io_manager.CODECS, "calibrated_model", codecs.PickleCodec())
        defs = make_defs(storage, data_dir)
        register_races(instance, RACES)
        spec = ConstraintSpec(lineups=3, scenarios=100)
        _, results = request_lineups(
            defs, instance, UPCOMING, spec, storage_root=storage, scenario_ttl_hours=24.0, reason="demo"
        )
        assert [r.step.kind for r in results] == ["calibration", "lineups"], results
        scored = COMPLETED[-1]
        calibration = defs.resolve_job_def("calibration_job").execute_in_process(
            instance=instance,
            partition_key=scored,
            asset_selection=[dg.AssetKey("race_history"), dg.AssetKey("calibrated_model")],
            tags=run_tags("calibration", "weekly", scored),
        )
        assert calibration.success
        # A lineup run waiting in the run queue (what the queued-run coordinator stores before
        # the daemon dequeues it), so the queue series have a value too.
        location = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=4266, location_name="nascar_dfs")
        instance.add_run(
            dg.DagsterRun(
                job_name="lineup_job",
                run_id=uuid.uuid4().hex,
                status=dg.DagsterRunStatus.QUEUED,
                tags=run_tags("lineups", "request", UPCOMING),
                remote_job_origin=RemoteJobOrigin(
                    RemoteRepositoryOrigin(location, "__repository__"), "lineup_job"
                ),
            )
        )
        patch.undo()
        yield DagsterWithPartitions(instance, data_dir, UPCOMING, scored, spec.key, race_day)
