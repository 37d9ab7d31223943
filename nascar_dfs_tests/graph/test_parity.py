"""Neo4j and the tables answer every question identically over a full real season."""

from __future__ import annotations

import pytest

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph import Neo4jRaceGraph, NotInRaceError, RaceGraph, TableRaceGraph, UnknownRaceError
from nascar_dfs_tests.graph.helpers import history_of_seasons, race_ids_of

pytestmark = pytest.mark.neo4j

SEASON = 2024
RECENT = 5


@pytest.fixture(scope="module")
def season(history: RaceHistory) -> RaceHistory:
    return history_of_seasons(history, [SEASON])


@pytest.fixture(scope="module")
def loaded(neo4j_server: Neo4jRaceGraph, season: RaceHistory) -> Neo4jRaceGraph:
    neo4j_server.clear()
    report = neo4j_server.load(season)
    assert report.result_rows == len(season.results)
    return neo4j_server


def test_neo4j_graph_satisfies_the_race_graph_protocol(loaded: Neo4jRaceGraph) -> None:
    assert isinstance(loaded, RaceGraph)


def test_covariates_and_queries_are_identical_for_every_race_of_the_season(
    loaded: Neo4jRaceGraph, season: RaceHistory
) -> None:
    table = TableRaceGraph(season)
    races = race_ids_of(season, SEASON)
    assert len(races) == 36
    for race_id in races:
        covariates = loaded.covariates_for_race(race_id)
        assert covariates == table.covariates_for_race(race_id), race_id
        assert len(covariates) == len(season.results_for(race_id))
        for driver in (c.driver for c in covariates):
            assert loaded.entry(driver, race_id) == table.entry(driver, race_id)
            assert loaded.teammates(driver, race_id) == table.teammates(driver, race_id)
            assert loaded.recent_results_same_track_type(
                driver, race_id, RECENT
            ) == table.recent_results_same_track_type(driver, race_id, RECENT), (driver, race_id)


def test_both_graphs_reject_the_same_bad_questions(loaded: Neo4jRaceGraph, season: RaceHistory) -> None:
    table = TableRaceGraph(season)
    for graph in (loaded, table):
        with pytest.raises(UnknownRaceError):
            graph.covariates_for_race("2024-cup-nowhere-1")
        with pytest.raises(NotInRaceError):
            graph.entry("Jeff Gordon", "2024-cup-daytona-1")
