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


def test_progress_shows_elapsed_and_time_left_per_race_and_json_stays_clean(
    shared_data_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    import numpy as np

    from nascar_dfs.core.evaluation import backtest
    from nascar_dfs.core.evaluation.backtest import ModelForecast, observed_outcome

    # A stand-in for the refit + simulate forecaster (minutes of MCMC per race): the observed result
    # repeated, so the command's own work (progress, report, JSON) is what runs for real.
    def oracle(history, field, scenarios, seed):  # type: ignore[no-untyped-def]
        observed = observed_outcome(history, field)
        ensemble = [np.tile(v, (scenarios, 1)) for v in (observed.finish, observed.dk_points)]
        return ModelForecast(ensemble[0], ensemble[1], {}, 2.0, 0.1)

    monkeypatch.setattr(backtest, "fitted_model_forecaster", lambda *args, **kwargs: oracle)
    # The stand-in compiles nothing, and an earlier test of this process may have imported PyTensor
    # with another cache folder, which configure_compile_cache refuses (rightly, in a real run).
    from nascar_dfs.core.model import fit

    monkeypatch.setattr(fit, "configure_compile_cache", lambda *args, **kwargs: None)
    args = ["--data-dir", str(shared_data_dir), "--season", "2024", "--last", "3", "--scenarios", "10"]
    status = main(["backtest", *args, "--json"])
    assert status == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout is exactly one JSON document
    assert [r["race_id"] for r in report["races"]][-1] == "2024-cup-phoenix-2"
    lines = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert [line[:5] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    for line in lines[:2]:
        assert re.search(r"\| elapsed \d+s, about \d+s left$", line), line
    assert re.search(r"\| elapsed \d+s, done$", lines[2]), lines[2]


def test_time_left_is_the_mean_time_per_race_times_the_races_to_go(
    capsys: pytest.CaptureFixture,
) -> None:
    from nascar_dfs.commands.backtest import RaceProgress

    now = [100.0]
    progress = RaceProgress(clock=lambda: now[0])
    now[0] += 150.0  # the first of 10 races took 2.5 minutes
    progress("[1/10] 2024-cup-x-1 (short): finish CRPS model 5.00 vs baseline 5.50")
    now[0] += 3450.0
    progress("[2/10] 2024-cup-x-2: FAILED, divergences")
    progress("a line without a race count passes unchanged")
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("| elapsed 2m30s, about 22m30s left")
    assert err[1].endswith("| elapsed 1h00m, about 4h00m left")
    assert err[2] == "a line without a race count passes unchanged"
