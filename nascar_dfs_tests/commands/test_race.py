"""`nascar-dfs race`: a race week from the command line, on the real history (read-only), with a
DKSalaries.csv shaped like DraftKings' own (no StartPos, a blank TeamAbbrev, one unknown name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.platform.race_calendar import upcoming_races
from nascar_dfs.platform.starting_lineups import starting_lineup
from nascar_dfs_tests.slate_files import dk_salaries, race_drivers

UPCOMING = "2026-cup-phoenix-1"
# The console script's own entry (`python -m nascar_dfs.cli` would load the module twice).
MAIN = "import sys; from nascar_dfs.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def env(tmp_path: Path, shared_data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NASCAR_DFS_DATA_DIR": str(shared_data_dir),
        "NASCAR_DFS_STORAGE": str(tmp_path / "storage"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


def race(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, "race", *args], env=env, capture_output=True, text=True
    )


def test_race_add_keeps_the_race_and_registers_its_partition(env: dict[str, str], tmp_path: Path) -> None:
    done = race(env, "add", UPCOMING, "--date", "2026-03-08", "--track", "phoenix", "--laps", "312")
    assert done.returncode == 0, done.stderr
    assert UPCOMING in done.stdout
    assert [r["race_id"] for r in upcoming_races(tmp_path / "storage")] == [UPCOMING]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert UPCOMING in instance.get_dynamic_partitions("race")
    shown = race(env, "show", UPCOMING)
    assert shown.returncode == 0 and "phoenix" in shown.stdout and "slate: none" in shown.stdout


def test_an_unknown_track_is_an_error_naming_it(env: dict[str, str]) -> None:
    done = race(env, "add", "2026-cup-phenix-1", "--date", "2026-03-08", "--track", "phenix", "--laps", "312")
    assert done.returncode == 2
    assert "phenix" in done.stderr and "phoenix" in done.stderr


def test_a_schedule_feed_adds_its_season_races(
    env: dict[str, str], shared_data_dir: Path, tmp_path: Path
) -> None:
    done = race(env, "add", "--schedule", str(shared_data_dir / "feed-samples" / "schedule-feed.json"))
    assert done.returncode == 0, done.stderr
    added = {r["race_id"]: r for r in upcoming_races(tmp_path / "storage")}
    assert set(added) == {"2026-cup-sonoma-1", "2026-cup-homestead-1"}
    assert added["2026-cup-sonoma-1"]["nascar_race_id"] == "5617"
    assert "laps of 2024-cup-sonoma-1" in done.stdout


def test_slate_and_starting_lineup_of_an_upcoming_race(
    env: dict[str, str], shared_data_dir: Path, tmp_path: Path
) -> None:
    assert (
        race(env, "add", UPCOMING, "--date", "2026-03-08", "--track", "phoenix", "--laps", "312").returncode
        == 0
    )
    names = [*race_drivers(shared_data_dir, "2024-cup-phoenix-2")[:35], "Connor Zilisch"]
    slate = tmp_path / "DKSalaries.csv"
    slate.write_bytes(dk_salaries(names, blank_team={names[2], "Connor Zilisch"}))
    refused = race(env, "slate", UPCOMING, str(slate))
    assert refused.returncode == 2 and "Connor Zilisch" in refused.stderr
    accepted = race(env, "slate", UPCOMING, str(slate), "--new-drivers", "Connor Zilisch")
    assert accepted.returncode == 0, accepted.stderr

    lineup = tmp_path / "starts.csv"
    lineup.write_text("driver,start\n" + "".join(f"{n},{i + 1}\n" for i, n in enumerate(reversed(names))))
    done = race(env, "starts", UPCOMING, str(lineup))
    assert done.returncode == 0, done.stderr
    assert starting_lineup(tmp_path / "storage", UPCOMING)["Connor Zilisch"] == 1  # type: ignore[index]

    lineup.write_text(f"driver,start\n{names[0]},1\n{names[1]},1\n")
    bad = race(env, "starts", UPCOMING, str(lineup))
    assert bad.returncode == 2 and "row 3, column start" in bad.stderr


def test_the_weekend_feed_is_a_starting_lineup_too(
    env: dict[str, str], shared_data_dir: Path, tmp_path: Path
) -> None:
    names = race_drivers(shared_data_dir, "2024-cup-phoenix-2")
    sample = json.loads((shared_data_dir / "feed-samples" / "weekend-feed.json").read_text())
    template = sample["weekend_race"][0]["results"][0]
    sample["weekend_race"][0]["results"] = [
        {**template, "driver_fullname": n, "starting_position": i + 1} for i, n in enumerate(names)
    ]
    feed = tmp_path / "weekend-feed.json"
    feed.write_text(json.dumps(sample))
    done = race(env, "starts", "2024-cup-phoenix-2", str(feed))
    assert done.returncode == 0, done.stderr
    assert f"{len(names)} drivers" in done.stdout
