"""Upcoming races of the platform's calendar and starting lineups, through the REST API on the real
history (the data folder is read, never written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nascar_dfs.platform.race_calendar import calendar_path
from nascar_dfs.platform.starting_lineups import starting_lineup
from nascar_dfs_tests.slate_files import dk_salaries, race_drivers

from ..conftest import RACE, Api
from ..helpers import assert_problem

UPCOMING = "2026-cup-phoenix-1"
RACE_BODY = {"date": "2026-03-08", "track_slug": "phoenix", "laps": 312, "name": "Shriners Children's 500"}


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "storage"
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(root))
    return root


@pytest.fixture
def real(make_api, shared_data_dir: Path, storage: Path) -> Api:  # type: ignore[no-untyped-def]
    return make_api(data_dir=shared_data_dir, slates=False)


def _admin(api: Api) -> dict[str, str]:
    return api.key("ops", "admin")


def test_an_admin_adds_an_upcoming_race_and_its_partition_at_once(real: Api, storage: Path) -> None:
    resp = real.client.put(f"/v1/races/{UPCOMING}", json=RACE_BODY, headers=_admin(real))
    assert resp.status_code == 200, resp.text
    race = resp.json()
    assert race["date"] == "2026-03-08" and race["track_slug"] == "phoenix" and race["laps"] == 312
    assert race["upcoming"] and not race["completed"]
    assert race["has_slate"] is False and race["has_starting_lineup"] is False
    assert race["calibrated_at"] is None
    assert UPCOMING in real.launcher.races()
    assert calendar_path(storage).exists()
    listed = {r["race_id"] for r in real.client.get("/v1/races", headers=real.key()).json()["items"]}
    assert UPCOMING in listed
    got = real.client.get(f"/v1/races/{UPCOMING}", headers=real.key())
    assert got.status_code == 200 and got.json()["name"] == "Shriners Children's 500"


def test_unknown_track_is_a_422_naming_it(real: Api) -> None:
    body = {**RACE_BODY, "track_slug": "phenix"}
    problem = assert_problem(
        real.client.put("/v1/races/2026-cup-phenix-1", json=body, headers=_admin(real)), 422
    )
    assert problem["type"].endswith("unknown-track")
    assert "phenix" in problem["detail"] and "phoenix" in problem["detail"]
    assert "2026-cup-phenix-1" not in real.launcher.races()


def test_a_race_id_that_disagrees_with_its_date_or_a_race_already_run_is_refused(real: Api) -> None:
    problem = assert_problem(
        real.client.put("/v1/races/2025-cup-phoenix-1", json=RACE_BODY, headers=_admin(real)), 422
    )
    assert problem["type"].endswith("invalid-race") and "season 2025" in problem["detail"]
    problem = assert_problem(
        real.client.put(f"/v1/races/{RACE}", json={**RACE_BODY, "date": "2024-11-10"}, headers=_admin(real)),
        422,
    )
    assert "run already" in problem["detail"]


def test_only_an_admin_adds_races(real: Api) -> None:
    assert_problem(real.client.put(f"/v1/races/{UPCOMING}", json=RACE_BODY, headers=real.key()), 403)
    assert UPCOMING not in real.launcher.races()


def test_a_completed_race_reports_its_slate_and_model(real: Api) -> None:
    real.launcher.calibrated[RACE] = 1_800_000_000.0
    names = race_drivers(real.settings.data_dir, RACE)  # type: ignore[arg-type]
    put = real.client.put(
        f"/v1/races/{RACE}/slate",
        content=dk_salaries(names),
        headers={**_admin(real), "Content-Type": "text/csv"},
    )
    assert put.status_code == 200, put.text
    race = real.client.get(f"/v1/races/{RACE}", headers=real.key()).json()
    assert race["completed"] and race["has_slate"] and race["slate_version"] == put.json()["version"]
    assert race["calibrated_at"].startswith("2027-01-15")
    assert_problem(real.client.get("/v1/races/1999-cup-nowhere-1", headers=real.key()), 404)


def _lineup_csv(names: list[str]) -> bytes:
    return ("driver,start\n" + "".join(f"{n},{i + 1}\n" for i, n in enumerate(names))).encode()


def test_starting_lineup_csv_is_stored_and_reported(real: Api, storage: Path) -> None:
    names = race_drivers(real.settings.data_dir, RACE)  # type: ignore[arg-type]
    resp = real.client.put(
        f"/v1/races/{RACE}/starting-lineup",
        content=_lineup_csv(list(reversed(names))),
        headers={**_admin(real), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["drivers"] == len(names)
    stored = starting_lineup(storage, RACE)
    assert stored is not None and stored[names[-1]] == 1 and stored[names[0]] == len(names)
    assert real.client.get(f"/v1/races/{RACE}", headers=real.key()).json()["has_starting_lineup"]


def test_bad_starting_lineup_rows_are_a_422_naming_each(real: Api, storage: Path) -> None:
    names = race_drivers(real.settings.data_dir, RACE)[:5]  # type: ignore[arg-type]
    text = f"driver,start\n{names[0]},1\n{names[1]},1\nNobody Atall,3\n{names[3]},x\n{names[4]},9\n"
    problem = assert_problem(
        real.client.put(
            f"/v1/races/{RACE}/starting-lineup",
            content=text.encode(),
            headers={**_admin(real), "Content-Type": "text/csv"},
        ),
        422,
    )
    assert problem["type"].endswith("invalid-starting-lineup")
    where = {(e["row"], e["column"]) for e in problem["errors"]}
    assert where == {(3, "start"), (4, "driver"), (5, "start"), (6, "start")}
    assert starting_lineup(storage, RACE) is None
    # Old Mac line ends (a bare carriage return) are lines too, not a 500 from the csv module.
    cr = f"driver,start\r{names[0]},x\r".encode()
    resp = real.client.put(
        f"/v1/races/{RACE}/starting-lineup", content=cr, headers={**_admin(real), "Content-Type": "text/csv"}
    )
    assert {(e["row"], e["column"]) for e in assert_problem(resp, 422)["errors"]} == {(2, "start")}


def test_starting_lineup_from_nascars_weekend_feed(real: Api, storage: Path) -> None:
    sample = json.loads((real.settings.data_dir / "feed-samples" / "weekend-feed.json").read_text())  # type: ignore[operator]
    names = race_drivers(real.settings.data_dir, RACE)  # type: ignore[arg-type]
    template = sample["weekend_race"][0]["results"][0]
    sample["weekend_race"][0]["results"] = [
        {**template, "driver_fullname": n, "starting_position": len(names) - i} for i, n in enumerate(names)
    ]
    resp = real.client.put(
        f"/v1/races/{RACE}/starting-lineup",
        content=json.dumps(sample).encode(),
        headers={**_admin(real), "Content-Type": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    assert starting_lineup(storage, RACE)[names[0]] == len(names)  # type: ignore[index]
    # The trimmed sample itself lists 3 of 36 drivers: starts 6, 7 and 1 are not 1..3.
    raw = (real.settings.data_dir / "feed-samples" / "weekend-feed.json").read_bytes()  # type: ignore[operator]
    problem = assert_problem(
        real.client.put(
            f"/v1/races/{RACE}/starting-lineup",
            content=raw,
            headers={**_admin(real), "Content-Type": "application/json"},
        ),
        422,
    )
    assert {e["column"] for e in problem["errors"]} == {"start"}


def test_only_an_admin_uploads_a_starting_lineup(real: Api) -> None:
    names = race_drivers(real.settings.data_dir, RACE)  # type: ignore[arg-type]
    assert_problem(
        real.client.put(
            f"/v1/races/{RACE}/starting-lineup",
            content=_lineup_csv(names),
            headers={**real.key(), "Content-Type": "text/csv"},
        ),
        403,
    )


def test_a_schedule_feed_adds_its_season_races_in_one_call(
    real: Api, storage: Path, shared_data_dir: Path
) -> None:
    feed = (shared_data_dir / "feed-samples" / "schedule-feed.json").read_bytes()
    json_body = {**_admin(real), "Content-Type": "application/json"}
    resp = real.client.post("/v1/race-schedules", content=feed, headers=json_body)
    assert resp.status_code == 200, resp.text
    added = {r["race_id"]: r for r in resp.json()["races"]}
    assert set(added) == {"2026-cup-sonoma-1", "2026-cup-homestead-1"}
    assert added["2026-cup-sonoma-1"]["nascar_race_id"] == 5617
    assert added["2026-cup-sonoma-1"]["laps_from"] == "2024-cup-sonoma-1"
    assert set(added) <= set(real.launcher.races())  # partitions registered at once
    got = real.client.get("/v1/races/2026-cup-homestead-1", headers=real.key()).json()
    assert got["upcoming"] and got["date"] == "2026-11-08"


def test_a_schedule_feed_is_admin_only_and_a_bad_one_is_a_problem(real: Api) -> None:
    session = {"run_type": 3, "series_id": 1, "race_id": 1, "track_name": "Nowhere Speedway"}
    feed = json.dumps([{**session, "start_time": "2026-05-01T12:00:00"}])
    user = {**real.key(), "Content-Type": "application/json"}
    assert_problem(real.client.post("/v1/race-schedules", content=feed, headers=user), 403)
    admin = {**_admin(real), "Content-Type": "application/json"}
    bad = assert_problem(real.client.post("/v1/race-schedules", content=feed, headers=admin), 422)
    assert bad["type"].endswith("invalid-race") and "Nowhere Speedway" in bad["detail"]
    not_json = assert_problem(real.client.post("/v1/race-schedules", content=b"{", headers=admin), 422)
    assert "not a JSON document" in not_json["detail"]
    as_csv = {**_admin(real), "Content-Type": "text/csv"}
    assert_problem(real.client.post("/v1/race-schedules", content=feed, headers=as_csv), 415)
