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
