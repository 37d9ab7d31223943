"""Issue 15's acceptance through the REST API: a race week in real formats (raceweek_files.py: real
history with a flawed race and a venue missing its surface, an upcoming race added by `nascar-dfs
race add`, a DKSalaries.csv without StartPos, with a blank TeamAbbrev and one unknown name) on a
real Dagster deployment (webserver + daemon + run workers) and a real PostgreSQL server, with the
real assets and jobs (the calibration's chain is the demo's short one, e2e_defs.py). Run after the
default suite by scripts/test.sh:

    python -m pytest -m dagster_e2e nascar_dfs_tests/api/test_raceweek_e2e.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.config import Settings
from api.services.keys import create_key
from nascar_dfs_tests.raceweek_files import break_history, build_race_week

from .dagster_stack import E2E_MODULE, POSTGRES_INSTANCE, REPO, dagster_stack
from .test_dagster_e2e import _postgres_for_dagster_and_api

pytestmark = [pytest.mark.slow, pytest.mark.dagster_e2e]
# The console script's own entry (`python -m nascar_dfs.cli` would load the module twice).
CLI = "import sys; from nascar_dfs.cli import main; sys.exit(main(sys.argv[1:]))"
SPEC = {"lineups": 5, "max_exposure": 0.8, "scenarios": 1000}
TERMINAL = {"succeeded", "failed", "canceled"}


def _key(app, owner: str, scope: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    secret = create_key(app.state.ctx.engine, owner, scope, time.time()).secret_key
    return {"Authorization": f"Bearer {secret}"}


def _wait(client: TestClient, headers: dict[str, str], rid: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        got = client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
        if got["status"] in TERMINAL:
            return got
        assert time.monotonic() < deadline, f"request {rid} still {got['status']} after {timeout_s} s"
        time.sleep(1.0)


def _submit(client: TestClient, headers: dict[str, str], race: str, spec: dict):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/lineup-requests",
        json={"race_id": race, "spec": spec},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )


@pytest.mark.timeout(5400)  # a first calibration on two cores shared by a busy machine
def test_a_real_race_week_through_the_rest_api(tmp_path: Path, shared_data_dir: Path) -> None:
    import dagster as dg

    week = build_race_week(shared_data_dir, tmp_path / "week")
    race = week.race_id
    with _postgres_for_dagster_and_api() as pg:
        dagster_env, database_url = pg if pg else ({}, f"sqlite:///{tmp_path / 'api.db'}")
        instance_yaml = POSTGRES_INSTANCE if pg else REPO / "dagster.yaml"
        stack_env = {**dagster_env, "NASCAR_DFS_DATA_DIR": str(week.data_dir)}
        with dagster_stack(tmp_path, stack_env, module=E2E_MODULE, instance_yaml=instance_yaml) as stack:
            # The upcoming race, added from the command line as a user would (registers its partition).
            added = subprocess.run(
                [sys.executable, "-c", CLI, *week.race_add_args()],
                env=stack.env,
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            assert added.returncode == 0, added.stderr
            names = ("DAGSTER_HOME", "NASCAR_DFS_STORAGE", "NASCAR_DFS_DATA_DIR", *dagster_env)
            old = {k: os.environ.get(k) for k in names}
            os.environ.update(
                {
                    "DAGSTER_HOME": str(stack.home),
                    "NASCAR_DFS_STORAGE": str(stack.storage),
                    "NASCAR_DFS_DATA_DIR": str(week.data_dir),
                    **dagster_env,
                }
            )
            try:
                settings = Settings(
                    database_url=database_url,
                    dagster_url=stack.url,
                    worker_interval_s=0.5,
                    data_dir=week.data_dir,
                    submit_per_minute=100,
                    active_runs_per_key=10,
                )
                app = create_app(settings)
                with TestClient(app) as client:
                    admin, user = _key(app, "ops", "admin"), _key(app, "bob", "user")
                    instance = dg.DagsterInstance.get()
                    try:
                        _race_week(client, admin, user, instance, week, race)
                    finally:
                        instance.dispose()
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v


def _race_week(client, admin, user, instance, week, race) -> None:  # type: ignore[no-untyped-def]
    import dagster as dg

    # The race `race add` put in the platform's calendar, and its partition, are the API's too.
    got = client.get(f"/v1/races/{race}", headers=user)
    assert got.status_code == 200, got.text
    assert got.json()["upcoming"] and not got.json()["has_slate"] and not got.json()["has_starting_lineup"]
    refused = _submit(client, user, race, SPEC)  # no slate yet: never another race's salaries
    assert refused.status_code == 409 and refused.json()["type"].endswith("/slate-missing")

    # The unknown name is refused with its closest history names, and accepted once declared.
    slate = week.slate.read_bytes()
    csv = {**admin, "Content-Type": "text/csv"}
    unknown = client.put(f"/v1/races/{race}/slate", content=slate, headers=csv)
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown-drivers")
    (listed,) = unknown.json()["errors"]
    assert listed["name"] == week.unknown_name and listed["suggestions"]
    declared = client.put(
        f"/v1/races/{race}/slate", content=slate, headers=csv, params={"new_drivers": week.unknown_name}
    )
    assert declared.status_code == 200, declared.text
    version = declared.json()["version"]
    assert declared.json()["drivers"] == len(week.drivers)

    # A second user cannot replace the race's slate for everyone.
    other = client.put(
        f"/v1/races/{race}/slate",
        content=slate.replace(b"11000", b"11100", 1),
        headers={**user, "Content-Type": "text/csv"},
        params={"new_drivers": week.unknown_name},
    )
    assert other.status_code == 403 and other.json()["type"].endswith("/forbidden-scope")
    assert client.get(f"/v1/races/{race}", headers=user).json()["slate_version"] == version

    # No StartPos and no starting lineup: the request succeeds and says its grid was simulated.
    first = _submit(client, user, race, SPEC)
    assert first.status_code == 202, first.text
    done = _wait(client, user, first.json()["id"], timeout_s=2700)
    assert done["status"] == "succeeded", done.get("error")
    assert [w["code"] for w in done["warnings"]] == ["start-positions-unknown"]
    assert done["warnings"][0]["detail"]
    assert done["spec"]["slate_version"] == version
    lineups = client.get(f"/v1/lineup-requests/{done['id']}/lineups", headers=user).json()["lineups"]
    assert len(lineups) == 5 and all(len(lu["drivers"]) == 6 for lu in lineups)

    # The flawed race is quarantined (its starts masked) and listed; the surfaceless venue loaded.
    quality = client.get("/v1/data-quality", headers=admin)
    assert quality.status_code == 200, quality.text
    items = quality.json()["items"]
    flawed = [i for i in items if i["race_id"] == week.flawed_race]
    assert flawed and flawed[0]["file"] == "cup_results.csv" and flawed[0]["column"] == "start"
    assert flawed[0]["row"] == week.flawed_row and flawed[0]["action"] == "starts-masked"
    assert not [
        i for i in items if i["track_slug"] == week.surfaceless_track and i["action"] != "starts-masked"
    ]
    assert client.get("/v1/data-quality", headers=user).status_code == 403

    # The starting lineup: the next request of the same spec rebuilds and has no warning.
    lineup = client.put(
        f"/v1/races/{race}/starting-lineup",
        content=week.starting_lineup.read_bytes(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert lineup.status_code == 200, lineup.text
    assert client.get(f"/v1/races/{race}", headers=user).json()["has_starting_lineup"]
    second = _submit(client, user, race, SPEC)
    assert second.status_code == 202, second.text
    rebuilt = _wait(client, user, second.json()["id"], timeout_s=1200)
    assert rebuilt["status"] == "succeeded", rebuilt.get("error")
    assert rebuilt["warnings"] == []
    assert rebuilt["spec_key"] == done["spec_key"]
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"nascar/request_id": rebuilt["id"]}))
    assert [r.job_name for r in runs] == ["lineup_job"]  # the scenarios were rebuilt, not reused
    # The first request keeps what it was built on.
    assert _wait(client, user, done["id"], 5)["warnings"] == done["warnings"]

    # A history the loader cannot contain: the request fails naming file, row and column. Another
    # race in the calendar makes the next request reload the history (the plan's calendar check).
    file, row, column = break_history(week)
    later = {"date": "2026-11-01", "track_slug": week.track_slug, "laps": week.laps}
    assert client.put(f"/v1/races/{race[:-1]}2", json=later, headers=admin).status_code == 200
    broken = _submit(client, user, race, {**SPEC, "lineups": 4})
    assert broken.status_code == 202, broken.text
    failed = _wait(client, user, broken.json()["id"], timeout_s=900)
    assert failed["status"] == "failed"
    detail = failed["error"]["detail"]
    assert file in detail and f"row {row}" in detail and column in detail, detail
    assert "Error occurred while executing" not in detail and "/tmp" not in detail and "/work" not in detail
