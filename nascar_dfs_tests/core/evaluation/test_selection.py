"""The product's forecaster choice on hand-made scores: per track type, latest races only, no look-ahead."""

from __future__ import annotations

import math

import pytest

from nascar_dfs.core.evaluation.selection import ScoredRace, choose_forecaster

CANDIDATES = ("model", "replay")


def scored(race_num: int, track_type: str, model: float, replay: float, season: int = 2024) -> ScoredRace:
    return ScoredRace(
        f"{season}-cup-r{race_num}", season, race_num, track_type, {"model": model, "replay": replay}
    )


def test_each_track_type_gets_the_forecaster_that_scored_better_on_it():
    history = [scored(1, "short", 5.0, 4.0), scored(2, "road", 4.0, 5.0), scored(3, "short", 5.2, 4.9)]

    short = choose_forecaster("short", (2024, 10), history, CANDIDATES)
    road = choose_forecaster("road", (2024, 10), history, CANDIDATES)

    assert short.forecaster == "replay" and short.races == ("2024-cup-r1", "2024-cup-r3")
    assert short.mean_finish_crps == pytest.approx({"model": 5.1, "replay": 4.45})
    assert road.forecaster == "model" and road.races == ("2024-cup-r2",)


def test_only_the_latest_window_of_races_counts():
    # The replay won the old races by a lot; the model wins the latest six.
    old = [scored(n, "short", 9.0, 1.0, season=2023) for n in range(1, 10)]
    recent = [scored(n, "short", 4.0, 4.5) for n in range(1, 7)]

    choice = choose_forecaster("short", (2024, 7), old + recent, CANDIDATES, window=6)

    assert choice.forecaster == "model"
    assert choice.races == tuple(f"2024-cup-r{n}" for n in range(1, 7))
    assert choose_forecaster("short", (2024, 7), old + recent, CANDIDATES, window=7).forecaster == "replay"


def test_the_model_when_no_race_of_the_track_type_was_scored():
    history = [scored(1, "short", 5.0, 1.0)]

    choice = choose_forecaster("superspeedway", (2024, 2), history, CANDIDATES)

    assert choice.forecaster == "model" and choice.races == () and choice.mean_finish_crps == {}


def test_the_target_race_and_later_ones_are_never_looked_at():
    history = [scored(1, "short", 4.0, 5.0), scored(5, "short", 5.0, 1.0), scored(9, "short", 5.0, 1.0)]

    choice = choose_forecaster("short", (2024, 5), history, CANDIDATES)

    assert choice.forecaster == "model" and choice.races == ("2024-cup-r1",)


def test_a_race_missing_a_candidates_score_is_left_out_and_a_tie_keeps_the_model():
    history = [scored(1, "short", 4.0, math.nan), scored(2, "short", 4.0, 4.0)]

    choice = choose_forecaster("short", (2024, 3), history, CANDIDATES)

    assert choice.races == ("2024-cup-r2",) and choice.forecaster == "model"


def test_a_default_outside_the_candidates_is_refused():
    with pytest.raises(ValueError, match="'model' is not among the candidates"):
        choose_forecaster("short", (2024, 3), [], ("replay",))
