"""`nascar-dfs demo --contest-entries`: a bad contest is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nascar_dfs.cli import main


def test_a_contest_too_small_for_the_lineups_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    code = main(["demo", "--quick", "--lineups", "20", "--contest-entries", "10"])
    assert code != 0
    err = capsys.readouterr().err
    assert "contest.entries 10 leaves no field for 20 lineups" in err
    assert not (tmp_path / "home" / "storage" / "lineups").exists()
