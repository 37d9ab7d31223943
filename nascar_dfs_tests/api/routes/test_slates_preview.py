"""Slate upload (validated with the data module's DKSalaries reader) and the spec preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.platform.reads import slate_upload_path

from ..conftest import RACE, Api
from ..helpers import assert_problem

DEMO_SLATE = (DEMO_DIR / "DKSalaries.csv").read_bytes()


def _put(api: Api, content: bytes, race: str = RACE, content_type: str = "text/csv"):  # type: ignore[no-untyped-def]
    return api.client.put(
        f"/v1/races/{race}/slate", content=content, headers={**api.key(), "Content-Type": content_type}
    )


def test_valid_slate_is_stored_where_the_platform_reads_it(api: Api) -> None:
    resp = _put(api, DEMO_SLATE)
    assert resp.status_code == 200, resp.text
    assert resp.json()["drivers"] == DEMO_SLATE.decode().count("\n") - 1
    assert (slate_upload_path(RACE)).read_bytes() == DEMO_SLATE


def test_bad_slate_is_a_422_naming_row_and_column_and_nothing_is_stored(api: Api) -> None:
    lines = DEMO_SLATE.decode().splitlines()
    header = lines[0].split(",")
    salary_col = header.index("Salary")
    row = lines[3].split(",")
    row[salary_col] = "lots"
    broken = "\n".join([*lines[:3], ",".join(row), *lines[4:]]).encode()
    problem = assert_problem(_put(api, broken), 422)
    assert problem["type"].endswith("invalid-slate")
    (err,) = problem["errors"]
    assert err["row"] == 4 and err["column"] == "Salary"
    assert not (slate_upload_path(RACE)).exists()


def test_failed_upload_keeps_the_previous_slate(api: Api) -> None:
    assert _put(api, DEMO_SLATE).status_code == 200
    assert _put(api, b"Name,Salary\nx,1\n").status_code == 422
    assert (slate_upload_path(RACE)).read_bytes() == DEMO_SLATE


def test_unknown_race_and_wrong_media_type(api: Api) -> None:
    assert_problem(_put(api, DEMO_SLATE, race="1999-cup-nowhere-1"), 404)
    assert_problem(_put(api, DEMO_SLATE, content_type="application/json"), 415)


def test_preview_without_views_accepts_everything(api: Api) -> None:
    resp = api.client.post(
        "/v1/specs/preview", json={"race_id": RACE, "spec": {"lineups": 5}}, headers=api.key()
    )
    assert resp.status_code == 200 and resp.json()["acceptance_rate"] == 1.0
    assert api.launcher.launches == []


def test_preview_needs_a_calibrated_model(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(tmp_path / "empty-storage"))
    spec = {"lineups": 5, "views": [{"kind": "finish_top", "driver": "Demo Driver 01", "k": 5}]}
    problem = assert_problem(
        api.client.post("/v1/specs/preview", json={"race_id": RACE, "spec": spec}, headers=api.key()), 409
    )
    assert problem["type"].endswith("model-not-calibrated")
