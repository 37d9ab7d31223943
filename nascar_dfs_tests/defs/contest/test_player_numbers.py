"""The player's own numbers in a request, through Dagster: projections that reverse the model's order
reverse the lineups, the player's ownership is the contest field's for the drivers it names (the
model's fills the rest, and the metadata says whose is whose), and each input keys its own partition.

The demo slate, the real scenario transform, ownership, optimizer and contest science run; only the
model fit and the race kernel are stood in for (test_contest.py's `demo_races`: points around each
driver's DraftKings average), so each request takes seconds.
"""

from __future__ import annotations

import pandas as pd
import pytest

from nascar_dfs.core.scenarios.kernel import with_projections
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import science
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.materializations import latest_materialization
from nascar_dfs_tests.defs.contest.test_contest import POOL, SLATE, demo_field, demo_races, request
from nascar_dfs_tests.platform.fakes import UPCOMING

REAL_PORTFOLIO = science.portfolio  # before the fixtures stand in for the science
# The model's order of the demo slate (demo_races centres every driver on their DK average).
MODEL_ORDER = [POOL.names[j] for j in (-POOL.projections).argsort()]


@pytest.fixture
def demo(fake, monkeypatch: pytest.MonkeyPatch):
    def races(model, race_field, spec, seed):
        # What simulate_for_spec does after the kernel: the player's points moved into the races.
        return with_projections(demo_races(model, race_field, spec, seed), spec.projections)

    monkeypatch.setattr(science, "read_slate", lambda path: SLATE)
    monkeypatch.setattr(science, "slate_field", demo_field)
    monkeypatch.setattr(science, "simulate", races)
    monkeypatch.setattr(science, "portfolio", REAL_PORTFOLIO)
    return fake


def _lineups(storage_dir, spec: ConstraintSpec) -> list[set[str]]:
    import json

    built = json.loads((storage_dir / "lineups" / UPCOMING / f"{spec.key}.json").read_text())
    return [set(lineup["drivers"]) for lineup in built["lineups"]]


def reversed_projections() -> dict[str, dict[str, float]]:
    """The player's points: the model's best driver gets the fewest, its worst the most."""
    n = len(MODEL_ORDER)
    return {name: {"mean": 10.0 + 50.0 * k / (n - 1), "sd": 8.0} for k, name in enumerate(MODEL_ORDER)}


@pytest.mark.parametrize("objective", ["scenario", "mean"])
def test_projections_that_reverse_the_models_order_reverse_the_lineups(
    demo, fake_defs, registered, storage_dir, objective
):
    plain = ConstraintSpec(lineups=3, scenarios=600, objective=objective)
    own = ConstraintSpec.model_validate({**plain.model_dump(), "projections": reversed_projections()})
    assert own.key != plain.key  # another partition

    request(fake_defs, registered, storage_dir, plain)
    request(fake_defs, registered, storage_dir, own)

    half = len(MODEL_ORDER) // 2
    model_top, player_top = set(MODEL_ORDER[:half]), set(MODEL_ORDER[half:])
    for lineup in _lineups(storage_dir, plain):
        assert len(lineup & model_top) >= 4, lineup
    for lineup in _lineups(storage_dir, own):
        assert len(lineup & player_top) >= 5, lineup  # the player's best drivers, the model's worst
    meta = latest_materialization(registered, "scenario_set", f"{UPCOMING}|{own.key}")
    assert "the player's own points" in meta.value("spec")


def test_the_players_ownership_is_the_fields_where_given_and_the_model_fills_the_rest(
    demo, fake_defs, registered, storage_dir
):
    chalk, fade = MODEL_ORDER[0], MODEL_ORDER[-1]
    contest = {"entries": 2_000, "entry_fee": 20}
    spec = ConstraintSpec(lineups=3, scenarios=1_000, contest=contest, ownership={chalk: 2.0, fade: 45.0})
    request(fake_defs, registered, storage_dir, spec)

    frame = pd.read_csv(storage_dir / "ownership_projection" / UPCOMING / f"{spec.key}.csv").set_index("name")
    assert frame.loc[chalk, "ownership"] == pytest.approx(0.02)
    assert frame.loc[fade, "ownership"] == pytest.approx(0.45)
    assert set(frame.loc[[chalk, fade], "source"]) == {"player"}
    others = frame.drop(index=[chalk, fade])
    assert set(others["source"]) == {"slate, budget-tilted"}  # no driver silently at 0
    assert (others["ownership"] > 0).all() and frame["ownership"].sum() == pytest.approx(6.0)
    partition = f"{UPCOMING}|{spec.key}"
    meta = latest_materialization(registered, "ownership_projection", partition)
    assert sorted(meta.value("player_ownership")) == sorted([chalk, fade])

    field = read_output(storage_dir, "contest_field", [UPCOMING, spec.key])
    column = list(POOL.names).index(fade)
    assert field.target[column] == pytest.approx(0.45)
    assert abs(field.ownership[column] - 0.45) < 0.05  # the simulated opponents follow the player
    summary = latest_materialization(registered, "lineups", partition).value("spec")
    assert f"{fade} 45%" in summary and "own ownership" in summary


def test_a_csv_of_reversed_projections_folded_into_the_spec_reverses_the_lineups(
    demo, fake_defs, registered, storage_dir
):
    """The CSV form: the file a player uploads (or gives `nascar-dfs lineups --projections`), read and
    folded into the spec as the doors fold it (core/player_numbers.py; the doors' storage and name
    checks are tested in nascar_dfs_tests/api/routes/test_player_numbers.py)."""
    from nascar_dfs.core.names import name_key
    from nascar_dfs.core.player_numbers import in_race_spelling, into_spec, parse_csv

    rows = "".join(
        f"{name.upper()},{p['mean']:.2f},{p['sd']:g}\n" for name, p in reversed_projections().items()
    )
    numbers = parse_csv(("Name,Mean,SD\n" + rows).encode())  # DraftKings-style header, any case
    plain = ConstraintSpec(lineups=3, scenarios=600)
    own = into_spec(plain, in_race_spelling(numbers, {name_key(n): n for n in POOL.names}))
    assert set(own.projections) == set(POOL.names) and own.key != plain.key

    request(fake_defs, registered, storage_dir, plain)
    request(fake_defs, registered, storage_dir, own)
    player_top = set(MODEL_ORDER[len(MODEL_ORDER) // 2 :])
    assert all(len(lineup & player_top) >= 5 for lineup in _lineups(storage_dir, own))
    assert all(len(lineup & player_top) <= 2 for lineup in _lineups(storage_dir, plain))
