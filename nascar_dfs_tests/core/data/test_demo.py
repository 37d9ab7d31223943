from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nascar_dfs.core.data.demo import DEMO_DIR, DEMO_SEED, write_demo_data
from nascar_dfs.core.data.draftkings import match_slate_drivers, read_dk_salaries
from nascar_dfs.core.data.entry_list import field_from_slate
from nascar_dfs.core.data.history import load_history
from nascar_dfs.core.tracks import TRACK_TYPES

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def demo_history():
    return load_history(DEMO_DIR)


def _run_script(out: Path) -> int:
    spec = importlib.util.spec_from_file_location("make_demo_data", REPO / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--out", str(out)])


def test_script_regenerates_the_committed_folder_byte_for_byte(tmp_path: Path) -> None:
    assert _run_script(tmp_path / "demo") == 0
    committed = sorted(p.name for p in DEMO_DIR.iterdir() if p.is_file())
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == committed
    for name in committed:
        assert (tmp_path / "demo" / name).read_bytes() == (DEMO_DIR / name).read_bytes(), name


def test_another_seed_gives_other_results(tmp_path: Path) -> None:
    write_demo_data(tmp_path, seed=DEMO_SEED + 1)
    assert (tmp_path / "cup_results.csv").read_bytes() != (DEMO_DIR / "cup_results.csv").read_bytes()


def test_demo_is_small_and_labelled_synthetic(demo_history) -> None:
    assert sum(p.stat().st_size for p in DEMO_DIR.iterdir()) < 300_000
    assert "SYNTHETIC" in (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    for table in (demo_history.races, demo_history.results, demo_history.loop, demo_history.tracks):
        assert (table["source"] == "synthetic-demo").all()
    assert demo_history.results["driver"].str.startswith("Demo Driver ").all()


def test_demo_history_looks_like_races(demo_history) -> None:
    results, races = demo_history.results, demo_history.races.set_index("race_id")
    by_race = results.groupby("race_id")
    assert by_race.ngroups == 24 and (by_race.size() == 36).all()
    assert set(races["track_type"]) == set(TRACK_TYPES)
    race_laps = races["laps"].reindex(by_race.size().index)
    assert (by_race["laps_led"].sum() == race_laps).all()
    share = by_race["fastest_laps"].sum() / race_laps
    assert share.between(0.7, 0.9).all()
    failed = results[results["status"] != "running"]
    assert set(failed["status"]) == {"accident", "engine"}
    assert (failed["laps"] < failed["race_id"].map(races["laps"])).all()
    # a latent skill: the best drivers keep finishing ahead of the worst
    mean_finish = results.groupby("driver")["finish"].mean()
    assert mean_finish.max() - mean_finish.min() > 10


def test_demo_slate_is_the_upcoming_race(demo_history) -> None:
    upcoming = demo_history.races[~demo_history.races["in_cup_results"].astype(bool)]
    assert len(upcoming) == 1
    race_id = upcoming["race_id"].iloc[0]
    assert not demo_history.has_results(race_id)
    slate = read_dk_salaries(DEMO_DIR / "DKSalaries.csv")
    slate = match_slate_drivers(slate, demo_history.results["driver"].unique())
    assert slate.players["ownership"].sum() == pytest.approx(6.0, abs=0.05)
    field = field_from_slate(slate, demo_history, race_id)
    assert field.size == 36 and "unknown" not in field.manufacturers
    assert sorted(field.starts) == list(range(1, 37))
