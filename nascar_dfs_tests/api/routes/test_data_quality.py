"""Admin GET /v1/data-quality lists what the stored race history quarantined, and a request's
resource carries the warnings of the scenario set its lineups were built on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from api.orchestration.launcher import RunMetrics
from nascar_dfs.core.data.history import load_history
from nascar_dfs.platform.io_manager import codec_for, output_path
from nascar_dfs_tests.data_folders import result_cell, set_result, small_real_folder

from ..conftest import Api
from ..helpers import assert_problem, body, fake_results, submit


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "storage"
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(root))
    return root


def _store_history(storage: Path, folder: Path) -> None:
    """race_history as the IO manager stores it (the asset's own output, loaded from `folder`)."""
    codec_for("race_history").write(load_history(folder), output_path(storage, "race_history", []))


def test_data_quality_lists_each_quarantined_row_with_file_row_column_and_reason(
    api: Api, storage: Path, tmp_path: Path, shared_data_dir: Path
) -> None:
    admin = api.key("ops", "admin")
    none_yet = assert_problem(api.client.get("/v1/data-quality", headers=admin), 409)
    assert none_yet["type"].endswith("/history-not-loaded")
    folder = small_real_folder(shared_data_dir, tmp_path / "data")
    race = "2024-cup-phoenix-2"
    row = set_result(folder, race, 1, "start", result_cell(folder, race, 0, "start"))
    _store_history(storage, folder)
    got = api.client.get("/v1/data-quality", headers=admin)
    assert got.status_code == 200, got.text
    listed = got.json()
    assert listed["count"] == len(listed["items"]) >= 1
    (item,) = [i for i in listed["items"] if i["race_id"] == race]
    assert item["file"] == "cup_results.csv" and item["column"] == "start" and item["row"] == row
    assert item["action"] == "starts-masked" and "appears twice" in item["reason"]


def test_data_quality_is_for_admins_only(api: Api) -> None:
    problem = assert_problem(api.client.get("/v1/data-quality", headers=api.key()), 403)
    assert problem["type"].endswith("/forbidden-scope")


def test_a_request_built_on_simulated_starts_says_so(api: Api) -> None:
    headers = api.key()
    rid = submit(api, headers, body(lineups=2)).json()["id"]
    api.worker.run_once()
    run = api.launcher.only_run_for(rid)
    assert api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()["warnings"] == []
    warning = {"code": "start-positions-unknown", "detail": "the race has no starting lineup"}
    results = replace(fake_results(2), warnings=[warning])
    api.launcher.succeed(run.run_id, results, RunMetrics("views", 100, 1, None))
    api.worker.run_once()
    got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
    assert got["status"] == "succeeded" and got["warnings"] == [warning]
    listed = api.client.get("/v1/lineup-requests", headers=headers).json()["items"]
    assert listed[0]["warnings"] == [warning]
