"""race_history on flawed real-layout data, as the Dagster UI and the API show it: the quarantined
rows as a metadata table, a data_quality check that warns with the count, the same list through the
platform's read surface, and a data error whose step failure names file, row and column."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.defs.calibration.assets import race_history
from nascar_dfs.platform import reads
from nascar_dfs.platform.io_manager import NascarIOManager
from nascar_dfs.platform.resources import FileStorage, NascarData
from nascar_dfs_tests.data_folders import result_cell, set_result, small_real_folder

TALLADEGA, PHOENIX = "2021-cup-talladega-2", "2024-cup-phoenix-2"


def _materialize(data: Path, storage: Path) -> dg.ExecuteInProcessResult:
    files = FileStorage(base_path=str(storage))
    return dg.materialize(
        [race_history],
        resources={
            "nascar_data": NascarData(data_dir=str(data)),
            "storage": files,
            "io_manager": NascarIOManager(storage=files),
        },
        raise_on_error=False,
    )


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "storage"
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(root))
    return root


def test_quarantined_rows_are_a_table_a_warning_and_an_api_list(
    shared_data_dir: Path, tmp_path: Path, storage: Path
) -> None:
    data = small_real_folder(shared_data_dir, tmp_path / "data")
    row = set_result(data, TALLADEGA, 3, "start", result_cell(data, TALLADEGA, 0, "start"))
    assert reads.data_quality() is None  # never materialized yet

    result = _materialize(data, storage)

    assert result.success  # one flawed race no longer fails the run
    [materialization] = result.asset_materializations_for_node("race_history")
    meta = materialization.metadata
    assert meta["quarantined"].value == 1 and meta["races"].value == 3
    table = meta["quarantine"]
    assert [c.name for c in table.schema.columns][:5] == ["file", "row", "column", "reason", "action"]
    [record] = table.records
    assert (record.data["file"], record.data["row"], record.data["column"]) == (
        "cup_results.csv",
        row,
        "start",
    )
    assert record.data["action"] == "starts-masked" and record.data["race_id"] == TALLADEGA

    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "data_quality" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN and check.metadata["quarantined"].value == 1

    [listed] = reads.data_quality()
    assert (listed["file"], listed["row"], listed["column"]) == ("cup_results.csv", row, "start")
    assert "appears twice" in listed["reason"]


def test_clean_data_passes_the_check_and_lists_nothing(
    shared_data_dir: Path, tmp_path: Path, storage: Path
) -> None:
    result = _materialize(small_real_folder(shared_data_dir, tmp_path / "data"), storage)

    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["quarantined"].value == 0
    assert reads.data_quality() == []


def test_an_unusable_file_fails_the_step_with_file_row_and_column(
    shared_data_dir: Path, tmp_path: Path, storage: Path
) -> None:
    data = small_real_folder(shared_data_dir, tmp_path / "data")
    set_result(data, PHOENIX, 4, "race_id", "")  # a row of no race: the file cannot be split by race

    result = _materialize(data, storage)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "cup_results.csv row" in message and "column 'race_id'" in message and "is empty" in message
