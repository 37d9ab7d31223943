"""A lineup request with the player's own projections: names are checked against the race's stored
slate (a 422 naming each unknown one), malformed values are a 422 naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.data.draftkings import read_dk_salaries
from nascar_dfs.platform.io_manager import codec_for, output_path

from ..conftest import RACE, Api
from ..helpers import assert_problem, body, submit


@pytest.fixture
def stored_slate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race's slate as its calibration run stores it (the demo slate's drivers)."""
    storage = tmp_path / "storage"
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(storage))
    path = output_path(storage, "race_slate", [RACE])
    path.parent.mkdir(parents=True, exist_ok=True)
    codec_for("race_slate").write(read_dk_salaries(DEMO_DIR / "DKSalaries.csv"), path)


def test_unknown_projected_drivers_are_a_422_naming_each(api: Api, stored_slate: None) -> None:
    own = {"Demo Driver 01": {"mean": 40.0}, "Nobody": {"mean": 30.0}, "Also Nobody": {"mean": 1.0}}
    problem = assert_problem(submit(api, api.key(), body(projections=own)), 422)
    assert "Also Nobody, Nobody" in problem["detail"] and "Demo Driver 01" not in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "spec", "projections"]
    assert api.launcher.launches == []


def test_projections_of_slate_drivers_are_accepted(api: Api, stored_slate: None) -> None:
    own = {"Demo Driver 01": {"mean": 40.0, "sd": 9.5}, "Demo Driver 02": {"mean": 12.0}}
    resp = submit(api, api.key(), body(projections=own))
    assert resp.status_code == 202, resp.text


def test_malformed_projection_values_are_a_422_naming_the_field(api: Api) -> None:
    for value in ({"mean": "lots"}, {"mean": 40.0, "sd": -1.0}, {"sd": 3.0}):
        problem = assert_problem(submit(api, api.key(), body(projections={"Demo Driver 03": value})), 422)
        assert "projections" in str(problem), problem
