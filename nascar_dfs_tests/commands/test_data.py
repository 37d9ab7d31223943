"""`nascar-dfs data validate DIR` as a user runs it on flawed and on clean data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nascar_dfs.cli import main
from nascar_dfs_tests.data_folders import result_cell, set_result, small_real_folder

TALLADEGA, DIRT, PHOENIX = "2021-cup-talladega-2", "2022-cup-bristol-dirt-1", "2024-cup-phoenix-2"


def test_flawed_folder_lists_every_problem_and_exits_non_zero(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = small_real_folder(shared_data_dir, tmp_path / "data")
    twin = set_result(folder, TALLADEGA, 4, "start", result_cell(folder, TALLADEGA, 0, "start"))
    far = set_result(folder, PHOENIX, 2, "start", "56")
    tie = set_result(folder, DIRT, 6, "finish", "2")

    status = main(["data", "validate", str(folder)])

    out = capsys.readouterr().out
    assert status == 1
    assert f"cup_results.csv row {twin}, column 'start'" in out and "appears twice" in out
    assert f"cup_results.csv row {far}, column 'start': 56 is outside 1.." in out
    assert f"cup_results.csv row {tie}, column 'finish'" in out and "[race-dropped]" in out
    assert "3 problem(s)" in out


def test_json_lists_the_same_records(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = small_real_folder(shared_data_dir, tmp_path / "data")
    row = set_result(folder, PHOENIX, 2, "start", "0")

    assert main(["data", "validate", str(folder), "--json"]) == 1

    [problem] = json.loads(capsys.readouterr().out)["problems"]
    assert (problem["file"], problem["row"], problem["column"], problem["action"]) == (
        "cup_results.csv",
        row,
        "start",
        "starts-masked",
    )
    assert problem["race_id"] == PHOENIX


def test_clean_data_exits_zero(shared_data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "validate", str(shared_data_dir)]) == 0
    assert "no problems (379 races" in capsys.readouterr().out


def test_an_unusable_file_is_a_problem_too(shared_data_dir: Path, tmp_path: Path, capsys) -> None:
    folder = small_real_folder(shared_data_dir, tmp_path / "data")
    (folder / "cup_results.csv").unlink()
    assert main(["data", "validate", str(folder)]) == 1
    assert "cup_results.csv: file not found" in capsys.readouterr().out


def test_a_missing_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "validate", str(tmp_path / "nowhere")]) == 2
    assert "nascar-dfs data: error: data folder" in capsys.readouterr().err
