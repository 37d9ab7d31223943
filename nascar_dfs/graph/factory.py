"""Which RaceGraph to use: Neo4j when NEO4J_URI is configured, else the embedded tables."""

from __future__ import annotations

import os
from collections.abc import Mapping

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph.neo4j_graph import Neo4jRaceGraph, Neo4jSettings, neo4j_health
from nascar_dfs.graph.protocol import RaceGraph
from nascar_dfs.graph.table import TableRaceGraph
from nascar_dfs.graph.types import GraphHealth

URI_ENV = "NEO4J_URI"
USER_ENV = "NEO4J_USER"
PASSWORD_ENV = "NEO4J_PASSWORD"
DATABASE_ENV = "NEO4J_DATABASE"


def neo4j_settings_from_env(env: Mapping[str, str] | None = None) -> Neo4jSettings | None:
    """Settings from NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD (/ NEO4J_DATABASE); None without a URI."""
    values = os.environ if env is None else env
    uri = values.get(URI_ENV, "").strip()
    if not uri:
        return None
    return Neo4jSettings(
        uri=uri,
        user=values.get(USER_ENV, "neo4j"),
        password=values.get(PASSWORD_ENV, ""),
        database=values.get(DATABASE_ENV, "neo4j"),
    )


def open_race_graph(history: RaceHistory, settings: Neo4jSettings | None = None) -> RaceGraph:
    """Neo4jRaceGraph for `settings` (default: from the environment), else TableRaceGraph(history)."""
    resolved = settings if settings is not None else neo4j_settings_from_env()
    if resolved is None:
        return TableRaceGraph(history)
    return Neo4jRaceGraph(resolved)


def graph_health(timeout_s: float = 2.0, settings: Neo4jSettings | None = None) -> GraphHealth:
    """The platform's graph probe: Neo4j connectivity and latency, or `pass` for the embedded graph
    (which has no server to lose) when no NEO4J_URI is configured. Never raises, never hangs."""
    resolved = settings if settings is not None else neo4j_settings_from_env()
    if resolved is None:
        return GraphHealth(
            status="pass", latency_ms=0.0, detail="NEO4J_URI unset: embedded table graph", backend="table"
        )
    return neo4j_health(resolved, timeout_s)
