"""The embedded (table-backed) race graph on the real history: no server needed."""

from __future__ import annotations

import pytest

from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.graph import (
    NotInRaceError,
    RaceGraph,
    TableRaceGraph,
    UnknownDriverError,
    UnknownRaceError,
    open_race_graph,
)
from nascar_dfs.graph.neo4j_graph import Neo4jRaceGraph, Neo4jSettings

DAYTONA_500_2024 = "2024-cup-daytona-1"


@pytest.fixture(scope="module")
def graph(history: RaceHistory) -> TableRaceGraph:
    return TableRaceGraph(history)


def test_table_graph_satisfies_the_race_graph_protocol(graph: TableRaceGraph) -> None:
    assert isinstance(graph, RaceGraph)


def test_entry_gives_the_team_and_make_of_the_car_in_that_race(graph: TableRaceGraph) -> None:
    entry = graph.entry("Kyle Larson", DAYTONA_500_2024)
    assert (entry.team, entry.manufacturer, entry.car_number) == ("Hendrick Motorsports", "Chevrolet", "5")
    # Larson drove for Ganassi before 2021: membership is per race, not per driver.
    assert graph.entry("Kyle Larson", "2019-cup-daytona-1").team == "Chip Ganassi Racing"


def test_teammates_are_the_other_cars_of_the_same_team(graph: TableRaceGraph) -> None:
    assert graph.teammates("Kyle Larson", DAYTONA_500_2024) == (
        "Alex Bowman",
        "Chase Elliott",
        "William Byron",
    )


def test_recent_results_are_earlier_points_races_of_the_same_track_type(
    graph: TableRaceGraph, history: RaceHistory
) -> None:
    race = history.race("2024-cup-martinsville-2")
    past = graph.recent_results_same_track_type("Denny Hamlin", race.race_id, limit=8)
    assert len(past) == 8
    assert all(p.track_type == race.track_type == "short" for p in past)
    order = [(p.season, p.race_num) for p in past]
    assert order == sorted(order, reverse=True), "most recent first"
    assert order[0] < (race.season, race.race_num or 0)
    # the newest short-track race before the fall Martinsville race is the one right before it in time
    points = history.points_races()
    earlier_short = points[
        (points["track_type"] == "short")
        & (
            (points["season"] < race.season)
            | ((points["season"] == race.season) & (points["race_num"] < race.race_num))
        )
    ]
    assert past[0].race_id == earlier_short.iloc[-1]["race_id"]


def test_recent_results_of_a_debut_are_empty_not_an_error(graph: TableRaceGraph) -> None:
    assert graph.recent_results_same_track_type("Kyle Larson", "2015-cup-daytona-1", limit=5) == ()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda g: g.covariates_for_race("2024-cup-nowhere-1"), UnknownRaceError),
        (lambda g: g.entry("Kyle Larson", "2030-cup-daytona-1"), UnknownRaceError),
        (lambda g: g.teammates("Jeff Gordon", DAYTONA_500_2024), NotInRaceError),
        (lambda g: g.recent_results_same_track_type("Nobody Atall", DAYTONA_500_2024, 5), UnknownDriverError),
        (lambda g: g.recent_results_same_track_type("Kyle Larson", DAYTONA_500_2024, 0), ValueError),
    ],
)
def test_bad_questions_raise_clear_errors(graph: TableRaceGraph, call, error: type[Exception]) -> None:
    with pytest.raises(error):
        call(graph)


def test_covariates_cover_every_driver_of_the_race_once(graph: TableRaceGraph, history: RaceHistory) -> None:
    covariates = graph.covariates_for_race(DAYTONA_500_2024)
    results = history.results_for(DAYTONA_500_2024)
    assert sorted(c.driver for c in covariates) == sorted(results["driver"])
    assert {c.track_type for c in covariates} == {"superspeedway"}


def test_health_of_the_table_graph_passes(graph: TableRaceGraph) -> None:
    health = graph.health()
    assert health.status == "pass" and health.backend == "table"


def test_without_neo4j_uri_the_table_graph_is_used(monkeypatch) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    assert isinstance(open_race_graph(load_history(DEMO_DIR)), TableRaceGraph)


def test_with_neo4j_uri_the_neo4j_graph_is_used(history: RaceHistory, monkeypatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")  # the driver connects lazily
    monkeypatch.delenv("NEO4J_USER", raising=False)
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    graph = open_race_graph(history)
    assert isinstance(graph, Neo4jRaceGraph)
    assert graph.settings == Neo4jSettings(uri="bolt://127.0.0.1:1", user="neo4j", password="")
    graph.close()
