"""The API's two surfaces on the platform: what to launch for a request, and what a run stored."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.core.contest.spec import ContestSpec
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import launch, reads
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs_tests.platform.fakes import UPCOMING

SPEC = ConstraintSpec(lineups=3, scenarios=100)


@pytest.fixture
def stored_here(storage_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's storage root (what the API reads) is the one the runs write to."""
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(storage_dir))
    return storage_dir


def test_the_first_launch_of_a_new_race_is_its_calibration_with_its_tags(
    fake_defs, registered, stored_here
) -> None:
    graph = launch.AssetGraph.from_definitions(fake_defs)
    assert launch.save_spec(SPEC) == SPEC.key
    assert (stored_here / "specs" / f"{SPEC.key}.json").read_text() == SPEC.canonical_json()

    identity = launch.request_tags("req-1", "alice", "http-1")
    plan = launch.plan_launch(registered, graph, UPCOMING, SPEC, identity=identity)

    assert plan.partition == f"{UPCOMING}|{SPEC.key}"
    first = plan.first
    assert first is not None and first.job == launch.CALIBRATION_JOB and first.kind == launch.CALIBRATION
    assert set(first.assets) == {"race_history", "race_slate", "calibrated_model", "calibration_history"}
    assert first.tags == {
        "nascar/kind": "calibration",
        "nascar/reason": "request",
        "nascar/race": UPCOMING,
        "nascar/calibration-race": UPCOMING,
        "dagster/max_runtime": "3600",
        "dagster/partition": UPCOMING,
        # who asked, and what Dagster runs once it succeeded (nascar_dfs/platform/chain.py)
        "nascar/request_id": "req-1",
        "nascar/owner": "alice",
        "nascar/http_request_id": "http-1",
        "nascar/step": "calibration",
        "nascar/spec": SPEC.key,
        "nascar/then": "scenario_set,lineups,dk_upload_csv",
    }


def test_with_a_current_model_the_first_launch_is_the_lineup_run_with_all_partition_tags(
    fake_defs, registered, stored_here
) -> None:
    request_lineups(fake_defs, registered, UPCOMING, SPEC, storage_root=stored_here)
    other = ConstraintSpec(lineups=2, scenarios=100)
    registered.add_dynamic_partitions("spec", [launch.save_spec(other)])

    first = launch.plan_launch(
        registered, launch.AssetGraph.from_definitions(fake_defs), UPCOMING, other
    ).first

    assert first is not None and first.job == launch.LINEUP_JOB and first.kind == launch.LINEUPS
    assert first.assets == ("scenario_set", "lineups", "dk_upload_csv")
    assert first.tags["dagster/partition"] == f"{UPCOMING}|{other.key}"
    assert first.tags["dagster/partition/race"] == UPCOMING
    assert first.tags["dagster/partition/spec"] == other.key
    assert first.tags["nascar/kind"] == "lineups" and first.tags["dagster/max_runtime"] == "900"
    assert first.tags["nascar/step"] == "lineups" and "nascar/then" not in first.tags
    assert (
        launch.plan_launch(registered, launch.AssetGraph.from_definitions(fake_defs), UPCOMING, SPEC).first
        is None
    )


def test_reads_serve_what_the_runs_stored_and_say_what_is_missing(fake_defs, registered, stored_here) -> None:
    request_lineups(fake_defs, registered, UPCOMING, SPEC, storage_root=stored_here)

    portfolio = reads.stored_lineups(UPCOMING, SPEC.key)
    assert len(portfolio.lineups) == SPEC.lineups
    csv_text = reads.stored_upload_csv(UPCOMING, SPEC.key)
    assert len(csv_text.strip().splitlines()) == SPEC.lineups + 1
    salaries = reads.slate_salaries(UPCOMING)
    assert {d for lu in portfolio.lineups for d in lu.dk_ids} <= set(salaries)
    assert reads.stored_contest_report(UPCOMING, SPEC.key) is None  # the spec names no contest
    assert reads.slate_upload_path(UPCOMING) == stored_here.resolve() / "slates" / f"{UPCOMING}.csv"
    inputs = reads.preview_inputs(UPCOMING)
    assert inputs is not None and inputs.field.race_id == UPCOMING
    assert reads.last_calibrated_at(registered, UPCOMING) is not None

    other = "2024-cup-dover-1"
    assert reads.preview_inputs(other) is None and reads.slate_salaries(other) == {}
    assert reads.last_calibrated_at(registered, other) is None
    with pytest.raises(FileNotFoundError, match=f"lineups of {other}"):
        reads.stored_lineups(other, SPEC.key)
    contest = ConstraintSpec(lineups=3, contest=ContestSpec(entries=100, entry_fee=5.0))
    launch.save_spec(contest)
    with pytest.raises(FileNotFoundError, match="contest report"):
        reads.stored_contest_report(UPCOMING, contest.key)


def test_the_race_calendar_and_data_folder_are_the_code_location_s(monkeypatch, data_dir: Path) -> None:
    monkeypatch.setenv("NASCAR_DFS_DATA_DIR", str(data_dir))
    assert reads.data_dir() == data_dir
    assert reads.race_calendar(reads.data_dir()).race_ids()
    monkeypatch.setenv("NASCAR_DFS_DATA_DIR", str(data_dir / "missing"))
    with pytest.raises(FileNotFoundError, match="NASCAR_DFS_DATA_DIR"):
        reads.data_dir()


def test_partition_tags_are_the_ones_a_launch_by_tags_needs() -> None:
    assert launch.partition_tags("2024-cup-phoenix-2") == {"dagster/partition": "2024-cup-phoenix-2"}
    key = ConstraintSpec().key
    tags = launch.partition_tags("2024-cup-phoenix-2", key)
    assert str(dg.MultiPartitionKey({"race": "2024-cup-phoenix-2", "spec": key})) == tags["dagster/partition"]
    assert tags["dagster/partition/race"] == "2024-cup-phoenix-2" and tags["dagster/partition/spec"] == key
