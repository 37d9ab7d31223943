from __future__ import annotations

import json

import pytest

from nascar_dfs.core.scenarios.dominance import (
    TRACK_TYPES,
    DominanceParams,
    estimate_dominance,
    race_dominance_stats,
)


def test_round_trips_through_json(dominance):
    again = DominanceParams.from_dict(json.loads(json.dumps(dominance.to_dict())))
    assert again == dominance


def test_covers_every_track_type_with_real_figures(dominance):
    assert set(dominance.by_track_type) == set(TRACK_TYPES)
    ss, inter = dominance.for_track("superspeedway"), dominance.for_track("intermediate")
    # Pack racing spreads the lead: more leaders and a smaller top share than at intermediates.
    assert ss.leaders_mean > inter.leaders_mean + 3
    assert ss.top_share_mean < inter.top_share_mean - 0.05
    assert ss.lead_stints > inter.lead_stints
    assert 0.7 < inter.green_share_mean < 0.9
    assert inter.races > 50 and inter.fastest_races > 50  # last five seasons only


def test_uses_only_races_before_the_target(history):
    early = estimate_dominance(history, "2019-cup-daytona-1")
    assert early.trained_through == "2018-cup-homestead-1"
    # No loop data before 2019: the fastest-lap figures are documented stand-ins, not measurements.
    assert all(p.fastest_races == 0 for p in early.by_track_type.values())
    assert early.for_track("intermediate").races < 160


def test_observed_stats_match_a_known_race(history):
    races = history.points_races()
    stats = race_dominance_stats(races, history.results)
    race = history.results[history.results["race_id"] == "2021-cup-talladega-2"]
    row = stats.loc["2021-cup-talladega-2"]
    assert row["track_type"] == "superspeedway"
    assert row["leaders"] == (race["laps_led"] > 0).sum()
    assert row["top_share"] == pytest.approx(race["laps_led"].max() / race["laps"].max())
    assert row["green_share"] == pytest.approx(race["fastest_laps"].sum() / race["laps"].max())


def test_rejects_unknown_track_type_and_bad_dicts(dominance):
    with pytest.raises(ValueError, match="track type 'oval'"):
        dominance.for_track("oval")
    with pytest.raises(ValueError, match="not a DominanceParams dict"):
        DominanceParams.from_dict({"nothing": 1})
    data = dominance.to_dict()
    del data["by_track_type"]["dirt"]
    with pytest.raises(ValueError, match="dirt"):
        DominanceParams.from_dict(data)


def test_refuses_a_race_without_history(history):
    with pytest.raises(ValueError, match="no points races before"):
        estimate_dominance(history, "2015-cup-daytona-1")
