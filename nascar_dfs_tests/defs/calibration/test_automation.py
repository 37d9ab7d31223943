"""The weekly schedule and the new-race sensor, evaluated with build contexts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.defs.calibration.feeds import weekend_feed
from nascar_dfs.defs.calibration.schedules import weekly_recalibration
from nascar_dfs.defs.calibration.sensors import new_race_sensor
from nascar_dfs.platform import science
from nascar_dfs.platform.partitions import RACE, register_races
from nascar_dfs.platform.resources import NascarData
from nascar_dfs_tests.platform.fakes import COMPLETED, RACES, write_calendar

NEXT = ["2025-cup-daytona-1", "2025-cup-atlanta-1", "2025-cup-cota-1"]
DATES = {
    "2025-cup-daytona-1": "2025-02-16",
    "2025-cup-atlanta-1": "2025-02-23",
    "2025-cup-cota-1": "2025-03-02",
}
MONDAY = datetime(2025, 2, 17, 6, 0)


def run_sensor(instance: dg.DagsterInstance, data_dir: Path, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"nascar_data": NascarData(
        data_dir=str(data_dir))})  # fmt: skip
    return new_race_sensor(context), context


def add_partitions(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests:
        register_races(instance, request.partition_keys)


def test_schedule_recalibrates_the_upcoming_races_with_idempotent_keys_and_tags(sqlite_instance, tmp_path):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES + NEXT, COMPLETED + RACES[4:] + NEXT[:1], DATES)
    context = dg.build_schedule_context(
        instance=sqlite_instance,
        scheduled_execution_time=MONDAY,
        resources={"nascar_data": NascarData(data_dir=str(data_dir))},
    )

    requests = list(weekly_recalibration(context))

    assert [r.partition_key for r in requests] == NEXT[1:]
    assert [r.run_key for r in requests] == [f"weekly:2025-02-17:{race}" for race in NEXT[1:]]
    for request, race in zip(requests, NEXT[1:], strict=True):
        assert request.tags["nascar/reason"] == "weekly"
        assert request.tags["nascar/kind"] == "calibration"
        assert request.tags["nascar/calibration-race"] == race
        assert int(request.tags["dagster/max_runtime"]) > 0
    assert set(NEXT[1:]) <= set(sqlite_instance.get_dynamic_partitions(RACE))


def test_schedule_without_upcoming_races_refreshes_the_last_races_added(sqlite_instance, tmp_path):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES, RACES, {})
    register_races(sqlite_instance, RACES)
    context = dg.build_schedule_context(
        instance=sqlite_instance,
        scheduled_execution_time=MONDAY,
        resources={"nascar_data": NascarData(data_dir=str(data_dir))},
    )

    requests = list(weekly_recalibration(context))

    assert len(requests) == 3
    assert {r.partition_key for r in requests} <= set(RACES)


def test_sensor_first_tick_registers_races_but_refits_nothing(sqlite_instance, tmp_path):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES + NEXT, RACES, DATES)

    result, _ = run_sensor(sqlite_instance, data_dir, cursor=None)

    assert result.run_requests == []
    (added,) = result.dynamic_partitions_requests
    assert added.partitions_def_name == RACE and list(added.partition_keys) == RACES + NEXT
    assert json.loads(result.cursor)["completed"] == RACES


def test_sensor_sees_a_new_completed_race_and_requests_recalibration_of_upcoming_races(
    sqlite_instance, tmp_path
):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES + NEXT, RACES, DATES)
    first, _ = run_sensor(sqlite_instance, data_dir, cursor=None)
    add_partitions(sqlite_instance, first)
    write_calendar(data_dir, RACES + NEXT, RACES + NEXT[:1], DATES)  # Daytona has results now

    second, _ = run_sensor(sqlite_instance, data_dir, cursor=first.cursor)

    targets = [r.partition_key for r in second.run_requests]
    assert "2025-cup-daytona-1" not in targets and targets[0] == "2025-cup-atlanta-1"
    for request in second.run_requests:
        assert request.tags["nascar/reason"] == "new-race"
        assert request.run_key.startswith("new-race:2025-cup-daytona-1:")
        assert "dagster/max_runtime" in request.tags
    third, _ = run_sensor(sqlite_instance, data_dir, cursor=second.cursor)
    assert third.run_requests == [] and third.skip_reason is not None


def ingest_as_asked(
    instance: dg.DagsterInstance, data_dir: Path, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    """What the daemon does with the sensor's feed request: run the feed job's asset on its config."""
    assert request.job_name == "feed_job"
    return dg.materialize(
        [weekend_feed],
        instance=instance,
        resources={"nascar_data": NascarData(data_dir=str(data_dir))},
        run_config=request.run_config,
        tags=request.tags,
        raise_on_error=False,
    )


def test_sensor_asks_for_the_ingestion_of_a_weekend_feed_dropped_in_the_watch_folder(
    sqlite_instance, tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES + NEXT, RACES, DATES)
    first, _ = run_sensor(sqlite_instance, data_dir, cursor=None)
    add_partitions(sqlite_instance, first)
    ingested: list[str] = []

    def ingest(feed: Path, folder: Path) -> str:
        ingested.append(feed.name)
        write_calendar(folder, RACES + NEXT, RACES + NEXT[:1], DATES)
        return NEXT[0]

    monkeypatch.setattr(science, "ingest_feed", ingest)
    (data_dir / "feeds").mkdir()
    (data_dir / "feeds" / "daytona.json").write_text("{}")
    files_before = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}

    second, _ = run_sensor(sqlite_instance, data_dir, cursor=first.cursor)

    # The sensor only asks: one feed run, and nothing written into the data folder.
    (request,) = second.run_requests
    assert request.run_key == "feed:daytona.json"
    assert request.tags["nascar/reason"] == "new-feed" and request.tags["nascar/kind"] == "feed"
    assert int(request.tags["dagster/max_runtime"]) > 0
    assert ingested == []
    assert {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()} == files_before
    assert ingest_as_asked(sqlite_instance, data_dir, request).success
    again, _ = run_sensor(sqlite_instance, data_dir, cursor=first.cursor)  # a repeated tick: same run key
    assert request.run_key in [r.run_key for r in again.run_requests]

    third, _ = run_sensor(sqlite_instance, data_dir, cursor=second.cursor)
    fourth, _ = run_sensor(sqlite_instance, data_dir, cursor=third.cursor)

    assert ingested == ["daytona.json"]  # once, not on every tick
    assert third.run_requests and {r.tags["nascar/reason"] for r in third.run_requests} == {"new-feed"}
    assert fourth.run_requests == [] and fourth.skip_reason is not None


def test_sensor_refuses_a_race_key_that_cannot_be_a_partition(sqlite_instance, tmp_path):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, ["2025-cup-daytona|1"], [], {})

    with pytest.raises(Exception, match="invalid race key"):
        run_sensor(sqlite_instance, data_dir, cursor=None)


def test_a_refused_feed_fails_its_run_with_the_reason_once_and_does_not_break_later_ticks(
    sqlite_instance, tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES, RACES, {})
    first, _ = run_sensor(sqlite_instance, data_dir, cursor=None)
    add_partitions(sqlite_instance, first)
    attempts: list[str] = []

    def refuse(feed: Path, folder: Path) -> str:
        attempts.append(feed.name)
        raise ValueError("track 'Nowhere Speedway' is not in tracks.csv")

    monkeypatch.setattr(science, "ingest_feed", refuse)
    (data_dir / "feeds").mkdir()
    (data_dir / "feeds" / "bad.json").write_text("{}")

    second, _ = run_sensor(sqlite_instance, data_dir, cursor=first.cursor)
    (request,) = second.run_requests
    result = ingest_as_asked(sqlite_instance, data_dir, request)
    third, _ = run_sensor(sqlite_instance, data_dir, cursor=second.cursor)
    fourth, _ = run_sensor(sqlite_instance, data_dir, cursor=third.cursor)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "feed bad.json refused: track 'Nowhere Speedway' is not in tracks.csv" in str(
        failure.step_failure_data.error.message
    )
    assert attempts == ["bad.json"]
    assert third.skip_reason is not None and fourth.skip_reason is not None
