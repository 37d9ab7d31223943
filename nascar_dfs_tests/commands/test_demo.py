"""`nascar-dfs demo` as a user runs it: a demo race through Dagster, then the same request reused."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from nascar_dfs.cli import main


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("NASCAR_DFS_STORAGE", raising=False)
    monkeypatch.delenv("NASCAR_DFS_DATA_DIR", raising=False)
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    return home


def test_demo_builds_the_upload_csv_on_the_dagster_home_instance_and_then_reuses_it(dagster_home, capfd):
    args = ["demo", "--quick", "--lineups", "3", "--scenarios", "300"]

    assert main(args) == 0
    first_out, first_err = capfd.readouterr()
    first = first_out
    assert main(args) == 0
    second = capfd.readouterr().out
    assert main(["demo", "--quick", "--lineups", "4", "--scenarios", "300", "--verbose"]) == 0
    verbose = "".join(capfd.readouterr())

    upload = Path(re.search(r"DraftKings upload CSV: (\S+)", first).group(1))
    assert upload.is_relative_to(dagster_home / "storage")
    assert len(pd.read_csv(upload)) == 3
    assert (dagster_home / "dagster.yaml").exists() and list(dagster_home.glob("history/runs*"))
    for asset in ("calibrated_model", "scenario_set", "lineups", "dk_upload_csv"):
        assert re.search(rf"^\s+{asset}\s+[\d.]+ s", first, re.MULTILINE), first
    assert "nothing recomputed" in second
    # One line per step, not Dagster's event stream; --verbose brings that back.
    assert "DEBUG" not in first_out + first_err and "STEP_START" not in first_out + first_err
    assert re.search(r"^run \S+ \(calibration_job, partition ", first, re.MULTILINE)
    assert "DEBUG" in verbose and "STEP_START" in verbose


def test_demo_refuses_an_impossible_request_with_a_one_line_error(dagster_home, capsys):
    assert main(["demo", "--lineups", "0"]) == 2
    assert "lineups" in capsys.readouterr().err
