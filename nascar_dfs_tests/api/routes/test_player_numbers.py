"""The player's own numbers over REST: a CSV of projections and/or ownership uploaded for a race by
one owner, folded into that owner's lineup request spec (so it keys its own partition), with every
bad row and unknown name a 422 naming it; the spec form's ownership bounds; names checked against
the slate version the request pins. The Dagster side (lineups that follow the numbers) is
nascar_dfs_tests/defs/contest/test_player_numbers.py; here the fake launcher receives the spec."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from api.services.slates import slates_dir
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.slate_store import save_slate, slate_version

from ..conftest import RACE, Api
from ..helpers import assert_problem, body, submit

DEMO_SLATE = (Path(DEMO_DIR) / "DKSalaries.csv").read_bytes()
GOOD = (
    b"Driver,Mean,SD,Ownership\n"
    b"Demo Driver 01,55.5,9,40%\n"
    b"demo driver 02,12,,2.5\n"  # any case: matched to the slate's spelling
    b"Demo Driver 03,,,30\n"  # ownership only
)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    # Several requests of one owner stay unfinished here (the fake launcher never ends them).
    return make_api(active_runs_per_key=20)


def upload(api: Api, content: bytes, owner: str = "alice", race: str = RACE, scope: str = "user"):  # type: ignore[no-untyped-def]
    return api.client.put(
        f"/v1/races/{race}/player-numbers",
        content=content,
        headers={**api.key(owner, scope), "Content-Type": "text/csv"},
    )


def spec_sent(api: Api, request_id: str) -> ConstraintSpec:
    """The spec the run was launched with, as Dagster would receive it."""
    api.worker.run_once()
    return ConstraintSpec.model_validate_json(api.launcher.only_run_for(request_id).request.spec_json)


def test_an_uploaded_file_is_folded_into_the_owners_request_spec(api: Api) -> None:
    resp = upload(api, GOOD)
    assert resp.status_code == 200, resp.text
    stored = resp.json()
    assert stored | {"version": "v"} == {
        "race_id": RACE,
        "version": "v",
        "drivers": 3,
        "projections": 2,
        "ownership": 3,
        "slate_version": slate_version(DEMO_SLATE),
    }
    headers = api.key("alice")
    plain = submit(api, headers).json()
    own = submit(api, headers, {**body(), "player_numbers": [stored["version"]]})
    assert own.status_code == 202, own.text
    spec = spec_sent(api, own.json()["id"])
    assert spec.projections["Demo Driver 01"].mean == 55.5 and spec.projections["Demo Driver 01"].sd == 9
    assert spec.projections["Demo Driver 02"].mean == 12 and spec.projections["Demo Driver 02"].sd is None
    assert spec.ownership == {"Demo Driver 01": 40.0, "Demo Driver 02": 2.5, "Demo Driver 03": 30.0}
    assert own.json()["spec"]["ownership"]["Demo Driver 03"] == 30.0  # the request shows what it runs
    assert spec.key != ConstraintSpec.model_validate(plain["spec"]).key  # its own partition

    other = upload(api, GOOD.replace(b"55.5", b"56.5")).json()["version"]
    again = submit(api, headers, {**body(), "player_numbers": [other]})
    assert spec_sent(api, again.json()["id"]).key != spec.key  # other numbers, another partition


def test_one_owners_file_never_reaches_another_owners_request(api: Api) -> None:
    version = upload(api, GOOD, owner="alice").json()["version"]
    problem = assert_problem(submit(api, api.key("bob"), {**body(), "player_numbers": [version]}), 422)
    assert problem["errors"][0]["loc"] == ["body", "player_numbers", "0"]
    assert "uploaded with your key" in problem["detail"]
    assert api.launcher.launches == []


def test_bad_rows_and_unknown_names_are_a_422_naming_each(api: Api) -> None:
    bad = (
        b"driver,mean,sd,ownership\n"
        b"Nobody Here,40,,\n"
        b"Demo Driver 01,nan,,\n"
        b"Demo Driver 02,30,-2,\n"
        b"Demo Driver 03,20,,150%\n"
        b"Demo Driver 04,20,,-1\n"
        b"Demo Driver 05,lots,,\n"
        b"Demo Driver 05,20,,\n"
    )
    problem = assert_problem(upload(api, bad), 422)
    assert problem["type"].endswith("invalid-player-numbers")
    rows = {(e["row"], e["column"]) for e in problem["errors"]}
    assert {(3, "mean"), (4, "sd"), (5, "ownership"), (6, "ownership"), (7, "mean"), (8, "driver")} <= rows
    for name in ("Demo Driver 01", "Demo Driver 02", "Demo Driver 03", "Demo Driver 04", "Demo Driver 05"):
        assert name in problem["detail"]
    # The names are checked once the rows are good: the unknown one is named with its row.
    problem = assert_problem(
        upload(api, b"driver,mean\nNobody Here,40\nAlso Nobody,3\nDemo Driver 01,9\n"), 422
    )
    assert [(e["row"], "not a driver" in e["msg"]) for e in problem["errors"]] == [(3, True), (2, True)]
    assert "Also Nobody" in problem["detail"] and "Nobody Here" in problem["detail"]
    header = assert_problem(upload(api, b"who,points\nDemo Driver 01,40\n"), 422)
    assert "header must name driver" in header["detail"]
    assert_problem(upload(api, GOOD, race="1999-cup-nowhere-1"), 404)
    assert_problem(upload(api, GOOD, scope="requests:read"), 403)
    # A bare carriage return inside a line (what schemathesis sent) broke the csv module: a 500.
    cr = assert_problem(upload(api, "<\x1a9\U00108d07\x0bn\r\xd4\xbf\x85".encode()), 422)
    assert "header must name driver" in cr["detail"]
    split = assert_problem(upload(api, b"driver,mean\rDemo Driver 01,x\r"), 422)
    assert [(e["row"], e["column"]) for e in split["errors"]] == [(2, "mean")]


def test_a_file_and_the_spec_giving_the_same_value_is_a_422_naming_the_driver(api: Api) -> None:
    version = upload(api, GOOD).json()["version"]
    spec = {"ownership": {"Demo Driver 03": 10.0}, "projections": {"Demo Driver 04": {"mean": 30.0}}}
    clash = submit(api, api.key("alice"), {**body(**spec), "player_numbers": [version]})
    problem = assert_problem(clash, 422)
    assert "Demo Driver 03 (ownership)" in problem["detail"]
    fine = {"projections": {"Demo Driver 04": {"mean": 30.0}}}
    resp = submit(api, api.key("alice"), {**body(**fine), "player_numbers": [version]})
    assert resp.status_code == 202, resp.text


def test_spec_ownership_out_of_bounds_is_a_422_naming_the_driver(api: Api) -> None:
    for share in (-1.0, 100.5, "lots"):
        problem = assert_problem(submit(api, api.key(), body(ownership={"Demo Driver 07": share})), 422)
        assert ["body", "spec", "ownership", "Demo Driver 07"] in [e["loc"] for e in problem["errors"]], (
            problem
        )
    nan = api.client.post(
        "/v1/lineup-requests",
        content='{"race_id": "' + RACE + '", "spec": {"ownership": {"Demo Driver 07": NaN}}}',
        headers={**api.key(), "Idempotency-Key": "nan-ownership-1", "Content-Type": "application/json"},
    )
    assert assert_problem(nan, 422)
    too_much = {f"Demo Driver {k:02d}": 90.0 for k in range(1, 9)}
    problem = assert_problem(submit(api, api.key(), body(ownership=too_much)), 422)
    assert "adds up to 720%" in json.dumps(problem)
    unknown = assert_problem(submit(api, api.key(), body(ownership={"Nobody": 5.0})), 422)
    assert unknown["errors"][0]["loc"] == ["body", "spec", "ownership"] and "Nobody" in unknown["detail"]
    assert api.launcher.launches == []


def test_spec_names_are_checked_against_the_slate_version_the_request_pins(api: Api) -> None:
    first = slate_version(DEMO_SLATE)
    renamed = DEMO_SLATE.replace(b"Demo Driver 01", b"Newcomer Driver")
    save_slate(slates_dir(), RACE, renamed)  # the race's current slate no longer has Demo Driver 01
    own = {"projections": {"Demo Driver 01": {"mean": 40.0}}}
    problem = assert_problem(submit(api, api.key(), body(**own)), 422)
    assert "Demo Driver 01" in problem["detail"]
    pinned = submit(api, api.key(), body(**own, slate_version=first))
    assert pinned.status_code == 202, pinned.text
    newcomer = submit(api, api.key(), body(ownership={"Newcomer Driver": 12.0}))
    assert newcomer.status_code == 202, newcomer.text


def test_ownership_that_leaves_nothing_for_the_other_drivers_is_a_422_at_submit(api: Api) -> None:
    # Six drivers at 100% fill the 600% of six roster slots: the slate's other 30 drivers get nothing,
    # which no field of valid lineups can follow (found here, not by a failing run).
    full = {f"Demo Driver {k:02d}": 100.0 for k in range(1, 7)}
    problem = assert_problem(submit(api, api.key(), body(ownership=full)), 422)
    assert problem["errors"][0]["loc"] == ["body", "spec", "ownership"]
    assert "leaving 0.0% for the 30 other drivers" in problem["detail"]
    assert api.launcher.launches == []


def test_a_file_above_the_body_limit_is_a_413_and_a_json_body_a_415(api: Api) -> None:
    huge = GOOD + b"#" * (api.settings.max_request_bytes + 1)
    assert_problem(upload(api, huge), 413)
    wrong = api.client.put(
        f"/v1/races/{RACE}/player-numbers",
        json={"Demo Driver 01": 40},
        headers=api.key(),
    )
    assert_problem(wrong, 415)


def test_an_owner_lists_reads_back_and_deletes_their_own_files_only(api: Api) -> None:
    first = upload(api, GOOD).json()["version"]
    second = upload(api, GOOD.replace(b"55.5", b"56.5")).json()["version"]
    upload(api, GOOD.replace(b"55.5", b"57.5"), owner="bob")
    alice = api.key("alice")

    listed = api.client.get(f"/v1/races/{RACE}/player-numbers", headers=alice)
    assert listed.status_code == 200, listed.text
    assert {item["version"] for item in listed.json()["items"]} == {first, second}  # not bob's
    assert all(item["size_bytes"] > 0 for item in listed.json()["items"])

    read = api.client.get(f"/v1/races/{RACE}/player-numbers/{first}", headers=alice)
    assert read.status_code == 200 and read.headers["content-type"].startswith("text/csv")
    assert read.text.encode() == GOOD  # byte for byte what was sent
    assert_problem(api.client.get(f"/v1/races/{RACE}/player-numbers/{first}", headers=api.key("bob")), 404)
    assert_problem(api.client.delete(f"/v1/races/{RACE}/player-numbers/{first}", headers=api.key("bob")), 404)

    gone = api.client.delete(f"/v1/races/{RACE}/player-numbers/{first}", headers=alice)
    assert gone.status_code == 204, gone.text
    after = api.client.get(f"/v1/races/{RACE}/player-numbers", headers=alice).json()["items"]
    assert [item["version"] for item in after] == [second]
    assert_problem(api.client.delete(f"/v1/races/{RACE}/player-numbers/{first}", headers=alice), 404)
    problem = assert_problem(submit(api, alice, {**body(), "player_numbers": [first]}), 422)
    assert "uploaded with your key" in problem["detail"]  # a deleted file is one never uploaded


def test_a_request_that_named_a_deleted_file_keeps_its_numbers(api: Api) -> None:
    version = upload(api, GOOD).json()["version"]
    own = submit(api, api.key("alice"), {**body(), "player_numbers": [version]}).json()
    api.client.delete(f"/v1/races/{RACE}/player-numbers/{version}", headers=api.key("alice"))
    shown = api.client.get(f"/v1/lineup-requests/{own['id']}", headers=api.key("alice")).json()
    assert shown["spec"]["ownership"]["Demo Driver 01"] == 40.0
    assert spec_sent(api, own["id"]).projections["Demo Driver 01"].mean == 55.5


def test_listing_an_unknown_race_is_a_404_and_a_malformed_version_a_422(api: Api) -> None:
    alice = api.key("alice")
    assert_problem(api.client.get("/v1/races/no-such-race/player-numbers", headers=alice), 404)
    assert api.client.get(f"/v1/races/{RACE}/player-numbers", headers=alice).json()["items"] == []
    assert_problem(api.client.get(f"/v1/races/{RACE}/player-numbers/NOT-HEX", headers=alice), 422)
