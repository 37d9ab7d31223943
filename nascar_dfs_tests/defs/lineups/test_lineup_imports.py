"""The lineup run (scenario_set, lineups, the upload CSV) imports nothing of the model's fitting
stack: a run worker that loads the code location and executes the lineup job's steps on a
materialized calibration must not pay PyMC's, PyTensor's, nutpie's or numba's import (issue 18).

The check runs in a fresh interpreter, since this test process may have imported anything. The
calibration it reads is real (the calibrated_model asset written through FittedModel.save and
recorded on a SQLite instance); only its posterior draws are made up here, because a fit would
itself import PyMC and take a minute of sampling.

The child loads the code location as Dagster's run worker does (reconstructed from its code
pointer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from nascar_dfs.commands.demo import upcoming_demo_race
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.model.design import build_design
from nascar_dfs.core.model.fitted import FitDiagnostics, FittedModel
from nascar_dfs.core.model.parameters import EFFECTS
from nascar_dfs.core.scenarios.dominance import estimate_dominance
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform import science
from nascar_dfs.platform.partitions import register_races
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.resources import FileStorage, NascarData

# The packages of the fit and our modules that build its PyTensor graph. (nascar_dfs.core.model.fit
# itself may load: it imports the stack only inside its functions.)
FITTING_STACK = (
    "pymc",
    "pytensor",
    "nutpie",
    "numba",
    "llvmlite",
    "arviz",
    "nascar_dfs.core.model.plackett_luce",
    "nascar_dfs.core.model.pl_op",
    "nascar_dfs.core.model.compile_cache",
)

# What a plain spec's run (enumerable lineup space, no contest, no player numbers, no min exposure)
# never uses: the contest module's ownership fit (SciPy's least squares, 0.3-0.6 s of import on two
# cores) and the MILP solver (PuLP and HiGHS), for spaces too large to enumerate or planned exposures.
PLAIN_SPEC_UNUSED = (
    "scipy",
    "pulp",
    "highspy",
    "nascar_dfs.core.contest.slate",
    "nascar_dfs.core.contest.ownership",
)

# What the run worker of a lineup run does, in one process: load the code location as Dagster's run
# worker does (reconstructed from its code pointer; storage and data folder from the environment),
# then execute the lineup job's steps for a spec whose model and slate are already materialized.
CHILD = """
import json, sys
import dagster as dg
from dagster._core.code_pointer import CodePointer
from dagster._core.definitions.reconstruct import reconstruct_repository_def_from_pointer

reconstruct_repository_def_from_pointer(
    CodePointer.from_module("nascar_dfs.definitions", "defs", working_directory=None)
)
from nascar_dfs.definitions import defs
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.resources import FileStorage

loaded = sorted(sys.modules)
spec = ConstraintSpec(lineups=20, scenarios=1000, max_exposure=0.6)
with dg.DagsterInstance.get() as instance:
    plan, results = request_lineups(defs, instance, sys.argv[1], spec, storage_root=FileStorage().root())
jobs = [r.step.job for r in results]
print(json.dumps({"jobs": jobs, "loaded": loaded, "after_run": sorted(sys.modules)}))
"""


def made_up_model(history, race: str, draws: int = 200) -> FittedModel:
    """A FittedModel over the real design index of ``race``, with random posterior draws."""
    index = build_design(history, race).index
    sizes = {
        "drivers": len(index.drivers),
        "teams": len(index.teams),
        "manufacturers": len(index.manufacturers),
        "track_types": len(index.track_types),
    }
    rng = np.random.default_rng(0)
    values = {
        name: rng.normal(0.0, 0.3, (draws, *(sizes[a] for a in axes))).astype(np.float32)
        for name, axes in EFFECTS.items()
        if name != "pace_coef"
    }
    for name in ("sd_skill", "sd_driver_track", "sd_team", "sd_make_track", "sd_dnf_driver"):
        values[name] = np.abs(values[name]) + np.float32(0.05)
    values["dnf_rate"] -= np.float32(2.5)  # about 8% DNFs, as in real races
    diagnostics = FitDiagnostics(
        sampler="nutpie",
        chains=2,
        draws=draws // 2,
        divergences=0,
        max_rhat=1.0,
        min_ess_bulk=400.0,
        n_races=10,
        n_drivers=sizes["drivers"],
        mean_tree_size=7.0,
    )
    return FittedModel(
        race_id=race,
        track_type=history.race(race).track_type,
        index=index,
        draws=values,
        diagnostics=diagnostics,
        config={},
        dominance=estimate_dominance(history, race).to_dict(),
        likelihood="reverse",
    )


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a run worker's lineup run loaded, on a demo race whose model and slate are materialized
    (by this process, with a made-up fit), plus the storage folder and race."""
    tmp_path = tmp_path_factory.mktemp("lineup-run")
    home, storage_dir = tmp_path / "home", tmp_path / "storage"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    race = upcoming_demo_race(Path(DEMO_DIR))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setattr(science, "fit", lambda history, race, options: made_up_model(history, race))
        patch.setattr(
            science,
            "score_finish",
            lambda model, history, race, scenarios, seed: {
                "race": race,
                "crps": 5.0,
                "baseline_crps": 6.0,
                "pit": [0.5],
            },
        )
        storage = FileStorage(base_path=str(storage_dir))
        defs = build_definitions({"storage": storage, "nascar_data": NascarData(data_dir=str(DEMO_DIR))})
        with dg.DagsterInstance.get() as instance:
            register_races(instance, [race])
            _, results = request_lineups(
                defs, instance, race, ConstraintSpec(lineups=3, scenarios=200), storage_root=storage.root()
            )
    assert [r.step.job for r in results] == ["calibration_job", "lineup_job"]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NASCAR_DFS_STORAGE": str(storage_dir),
        "NASCAR_DFS_DATA_DIR": str(DEMO_DIR),
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, race], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {**report, "storage": storage_dir, "race": race}


def test_a_lineup_run_imports_nothing_of_the_fitting_stack(worker: dict[str, Any]) -> None:
    # Only the lineup job ran: the calibration was current, so this is the lineup path alone.
    assert worker["jobs"] == ["lineup_job"]
    csv = next((worker["storage"] / "dk_upload_csv" / worker["race"]).glob("*.csv"))
    assert len(csv.read_text().strip().splitlines()) == 1 + 20
    for stage in ("loaded", "after_run"):
        heavy = [m for m in worker[stage] if m.split(".")[0] in FITTING_STACK or m in FITTING_STACK]
        assert heavy == [], f"{stage}: {heavy[:20]}"
    unused = [
        m for m in worker["after_run"] if m.split(".")[0] in PLAIN_SPEC_UNUSED or m in PLAIN_SPEC_UNUSED
    ]
    assert unused == [], f"a plain spec's run imported what it never uses: {unused[:20]}"
