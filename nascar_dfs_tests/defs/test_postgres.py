"""Against a real PostgreSQL, switched by environment alone: what one process records, a new one sees.

Needs NASCAR_DFS_TEST_PG_DSN (`eval "$(bash scripts/services/postgres.sh start)"`).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest

from nascar_dfs.platform.materializations import latest_materialization
from nascar_dfs_tests.platform.fakes import UPCOMING

DSN = os.environ.get("NASCAR_DFS_TEST_PG_DSN")
REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not DSN,
        reason='NASCAR_DFS_TEST_PG_DSN is not set: run `eval "$(bash scripts/services/postgres.sh start)"`',
    ),
]


def pg_env(home: Path) -> dict[str, str]:
    url = urlparse(DSN or "")
    return {
        "DAGSTER_PG_HOST": url.hostname or "",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.path.lstrip("/"),
        "DAGSTER_HOME": str(home),
    }


def write_in_new_process(env: dict[str, str], storage: Path, data_dir: Path, min_salary: int) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nascar_dfs_tests.defs.pg_writer",
            str(storage),
            str(data_dir),
            str(min_salary),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_runs_materializations_and_checks_survive_in_postgres_for_a_new_process(
    tmp_path, data_dir, monkeypatch
):
    env = pg_env(tmp_path / "home")
    storage = tmp_path / "storage"
    min_salary = random.randint(0, 40_000)  # a spec of its own: the database outlives test runs

    written = write_in_new_process(env, storage, data_dir, min_salary)
    again = write_in_new_process(env, storage, data_dir, min_salary)

    assert not written["reused"] and len(written["runs"]) == 2
    assert again["reused"] and again["runs"] == []  # the second process reused what the first built
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert "postgres" in (tmp_path / "home" / "dagster.yaml").read_text()
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = [instance.get_run_by_id(run_id) for run_id in written["runs"]]
        assert all(run.is_success for run in runs)
        assert {run.tags["nascar/kind"] for run in runs} == {"calibration", "lineups"}
        checks = {
            r.event_log_entry.dagster_event.event_specific_data.check_name
            for run in runs
            for r in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        }
        assert {"sampler_diagnostics", "rejection_rate", "lineup_validity"} <= checks
        partition = f"{UPCOMING}|{written['spec']}"
        upload = latest_materialization(instance, "dk_upload_csv", partition)
        assert upload is not None and upload.run_id == written["runs"][1]
        assert Path(upload.value("path")).read_text().startswith("D,D,D,D,D,D")
