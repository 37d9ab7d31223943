"""Rows the loader writes, and the completeness check of a batch (no server needed)."""

from __future__ import annotations

import pytest

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph.batches import batches_from_history, problems_of
from nascar_dfs.graph.records import config_for_race
from nascar_dfs.graph.types import GraphInputError


@pytest.mark.parametrize(
    ("slug", "season", "track_type", "config_id"),
    [
        ("atlanta", 2021, "intermediate", "atlanta_pre_2022"),
        ("atlanta", 2022, "superspeedway", "atlanta_post_2022"),
        ("sonoma", 2019, "road", "sonoma_carousel"),  # carousel era overlaps the short course
        ("sonoma", 2022, "road", "sonoma_short"),
        ("bristol-dirt", 2021, "dirt", "bristol_dirt"),  # layout slug finds its facility's era
        ("bristol", 2021, "short", "bristol_concrete"),
        ("daytona-road", 2020, "road", "daytona_road"),
        ("north-wilkesboro", 2023, "short", None),
    ],
)
def test_each_race_runs_on_the_configuration_era_of_its_season(
    history: RaceHistory, slug: str, season: int, track_type: str, config_id: str | None
) -> None:
    assert config_for_race(history.track_configurations, slug, season, track_type) == config_id


def test_batches_hold_every_race_and_result_once(history: RaceHistory) -> None:
    batches = list(batches_from_history(history, races_per_batch=25))
    race_ids = [r["race_id"] for b in batches for r in b.races]
    assert sorted(race_ids) == sorted(history.races["race_id"])
    assert sum(len(b.results) for b in batches) == len(history.results)
    for batch in batches:
        assert problems_of(batch, set(), set(), set()) == [], "a batch of the history is self-contained"


def test_a_result_row_for_an_unknown_driver_or_race_is_a_problem(history: RaceHistory) -> None:
    batch = next(batches_from_history(history, ["2024-cup-daytona-1"]))
    batch.results.append({**batch.results[0], "driver": "Nobody Atall"})
    batch.results.append({**batch.results[1], "race_id": "2024-cup-nowhere-1"})
    problems = problems_of(batch, set(), set(), set())
    assert len(problems) == 2
    assert "unknown driver 'Nobody Atall'" in problems[0]
    assert "unknown race id '2024-cup-nowhere-1'" in problems[1]
    # the graph may already know them: then the rows are fine
    assert problems_of(batch, {"2024-cup-nowhere-1"}, {"Nobody Atall"}, set()) == []


def test_asking_for_a_race_the_history_lacks_is_rejected(history: RaceHistory) -> None:
    with pytest.raises(GraphInputError, match="2031-cup-daytona-1"):
        list(batches_from_history(history, ["2031-cup-daytona-1"]))
