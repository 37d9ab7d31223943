"""`nascar-dfs reoptimize`: a DKEntries.csv re-optimized before lock through the CLI door, on the
race week's real-format files (nascar_dfs_tests/raceweek_files.py). The fast tests are refused
before any Dagster run; the end-to-end one builds the lineups, then re-optimizes them on the race's
scenarios after one driver is ruled out and another sent to the rear (slow: a real calibration)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from nascar_dfs_tests.commands.test_lineups import SMALL, cli, lineups
from nascar_dfs_tests.raceweek_files import RaceWeek, build_race_week

HEADER = ["Entry ID", "Contest Name", "Contest ID", "Entry Fee", *["D"] * 6]


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


def _entries(path: Path, lineups_rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for number, row in enumerate(lineups_rows):
            writer.writerow([str(3_300_000 + number), "NASCAR Cup $3 Classic", "178923450", "$3", *row])
    return path


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _slate(week: RaceWeek) -> dict[str, dict[str, str]]:
    with week.slate.open(newline="", encoding="utf-8-sig") as fh:
        return {row["ID"]: row for row in csv.DictReader(fh)}


def reoptimize(env, week, entries: Path, out: Path, *args: str):
    return cli(env, "reoptimize", "--race", week.race_id, "--entries", str(entries), "--out", str(out), *args)


def _stored_slate(env, week) -> None:
    assert cli(env, *week.race_add_args()).returncode == 0
    declared = ("--new-drivers", week.unknown_name)
    assert cli(env, "race", "slate", week.race_id, str(week.slate), *declared).returncode == 0


def test_unknown_drivers_and_ids_are_named_before_any_run(env, week, tmp_path):
    _stored_slate(env, week)
    ids = list(_slate(week))[:5]
    entries = _entries(tmp_path / "DKEntries.csv", [[*ids, "99999999"]])
    done = reoptimize(env, week, entries, tmp_path / "out.csv", "--out-driver", "Nobody Atall")
    assert done.returncode == 2
    assert "Nobody Atall" in done.stderr and "99999999" in done.stderr, done.stderr
    assert "run " not in done.stdout and not (tmp_path / "out.csv").exists()


def test_a_file_that_is_not_a_dk_entries_csv_names_its_header(env, week, tmp_path):
    _stored_slate(env, week)
    bad = tmp_path / "DKEntries.csv"
    bad.write_text("Entry,Contest\n1,2\n", encoding="utf-8")
    done = reoptimize(env, week, bad, tmp_path / "out.csv", "--out-driver", week.drivers[0])
    assert done.returncode == 2 and "header must start with Entry ID" in done.stderr, done.stderr


@pytest.mark.slow
def test_a_driver_out_and_one_sent_to_the_rear_through_the_cli(env, week, tmp_path):
    """Acceptance of issue 16 item 2 through `nascar-dfs reoptimize`."""
    assert cli(env, *week.race_add_args()).returncode == 0
    upload = tmp_path / "upload.csv"
    built = lineups(
        env, week, upload, "--slate", str(week.slate), "--new-drivers", week.unknown_name,
        "--starts", str(week.starting_lineup), *SMALL,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    portfolio = _rows(upload)[1:]
    entries = _entries(tmp_path / "DKEntries.csv", portfolio)
    counts: dict[str, int] = {}
    for row in portfolio:
        for cell in row:
            counts[cell] = counts.get(cell, 0) + 1
    slate = _slate(week)
    out_id = max(counts, key=lambda cell: counts[cell])  # the most-used driver is ruled out
    rear_id = next(cell for cell in slate if cell not in counts)  # one not in any entry goes to the rear
    out_name, rear_name = slate[out_id]["Name"], slate[rear_id]["Name"]
    result = tmp_path / "reoptimized.csv"

    done = reoptimize(env, week, entries, result, "--out-driver", out_name, "--to-rear", rear_name, *SMALL)

    assert done.returncode == 0, done.stderr
    assert "everything was already materialized and current" in done.stdout  # the lineups were reused
    assert re.search(r"re-optimization [0-9a-f]{16}", done.stdout)
    rows = _rows(result)
    assert rows[0] == HEADER
    before = _rows(entries)[1:]
    assert [r[:4] for r in rows[1:]] == [r[:4] for r in before]  # ids and contest columns unchanged
    for old, new in zip(before, rows[1:], strict=True):
        ids = new[4:10]
        assert out_id not in ids and len(set(ids)) == 6 and set(ids) <= set(slate)
        assert sum(int(slate[i]["Salary"]) for i in ids) <= 50_000
        assert [new[4 + k] for k, cell in enumerate(old[4:10]) if cell != out_id] == [
            cell for cell in old[4:10] if cell != out_id
        ]  # every other driver keeps his cell
    assert sum(out_id in row[4:10] for row in before) >= 1
