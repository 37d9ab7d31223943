"""The code location loads, holds every area, and passes Dagster's own validation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.definitions import area_modules, defs

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def live_instance() -> Iterator[None]:
    # Resolving definitions reads the current instance's defs-state storage; an instance closed
    # by an earlier test must not be the one it finds.
    with dg.instance_for_test():
        yield


CHAIN = ["race_history", "race_slate", "calibrated_model", "scenario_set", "lineups", "dk_upload_csv"]


def test_every_area_with_a_definitions_module_is_merged():
    assert {"nascar_dfs.defs.calibration.definitions", "nascar_dfs.defs.lineups.definitions"} <= set(
        area_modules()
    )
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert set(CHAIN) | {"calibration_history"} <= keys


def test_lineup_chain_lineage_runs_from_history_to_upload_file():
    graph = defs.resolve_asset_graph()

    def parents(name: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}

    assert parents("calibrated_model") == {"race_history"}
    assert parents("race_slate") == {"race_history"}
    assert parents("scenario_set") == {"calibrated_model", "race_slate", "race_history"}
    assert parents("lineups") == {"scenario_set", "race_slate", "contest_field"}
    assert parents("contest_field") == {"ownership_projection"}
    assert parents("contest_report") == {"lineups", "contest_field", "scenario_set", "race_slate"}
    assert parents("dk_upload_csv") == {"lineups"}


def test_every_job_carries_a_max_runtime_and_a_kind_and_the_lineup_job_runs_in_process():
    for name in ("calibration_job", "lineup_job"):
        job = defs.resolve_job_def(name)
        assert int(job.tags["dagster/max_runtime"]) > 0
        assert job.tags["nascar/kind"] in {"calibration", "lineups"}
    assert defs.resolve_job_def("lineup_job").executor_def.name == "in_process"


def test_dagster_definitions_validate_passes(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "nascar_dfs.definitions"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed validation" in done.stdout + done.stderr
