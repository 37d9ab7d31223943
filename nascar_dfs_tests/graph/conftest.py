"""Fixtures of the graph tests; Neo4j-marked ones need: eval "$(scripts/services/neo4j.sh start)"."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nascar_dfs.core.data.history import RaceHistory, load_history
from nascar_dfs.graph.factory import neo4j_settings_from_env
from nascar_dfs.graph.neo4j_graph import Neo4jRaceGraph, Neo4jSettings

HOW_TO_RUN = (
    'Neo4j tests need a server: run `eval "$(scripts/services/neo4j.sh start)"` '
    "(sets NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD), then pytest -m neo4j"
)


@pytest.fixture(scope="session")
def history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


@pytest.fixture(scope="session")
def neo4j_settings() -> Neo4jSettings:
    settings = neo4j_settings_from_env()
    if settings is None:
        pytest.skip(HOW_TO_RUN)
    return settings


@pytest.fixture(scope="session")
def neo4j_server(neo4j_settings: Neo4jSettings) -> Iterator[Neo4jRaceGraph]:
    """One driver for the session; refuses to run against a database holding someone else's data."""
    graph = Neo4jRaceGraph(neo4j_settings)
    health = graph.health(timeout_s=30)  # a just-started server answers its first query slowly
    if health.status != "pass":
        # NEO4J_URI is set, so a silent skip would hide a broken CI service: fail loudly instead.
        pytest.fail(f"NEO4J_URI is set but the server does not answer: {health.detail}. {HOW_TO_RUN}")
    foreign = graph.foreign_nodes()
    if foreign and not os.environ.get("NASCAR_DFS_NEO4J_WIPE_OK"):
        pytest.fail(
            f"{neo4j_settings.uri} holds {foreign} nodes that are not race-graph data; the tests clear the "
            "database, so point NEO4J_URI at a scratch server (or set NASCAR_DFS_NEO4J_WIPE_OK=1)"
        )
    yield graph
    graph.close()


@pytest.fixture
def empty_graph(neo4j_server: Neo4jRaceGraph) -> Neo4jRaceGraph:
    """The session's graph, cleared before the test."""
    neo4j_server.clear()
    neo4j_server.ensure_schema()
    return neo4j_server
