"""`nascar-dfs optimize`: DKSalaries.csv in, lineups and an upload CSV of that file's ids out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from nascar_dfs.cli import main
from nascar_dfs.core.data.draftkings import read_upload_csv
from nascar_dfs_tests.conftest import BENCH_DATA

SLATE = BENCH_DATA / "slate.csv"


@pytest.fixture(scope="module")
def slate() -> Path:
    if not SLATE.exists():
        pytest.fail(f"benchmark slate not found at {SLATE}")
    return SLATE


def _slate_ids(path: Path) -> set[int]:
    with path.open(newline="") as handle:
        return {int(row["ID"]) for row in csv.DictReader(handle)}


def test_upload_csv_holds_only_ids_from_the_salary_file(slate: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "upload.csv"
    code = main(["optimize", "--slate", str(slate), "--lineups", "20", "--max-exposure", "0.6",
                 "--min-unique", "2", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    lineups = read_upload_csv(out)
    ids = _slate_ids(slate)
    assert len(lineups) == 20 == len(payload["lineups"])
    assert all(dk_id in ids for lineup in lineups for dk_id in lineup)
    assert all(len(set(lineup)) == 6 for lineup in lineups)
    assert [sorted(x["dk_ids"]) for x in payload["lineups"]] == [sorted(x) for x in lineups]
    assert payload["lineups"][0]["projection"] == pytest.approx(258.19)
    assert payload["build_seconds"] > 0


def test_projection_file_replaces_avg_points(slate: Path, tmp_path: Path, capsys) -> None:
    with slate.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    projections = tmp_path / "proj.csv"
    # Flat projections except one cheap driver who becomes a must-play.
    cheapest = min(rows, key=lambda row: int(row["Salary"]))["Name"]
    projections.write_text(
        "name,points\n" + "".join(f"{r['Name']},{100 if r['Name'] == cheapest else 10}\n" for r in rows)
    )
    assert main(["optimize", "--slate", str(slate), "--lineups", "3", "--projections", str(projections),
                 "--json"]) == 0  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    assert all(cheapest in lineup["drivers"] for lineup in payload["lineups"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lineups", "150", "--max-exposure", "0.1"], "driver slots for 900 needed"),
        (["--lineups", "0"], "--lineups"),
        (["--lineups", "5", "--max-exposure", "0"], "--max-exposure"),
    ],
)
def test_bad_requests_exit_2_and_write_nothing(slate: Path, tmp_path: Path, capsys, extra, message) -> None:
    out = tmp_path / "upload.csv"
    code = main(["optimize", "--slate", str(slate), "--out", str(out), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_or_broken_inputs_exit_2(slate: Path, tmp_path: Path, capsys) -> None:
    assert main(["optimize", "--slate", str(tmp_path / "none.csv"), "--lineups", "2"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "proj.csv"
    bad.write_text("name,points\nDriver 01,lots\n")
    assert main(["optimize", "--slate", str(slate), "--lineups", "2", "--projections", str(bad)]) == 2
    assert "not a number" in capsys.readouterr().err
    partial = tmp_path / "partial.csv"
    partial.write_text("name,points\nDriver 01,50\n")
    assert main(["optimize", "--slate", str(slate), "--lineups", "2", "--projections", str(partial)]) == 2
    assert "missing" in capsys.readouterr().err


def test_the_command_imports_no_pandas(slate: Path, tmp_path: Path) -> None:
    """pandas is a third of the command's time and only a container on its path (issue 18)."""
    import subprocess
    import sys

    argv = ["optimize", "--slate", str(slate), "--lineups", "5", "--out", str(tmp_path / "u.csv")]
    script = f"import sys; from nascar_dfs.cli import main; print(main({argv!r}), 'pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 False"
