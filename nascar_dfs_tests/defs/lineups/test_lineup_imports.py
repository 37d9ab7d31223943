"""The lineup run (scenario_set, lineups, the upload CSV) imports nothing of the model's fitting
stack: a run worker that loads the code location and executes the lineup job's steps on a
materialized calibration must not pay PyMC's, PyTensor's, nutpie's or numba's import (issue 18).

The check runs in a fresh interpreter, since this test process may have imported anything. The
calibration it reads is real (the calibrated_model asset written through FittedModel.save and
recorded on a SQLite instance); only its posterior draws are made up here, because a fit would
itself import PyMC and take a minute of sampling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    "nascar_dfs.core.model.compile_speed",
)

# What only a spec with a contest or the player's own numbers needs: the contest module's ownership
# fit (SciPy's least squares, 0.3-0.6 s of import on two cores) is not part of a plain spec's run.
CONTEST_ONLY = ("scipy", "nascar_dfs.core.contest.slate", "nascar_dfs.core.contest.ownership")

# What the run worker of a lineup run does, in one process: load the code location, then execute
# the lineup job's steps for a spec whose model and slate are already materialized.
CHILD = """
import json, sys
import dagster as dg
from nascar_dfs.definitions import build_definitions
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.resources import FileStorage, NascarData

storage_dir, data_dir, race = sys.argv[1:4]
storage = FileStorage(base_path=storage_dir)
defs = build_definitions({"storage": storage, "nascar_data": NascarData(data_dir=data_dir)})
loaded = sorted(sys.modules)
spec = ConstraintSpec(lineups=20, scenarios=1000, max_exposure=0.6)
with dg.DagsterInstance.get() as instance:
    plan, results = request_lineups(defs, instance, race, spec, storage_root=storage.root())
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


@pytest.fixture
def calibrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str]:
    """DAGSTER_HOME, storage folder and race of a demo race whose model and slate are materialized."""
    home, storage_dir = tmp_path / "home", tmp_path / "storage"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setattr(science, "fit", lambda history, race, options: made_up_model(history, race))
    monkeypatch.setattr(
        science,
        "score_finish",
        lambda model, history, race, scenarios, seed: {
            "race": race,
            "crps": 5.0,
            "baseline_crps": 6.0,
            "pit": [0.5],
        },
    )
    race = upcoming_demo_race(Path(DEMO_DIR))
    storage = FileStorage(base_path=str(storage_dir))
    defs = build_definitions({"storage": storage, "nascar_data": NascarData(data_dir=str(DEMO_DIR))})
    with dg.DagsterInstance.get() as instance:
        register_races(instance, [race])
        _, results = request_lineups(
            defs, instance, race, ConstraintSpec(lineups=3, scenarios=200), storage_root=storage.root()
        )
    assert [r.step.job for r in results] == ["calibration_job", "lineup_job"]
    return home, storage_dir, race


def test_a_lineup_run_imports_nothing_of_the_fitting_stack(calibrated: tuple[Path, Path, str]) -> None:
    home, storage_dir, race = calibrated
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(storage_dir), str(DEMO_DIR), race],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Only the lineup job ran: the calibration was current, so this is the lineup path alone.
    assert report["jobs"] == ["lineup_job"]
    csv = next((storage_dir / "dk_upload_csv" / race).glob("*.csv"))
    assert len(csv.read_text().strip().splitlines()) == 1 + 20
    for stage in ("loaded", "after_run"):
        heavy = [m for m in report[stage] if m.split(".")[0] in FITTING_STACK or m in FITTING_STACK]
        assert heavy == [], f"{stage}: {heavy[:20]}"
    contest = [m for m in report["after_run"] if m.split(".")[0] in CONTEST_ONLY or m in CONTEST_ONLY]
    assert contest == [], f"a plain spec's run imported the contest stack: {contest[:20]}"
