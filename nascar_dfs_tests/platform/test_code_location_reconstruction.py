"""A run worker loads the code location the code server serves: Dagster reconstructs the definitions
to execute a run, and that load leaves out only the component library the UI's component browser
reads (nascar_dfs/definitions.py), never an asset, check, job, schedule, sensor or resource.

The reconstruction runs in a fresh interpreter, where `nascar_dfs.definitions` is first imported
under Dagster's reconstruction context, as in a run worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import dagster as dg

from nascar_dfs.definitions import defs

LIBRARY_KEY = "plugin_component_types_json"  # Dagster's key of the component library metadata

# Dagster's own entry to a run worker's load: the code pointer reconstructed, not initialized.
CHILD = """
import json
from dagster._core.code_pointer import CodePointer
from dagster._core.definitions.reconstruct import reconstruct_repository_def_from_pointer

repo = reconstruct_repository_def_from_pointer(
    CodePointer.from_module("nascar_dfs.definitions", "defs", working_directory=None)
)
graph = repo.asset_graph
print(json.dumps({
    "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
    "checks": sorted(k.to_user_string() for k in graph.asset_check_keys),
    "jobs": sorted(j.name for j in repo.get_all_jobs()),
    "schedules": sorted(s.name for s in repo.schedule_defs),
    "sensors": sorted(s.name for s in repo.sensor_defs),
    "resources": sorted(repo.get_top_level_resources()),
    "metadata": sorted(repo.metadata or {}),
}))
"""


def served() -> dict[str, Any]:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(k.to_user_string() for k in graph.asset_check_keys),
        "jobs": sorted(j.name for j in repo.get_all_jobs()),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
        "resources": sorted(repo.get_top_level_resources()),
        "metadata": sorted(repo.metadata or {}),
    }


def test_a_run_worker_loads_what_the_code_server_serves_without_the_component_library() -> None:
    with dg.instance_for_test():  # the served load reads the current instance's defs state
        server = served()
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    worker = json.loads(done.stdout.strip().splitlines()[-1])
    assert LIBRARY_KEY in server["metadata"]
    assert worker["metadata"] == [k for k in server["metadata"] if k != LIBRARY_KEY]
    assert {k: v for k, v in worker.items() if k != "metadata"} == {
        k: v for k, v in server.items() if k != "metadata"
    }
    assert "lineup_job" in worker["jobs"]
