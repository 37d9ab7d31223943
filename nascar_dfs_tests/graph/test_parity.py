"""Neo4j and the tables answer every question identically over a full real season."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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


def _answers(graph: RaceGraph, driver: str, race_id: str) -> tuple:
    return (
        graph.entry(driver, race_id),
        graph.teammates(driver, race_id),
        graph.recent_results_same_track_type(driver, race_id, RECENT),
    )


def test_covariates_and_queries_are_identical_for_every_race_of_the_season(
    loaded: Neo4jRaceGraph, season: RaceHistory
) -> None:
    table = TableRaceGraph(season)
    races = race_ids_of(season, SEASON)
    assert len(races) == 36
    # The driver is thread-safe; a few threads overlap the round trips to the server.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for race_id in races:
            covariates = loaded.covariates_for_race(race_id)
            assert covariates == table.covariates_for_race(race_id), race_id
            assert len(covariates) == len(season.results_for(race_id))
            drivers = [c.driver for c in covariates]
            from_neo4j = list(pool.map(lambda d, r=race_id: _answers(loaded, d, r), drivers))
            for driver, answer in zip(drivers, from_neo4j, strict=True):
                assert answer == _answers(table, driver, race_id), (driver, race_id)


def test_both_graphs_reject_the_same_bad_questions(loaded: Neo4jRaceGraph, season: RaceHistory) -> None:
    table = TableRaceGraph(season)
    for graph in (loaded, table):
        with pytest.raises(UnknownRaceError):
            graph.covariates_for_race("2024-cup-nowhere-1")
        with pytest.raises(NotInRaceError):
            graph.entry("Jeff Gordon", "2024-cup-daytona-1")
