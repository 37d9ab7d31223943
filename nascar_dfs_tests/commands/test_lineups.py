"""`nascar-dfs lineups`: a race week in real formats (nascar_dfs_tests/raceweek_files.py) through the
CLI door, as a user types it: `race add`, then `lineups` with the DraftKings slate, the starting
lineup, and a history that breaks. The fast tests stop before any Dagster run; the end-to-end one
runs the model, the scenarios and the optimizer through Dagster (slow: a real calibration)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nascar_dfs.core.scenarios.starts import START_POSITIONS_UNKNOWN
from nascar_dfs_tests.raceweek_files import RaceWeek, break_history, build_race_week

# The console script's own entry (`python -m nascar_dfs.cli` would load the module twice).
MAIN = "import sys; from nascar_dfs.cli import main; sys.exit(main(sys.argv[1:]))"
SMALL = ["--quick", "--lineups", "3", "--scenarios", "300"]


@pytest.fixture
def week(tmp_path: Path, shared_data_dir: Path) -> RaceWeek:
    return build_race_week(shared_data_dir, tmp_path / "week")


@pytest.fixture
def env(tmp_path: Path, week: RaceWeek) -> dict[str, str]:
    return {
        **os.environ,
        "NASCAR_DFS_DATA_DIR": str(week.data_dir),
        "NASCAR_DFS_STORAGE": str(tmp_path / "storage"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MAIN, *args], env=env, capture_output=True, text=True)


def lineups(env: dict[str, str], week: RaceWeek, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(env, "lineups", "--race", week.race_id, "--out", str(out), *args)


def test_an_unknown_race_is_refused_before_anything_runs(env, week, tmp_path):
    done = lineups(env, week, tmp_path / "up.csv", "--slate", str(week.slate))
    assert done.returncode == 2
    assert f"unknown race {week.race_id}" in done.stderr and "race add" in done.stderr


def test_a_race_without_a_slate_is_refused_naming_the_upload(env, week, tmp_path):
    assert cli(env, *week.race_add_args()).returncode == 0
    done = lineups(env, week, tmp_path / "up.csv")
    assert done.returncode == 2
    assert "has no slate" in done.stderr and "race slate" in done.stderr
    assert "run " not in done.stdout  # no Dagster run was started


def test_the_unknown_name_is_refused_with_the_closest_history_names(env, week, tmp_path):
    assert cli(env, *week.race_add_args()).returncode == 0
    done = lineups(env, week, tmp_path / "up.csv", "--slate", str(week.slate))
    assert done.returncode == 2
    assert week.unknown_name in done.stderr and "closest" in done.stderr and "--new-drivers" in done.stderr


def test_spec_flags_and_a_spec_file_are_not_mixed_and_bad_values_name_the_field(env, week, tmp_path):
    assert cli(env, *week.race_add_args()).returncode == 0
    spec = tmp_path / "spec.json"
    spec.write_text('{"lineups": 0}', encoding="utf-8")
    both = lineups(env, week, tmp_path / "up.csv", "--spec", str(spec), "--lineups", "3")
    assert both.returncode == 2 and "not both" in both.stderr
    bad = lineups(env, week, tmp_path / "up.csv", "--spec", str(spec))
    assert bad.returncode == 2 and "spec.json: lineups:" in bad.stderr
    flag = lineups(env, week, tmp_path / "up.csv", "--max-exposure", "2")
    assert flag.returncode == 2 and "max_exposure" in flag.stderr


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in done.stderr.splitlines() if line.startswith("nascar-dfs lineups: error:"))


def test_a_broken_history_fails_with_its_file_row_and_column(env, week, tmp_path):
    """The first step, race_history, fails (a row naming no race); the root cause is what the user
    reads, not Dagster's "Error occurred while executing op"."""
    assert cli(env, *week.race_add_args()).returncode == 0
    file, row, column = break_history(week)
    done = lineups(
        env, week, tmp_path / "up.csv", "--slate", str(week.slate), "--new-drivers", week.unknown_name
    )
    assert done.returncode == 2
    message = _error_line(done)
    assert file in message and f"row {row}" in message and column in message, done.stderr
    assert "Error occurred while executing" not in done.stderr and "Traceback" not in done.stderr
    assert re.search(r"^\s+race_history\s+[\d.]+ s\s+FAILED", done.stdout, re.MULTILINE), done.stdout
    assert not (tmp_path / "up.csv").exists()


def _upload_ids(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["D"] * 6
    return rows[1:]


def _slate_ids(week: RaceWeek) -> set[str]:
    with week.slate.open(newline="", encoding="utf-8-sig") as fh:
        return {row["ID"] for row in csv.DictReader(fh)}


@pytest.mark.slow
def test_the_race_week_through_the_cli(env, week, tmp_path):
    """The acceptance of issue 15 through `nascar-dfs lineups`: the flawed race quarantined and said,
    the unknown name accepted once declared, start-positions-unknown until the starting lineup is
    given, and a broken history failing with its file, row and column."""
    assert cli(env, *week.race_add_args()).returncode == 0
    out = tmp_path / "upload.csv"

    done = lineups(env, week, out, "--slate", str(week.slate), "--new-drivers", week.unknown_name, *SMALL)
    assert done.returncode == 0, done.stderr
    for step in (
        "race_history",
        "calibrated_model",
        "race_slate",
        "scenario_set",
        "lineups",
        "dk_upload_csv",
    ):
        assert re.search(rf"^\s+{step}\s+[\d.]+ s", done.stdout, re.MULTILINE), done.stdout
    assert f"warning {START_POSITIONS_UNKNOWN}:" in done.stdout
    assert f"cup_results.csv row {week.flawed_row}" in done.stdout  # the data_quality warning
    assert "DEBUG" not in done.stdout + done.stderr  # not Dagster's event stream
    first = _upload_ids(out)
    assert len(first) == 3 and {cell for row in first for cell in row} <= _slate_ids(week)

    started = lineups(env, week, out, "--starts", str(week.starting_lineup), *SMALL)
    assert started.returncode == 0, started.stderr
    assert START_POSITIONS_UNKNOWN not in started.stdout
    assert re.search(r"^\s+scenario_set\s+[\d.]+ s", started.stdout, re.MULTILINE)  # rebuilt
    assert "calibrated_model" not in started.stdout  # the model is current: not refitted
    assert len(_upload_ids(out)) == 3

    unknown = lineups(env, week, out, "--lock", "Nobody Atall", *SMALL)
    assert unknown.returncode == 2
    assert "Nobody Atall" in _error_line(unknown) and "Error occurred while executing" not in unknown.stderr
