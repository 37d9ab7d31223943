"""`nascar-dfs backtest` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nascar_dfs.cli import main


def test_missing_data_folder_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "nowhere"
    status = main(["backtest", "--data-dir", str(missing), "--season", "2024"])
    assert status == 2
    err = capsys.readouterr().err
    assert "nascar-dfs backtest: error:" in err and "nowhere" in err and "does not exist" in err


def test_season_without_races_exits_2_and_names_the_seasons(
    shared_data_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    status = main(["backtest", "--data-dir", str(shared_data_dir), "--season", "2030", "--json"])
    assert status == 2
    captured = capsys.readouterr()
    assert "season 2030 has no points races" in captured.err and "2015" in captured.err
    assert captured.out == ""  # no half-written JSON


def test_bad_last_is_rejected(shared_data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["backtest", "--data-dir", str(shared_data_dir), "--season", "2024", "--last", "0"])
    assert status == 2
    assert "--last must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_backtest_of_the_demo_data_prints_one_json_document() -> None:
    from nascar_dfs.core.data.demo import DEMO_DIR
    from nascar_dfs.core.data.history import load_history

    season = int(load_history(DEMO_DIR).points_races()["season"].max())
    # A fresh process, as a user runs it: the compile cache must be configured before pytensor loads.
    command = [sys.executable, "-m", "nascar_dfs.cli", "backtest", "--data-dir", str(DEMO_DIR)]
    command += ["--season", str(season), "--last", "1", "--scenarios", "200"]
    command += ["--tune", "300", "--draws", "500", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert len(report["races"]) == 1
    race = report["races"][0]
    assert race["model_finish_crps"] > 0 and race["baseline_finish_crps"] > 0
    assert 0.0 <= race["model_dk_coverage"] <= 1.0
    assert report["overall"]["total_fit_seconds"] > 0
    assert "[1/1]" in done.stderr  # progress goes to stderr, not into the JSON


def test_readable_table_lists_races_track_types_and_targets(shared_data_dir: Path) -> None:
    import numpy as np

    from nascar_dfs.commands.backtest import render_table
    from nascar_dfs.core.data.history import load_history
    from nascar_dfs.core.evaluation.backtest import ModelForecast, observed_outcome, run_backtest

    def oracle(history, field, scenarios, seed):  # type: ignore[no-untyped-def]
        observed = observed_outcome(history, field)
        ensemble = [np.tile(v, (scenarios, 1)) for v in (observed.finish, observed.dk_points)]
        return ModelForecast(ensemble[0], ensemble[1], {}, 2.0, 0.1)

    history = load_history(shared_data_dir)
    table = render_table(run_backtest(history, 2024, last=2, scenarios=10, forecaster=oracle))
    assert "2024-cup-martinsville-2" in table and "2024-cup-phoenix-2" in table
    assert "overall" in table and "short" in table
    assert "targets: finish met | DK met | coverage MISSED" in table
    assert "4.0 s total" in table
    # the product's candidates and its choice per track type are in the readable report too
    assert "ranked replay" in table and "chosen (per track type)" in table
    assert "chosen on short" in table and "chosen model 2, replay 0" in table
