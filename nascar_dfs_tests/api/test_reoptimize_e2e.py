"""Issue 16 item 2's acceptance through the REST API on a real Dagster deployment (webserver + daemon
+ run workers, PostgreSQL when the test server is there) with the real assets and science (the
calibration's chain is the demo's short one, e2e_defs.py): a finished request's DKEntries.csv is
re-optimized after one driver is ruled out and another sent to the rear. Run with the other
real-stack tests:

    python -m pytest -m dagster_e2e nascar_dfs_tests/api/test_reoptimize_e2e.py
"""

from __future__ import annotations

import csv
import io
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
from nascar_dfs_tests.raceweek_files import build_race_week

from .dagster_stack import E2E_MODULE, POSTGRES_INSTANCE, REPO, dagster_stack
from .test_dagster_e2e import _postgres_for_dagster_and_api
from .test_raceweek_e2e import CLI, _key, _submit, _wait

pytestmark = [pytest.mark.slow, pytest.mark.dagster_e2e]
SPEC = {"lineups": 5, "max_exposure": 0.8, "scenarios": 1000, "objective": "scenario"}


@pytest.mark.timeout(5400)
def test_a_finished_requests_entries_re_optimized_through_the_rest_api(
    tmp_path: Path, shared_data_dir
) -> None:
    import dagster as dg

    week = build_race_week(shared_data_dir, tmp_path / "week")
    with _postgres_for_dagster_and_api() as pg:
        dagster_env, database_url = pg if pg else ({}, f"sqlite:///{tmp_path / 'api.db'}")
        instance_yaml = POSTGRES_INSTANCE if pg else REPO / "dagster.yaml"
        stack_env = {**dagster_env, "NASCAR_DFS_DATA_DIR": str(week.data_dir)}
        with dagster_stack(tmp_path, stack_env, module=E2E_MODULE, instance_yaml=instance_yaml) as stack:
            added = subprocess.run(
                [sys.executable, "-c", CLI, *week.race_add_args()],
                env=stack.env, cwd=REPO, capture_output=True, text=True,
            )  # fmt: skip
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
                        _late_swap(client, admin, user, instance, week)
                    finally:
                        instance.dispose()
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v


def _late_swap(client, admin, user, instance, week) -> None:  # type: ignore[no-untyped-def]
    race = week.race_id
    csv_headers = {**admin, "Content-Type": "text/csv"}
    slate = client.put(
        f"/v1/races/{race}/slate", content=week.slate.read_bytes(), headers=csv_headers,
        params={"new_drivers": week.unknown_name},
    )  # fmt: skip
    assert slate.status_code == 200, slate.text
    lineup = client.put(
        f"/v1/races/{race}/starting-lineup", content=week.starting_lineup.read_bytes(), headers=csv_headers
    )
    assert lineup.status_code == 200, lineup.text
    submitted = _submit(client, user, race, SPEC)
    assert submitted.status_code == 202, submitted.text
    done = _wait(client, user, submitted.json()["id"], timeout_s=2700)
    assert done["status"] == "succeeded", done.get("error")
    upload = client.get(f"/v1/lineup-requests/{done['id']}/dk-upload.csv", headers=user).text
    portfolio = list(csv.reader(io.StringIO(upload)))[1:]
    entries = "Entry ID,Contest Name,Contest ID,Entry Fee,D,D,D,D,D,D\n" + "".join(
        f"{5_100_000 + i},NASCAR Cup $3 Classic,188001122,$3,{','.join(row)}\n"
        for i, row in enumerate(portfolio)
    )
    with week.slate.open(newline="", encoding="utf-8-sig") as fh:
        salaries = {row["ID"]: row for row in csv.DictReader(fh)}
    counts: dict[str, int] = {}
    for row in portfolio:
        for cell in row:
            counts[cell] = counts.get(cell, 0) + 1
    out_id = max(counts, key=lambda cell: counts[cell])
    rear_id = next(cell for cell in salaries if cell not in counts)
    body = {"entries_csv": entries, "out": [salaries[out_id]["Name"]], "to_rear": [salaries[rear_id]["Name"]]}

    other = client.post(
        f"/v1/lineup-requests/{done['id']}/reoptimize", json=body,
        headers={**_key(client.app, "eve", "user"), "Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert other.status_code == 404  # another owner's request
    accepted = client.post(
        f"/v1/lineup-requests/{done['id']}/reoptimize", json=body,
        headers={**user, "Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    deadline = time.monotonic() + 900
    while (job := client.get(location, headers=user).json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(1.0)
    assert job["status"] == "succeeded", job.get("error")
    result = client.get(job["result"]["dk_entries_csv"], headers=user)
    assert result.status_code == 200, result.text
    rows = list(csv.reader(io.StringIO(result.text)))
    before = list(csv.reader(io.StringIO(entries)))
    assert rows[0] == before[0] and [r[:4] for r in rows[1:]] == [r[:4] for r in before[1:]]
    for old, new in zip(before[1:], rows[1:], strict=True):
        ids = new[4:10]
        assert out_id not in ids and len(set(ids)) == 6 and set(ids) <= set(salaries)
        assert sum(int(salaries[i]["Salary"]) for i in ids) <= 50_000
        kept = [cell for cell in old[4:10] if cell != out_id]
        assert [new[4 + k] for k, cell in enumerate(old[4:10]) if cell != out_id] == kept
    # Dagster ran it: one reoptimize_job run, which re-simulated the race on the new grid.
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(tags={"nascar/reoptimization_id": job["id"]}))
    assert [r.job_name for r in runs] == ["reoptimize_job"]
    record = instance.get_latest_materialization_event(dg.AssetKey("reoptimized_entries"))
    assert record is not None and record.asset_materialization.metadata["resimulated"].value is True
