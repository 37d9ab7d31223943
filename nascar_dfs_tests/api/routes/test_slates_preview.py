"""Slate upload (validated with the data module's DKSalaries reader) and the spec preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.services.slates import slates_dir
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs_tests.slate_files import dk_salaries, race_drivers

from ..conftest import RACE, Api
from ..helpers import assert_problem, body, submit

DEMO_SLATE = (DEMO_DIR / "DKSalaries.csv").read_bytes()


@pytest.fixture
def slateless(make_api, shared_data_dir: Path) -> Api:  # type: ignore[no-untyped-def]
    """The API on the real history, with no slate stored for any race."""
    return make_api(data_dir=shared_data_dir, slates=False)


@pytest.fixture
def real_names(shared_data_dir: Path) -> list[str]:
    return race_drivers(shared_data_dir, RACE)


def _put(
    api: Api,
    content: bytes,
    race: str = RACE,
    content_type: str = "text/csv",
    scope: str = "admin",
    query: str = "",
):  # type: ignore[no-untyped-def]
    return api.client.put(
        f"/v1/races/{race}/slate{query}",
        content=content,
        headers={**api.key("ops", scope), "Content-Type": content_type},
    )


def test_real_shaped_slate_is_stored_by_version(slateless: Api, real_names: list[str]) -> None:
    # DraftKings' own layout: no StartPos column, and a TeamAbbrev left blank.
    content = dk_salaries(real_names, blank_team={real_names[3]})
    resp = _put(slateless, content)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["drivers"] == len(real_names) and out["new_drivers"] == []
    store = slates_dir()
    assert (store / f"{RACE}.csv").read_bytes() == content
    assert (store / RACE / f"{out['version']}.csv").read_bytes() == content


def test_only_an_admin_key_uploads_or_replaces_a_slate(slateless: Api, real_names: list[str]) -> None:
    problem = assert_problem(_put(slateless, dk_salaries(real_names), scope="user"), 403)
    assert problem["type"].endswith("forbidden-scope")
    assert not (slates_dir() / f"{RACE}.csv").exists()
    assert _put(slateless, dk_salaries(real_names)).status_code == 200
    replaced = dk_salaries(list(reversed(real_names)))
    assert_problem(_put(slateless, replaced, scope="user"), 403)
    assert (slates_dir() / f"{RACE}.csv").read_bytes() == dk_salaries(real_names)


def test_unmatched_names_are_a_422_with_the_closest_history_names(
    slateless: Api, real_names: list[str]
) -> None:
    names = [*real_names[:20], "Kyle Larsen", "Connor Zilisch"]
    names = [n for n in names if n != "Kyle Larson"]
    problem = assert_problem(_put(slateless, dk_salaries(names)), 422)
    assert problem["type"].endswith("unknown-drivers")
    by_name = {e["name"]: e["suggestions"] for e in problem["errors"]}
    assert set(by_name) == {"Kyle Larsen", "Connor Zilisch"}
    assert by_name["Kyle Larsen"][0] == "Kyle Larson"
    assert "Kyle Larsen" in problem["detail"] and "new_drivers" in problem["detail"]
    assert not (slates_dir() / f"{RACE}.csv").exists()


def test_declared_debutants_are_accepted_and_a_wrong_declaration_is_not(
    slateless: Api, real_names: list[str]
) -> None:
    content = dk_salaries([*real_names[:30], "Connor Zilisch"], blank_team={"Connor Zilisch"})
    problem = assert_problem(_put(slateless, content, query="?new_drivers=Conor%20Zilisch"), 422)
    assert "Conor Zilisch" in problem["detail"]
    resp = _put(slateless, content, query="?new_drivers=Connor%20Zilisch")
    assert resp.status_code == 200, resp.text
    assert resp.json()["new_drivers"] == ["Connor Zilisch"]


def test_bad_slate_is_a_422_naming_row_and_column_and_nothing_is_stored(slateless: Api) -> None:
    lines = DEMO_SLATE.decode().splitlines()
    header = lines[0].split(",")
    salary_col = header.index("Salary")
    row = lines[3].split(",")
    row[salary_col] = "lots"
    broken = "\n".join([*lines[:3], ",".join(row), *lines[4:]]).encode()
    problem = assert_problem(_put(slateless, broken), 422)
    assert problem["type"].endswith("invalid-slate")
    (err,) = problem["errors"]
    assert err["row"] == 4 and err["column"] == "Salary"
    assert not (slates_dir() / f"{RACE}.csv").exists()


def test_failed_upload_keeps_the_previous_slate(slateless: Api, real_names: list[str]) -> None:
    assert _put(slateless, dk_salaries(real_names)).status_code == 200
    assert _put(slateless, b"Name,Salary\nx,1\n").status_code == 422
    assert (slates_dir() / f"{RACE}.csv").read_bytes() == dk_salaries(real_names)


def test_unknown_race_and_wrong_media_type(slateless: Api, real_names: list[str]) -> None:
    assert_problem(_put(slateless, dk_salaries(real_names), race="1999-cup-nowhere-1"), 404)
    assert_problem(_put(slateless, dk_salaries(real_names), content_type="application/json"), 415)


def test_a_race_without_a_slate_is_refused_at_submit(slateless: Api) -> None:
    problem = assert_problem(submit(slateless, slateless.key("zed"), body()), 409)
    assert problem["type"].endswith("slate-missing")
    assert RACE in problem["detail"]
    assert slateless.client.get("/v1/lineup-requests", headers=slateless.key("zed")).json()["items"] == []


def test_a_request_keeps_the_slate_version_it_was_submitted_with(
    slateless: Api, real_names: list[str]
) -> None:
    first = _put(slateless, dk_salaries(real_names)).json()["version"]
    user = slateless.key("zed")
    created = submit(slateless, user, body(), key="pinned-request-1")
    assert created.status_code == 202, created.text
    assert created.json()["spec"]["slate_version"] == first

    second = _put(slateless, dk_salaries(list(reversed(real_names)))).json()["version"]
    assert second != first
    # The old version stays where the request's runs read it.
    assert (slates_dir() / RACE / f"{first}.csv").exists()
    status = slateless.client.get(created.headers["Location"], headers=user).json()
    assert status["spec"]["slate_version"] == first
    # A retry of the first request replays it, pinned as it was.
    replay = submit(slateless, user, body(), key="pinned-request-1")
    assert replay.status_code == 202 and replay.json()["id"] == created.json()["id"]
    assert replay.json()["spec"]["slate_version"] == first
    later = submit(slateless, user, body(), key="pinned-request-2")
    assert later.json()["spec"]["slate_version"] == second


def test_a_spec_may_name_a_stored_slate_version_only(slateless: Api, real_names: list[str]) -> None:
    version = _put(slateless, dk_salaries(real_names)).json()["version"]
    user = slateless.key("zed")
    ok = submit(slateless, user, body(slate_version=version))
    assert ok.status_code == 202, ok.text
    problem = assert_problem(submit(slateless, user, body(slate_version="0" * 16)), 422)
    assert "slate_version" in str(problem["errors"])


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
