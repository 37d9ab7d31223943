"""The code location loads every area folder as `dg` does, and passes `dg check defs`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

import nascar_dfs.defs
from nascar_dfs.definitions import area_definitions, default_resources, defs

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def live_instance() -> Iterator[None]:
    # Resolving definitions reads the current instance's defs-state storage; an instance closed
    # by an earlier test must not be the one it finds.
    with dg.instance_for_test():
        yield


CHAIN = ["race_history", "race_slate", "calibrated_model", "scenario_set", "lineups", "dk_upload_csv"]


def test_the_defs_folder_holds_only_area_folders():
    folder = Path(nascar_dfs.defs.__file__).parent
    loose = sorted(p.name for p in folder.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    areas = sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert {"calibration", "contest", "graph", "lineups"} <= set(areas)


def test_every_area_is_loaded():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert (
        set(CHAIN) | {"calibration_history", "race_graph", "ownership_projection", "contest_report"} <= keys
    )
    assert {"race_graph_store", "storage", "io_manager", "phase_hooks"} <= set(defs.resources)


def test_the_code_location_is_what_dg_loads_from_the_project():
    platform = dg.Definitions(resources=default_resources())
    ours = dg.Definitions.merge(area_definitions(), platform)
    theirs = dg.Definitions.merge(dg.load_from_defs_folder(path_within_project=REPO_ROOT), platform)

    def summary(d: dg.Definitions) -> dict[str, set[str]]:
        graph = d.resolve_asset_graph()
        return {
            "assets": {k.to_user_string() for k in graph.get_all_asset_keys()},
            "checks": {k.to_user_string() for k in graph.asset_check_keys},
            "jobs": {j.name for j in d.resolve_all_job_defs()},
            "schedules": {s.name for s in d.schedules or []},
            "sensors": {s.name for s in d.sensors or []},
            "resources": set(d.resources or {}),
        }

    assert summary(ours) == summary(theirs)


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


def test_dg_check_defs_passes_without_an_instance_home():
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
