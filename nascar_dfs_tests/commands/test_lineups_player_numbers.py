"""`nascar-dfs lineups --projections FILE --ownership FILE`: the player's own numbers from the same
CSV the REST upload takes, as a user types it. A bad file or a name not on the slate exits 2 naming
each row and name before any Dagster run; a good one is folded into the spec (its own spec key).
That the lineups follow the numbers is tested through Dagster in
nascar_dfs_tests/defs/contest/test_player_numbers.py (the folded spec is the same spec)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from nascar_dfs.commands.lineups import with_player_numbers
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import slate_store
from nascar_dfs_tests.commands.test_lineups import cli, env, lineups, week  # noqa: F401 (fixtures)
from nascar_dfs_tests.raceweek_files import RaceWeek


@pytest.fixture
def stored(env, week):  # noqa: F811 (the fixtures imported above)
    """The race added and its slate stored (the debutant declared), as a user does first."""
    assert cli(env, *week.race_add_args()).returncode == 0
    declared = ("--new-drivers", week.unknown_name)
    done = cli(env, "race", "slate", week.race_id, str(week.slate), *declared)
    assert done.returncode == 0, done.stderr
    return week


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_rows_and_unknown_names_exit_2_naming_each_before_any_run(env, stored, tmp_path):  # noqa: F811
    first, second, third = stored.drivers[:3]
    bad = _write(
        tmp_path / "mine.csv",
        f"driver,mean,sd,ownership\n{first},NaN,,\n{second},30,-4,\n{third},20,,130%\n",
    )
    done = lineups(env, stored, tmp_path / "up.csv", "--projections", str(bad))
    assert done.returncode == 2
    err = done.stderr
    assert "mine.csv" in err and "row 2, column mean" in err and first in err
    assert "row 3, column sd" in err and "row 4, column ownership" in err and "130%" in err
    assert "run " not in done.stdout and not (tmp_path / "up.csv").exists()

    unknown = _write(tmp_path / "own.csv", f"driver,ownership\nNobody Real,5\n{first},20\nAlso Fake,1\n")
    done = lineups(env, stored, tmp_path / "up.csv", "--ownership", str(unknown))
    assert done.returncode == 2
    assert "row 2: Nobody Real is not a driver" in done.stderr and "row 4: Also Fake" in done.stderr

    missing = lineups(env, stored, tmp_path / "up.csv", "--projections", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "nope.csv: cannot be read" in missing.stderr
    ownership_only = lineups(env, stored, tmp_path / "up.csv", "--projections", str(unknown))
    assert ownership_only.returncode == 2 and "has no mean values" in ownership_only.stderr


def _args(race: str, projections: Path | None, ownership: Path | None) -> argparse.Namespace:
    return argparse.Namespace(race=race, projections=projections, ownership=ownership)


def test_good_files_are_folded_into_the_spec_in_the_races_spelling(env, stored: RaceWeek, tmp_path):  # noqa: F811
    first, second = stored.drivers[:2]
    both = _write(
        tmp_path / "both.csv", f"Name,Mean,SD,Ownership\n{first.upper()},61.5,7,44%\n{second},9,,\n"
    )
    own = _write(tmp_path / "own.csv", f"driver,ownership\n{second},3.5\n")
    storage = Path(env["NASCAR_DFS_STORAGE"])
    current = slate_store.current_slate(slate_store.slates_dir(storage), stored.race_id)
    plain = ConstraintSpec(lineups=3, slate_version=current.version)

    spec = with_player_numbers(_args(stored.race_id, both, own), plain, storage, stored.data_dir)
    assert spec.projections[first].mean == 61.5 and spec.projections[first].sd == 7
    assert spec.ownership == {first: 44.0, second: 3.5}
    assert spec.key != plain.key
    # One file for both flags is read once, its columns all count.
    same = with_player_numbers(_args(stored.race_id, both, both), plain, storage, stored.data_dir)
    assert same.ownership == {first: 44.0} and set(same.projections) == {first, second}
    # A driver's ownership in two files is named, not silently one of them.
    twice = _write(tmp_path / "twice.csv", f"driver,ownership\n{first},10\n")
    with pytest.raises(Exception, match=rf"given in more than one file: {first} \(ownership\)"):
        with_player_numbers(_args(stored.race_id, both, twice), plain, storage, stored.data_dir)
