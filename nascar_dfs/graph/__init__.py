"""Knowledge graph of drivers, teams, manufacturers, tracks and races (Neo4j, or embedded tables).

A store, not science: the model and the optimizer ask through the `RaceGraph` protocol, which
`Neo4jRaceGraph` answers from a Neo4j server and `TableRaceGraph` from the RaceHistory tables.
Schema and queries: docs/graph.md.
"""

from nascar_dfs.graph.factory import graph_health, neo4j_settings_from_env, open_race_graph
from nascar_dfs.graph.neo4j_graph import Neo4jRaceGraph, Neo4jSettings
from nascar_dfs.graph.protocol import RaceGraph
from nascar_dfs.graph.table import TableRaceGraph
from nascar_dfs.graph.types import (
    DriverCovariates,
    GraphError,
    GraphHealth,
    GraphInputError,
    LoadReport,
    NoResultsError,
    NotInRaceError,
    PastResult,
    RaceEntry,
    UnknownDriverError,
    UnknownRaceError,
)

__all__ = [
    "DriverCovariates",
    "GraphError",
    "GraphHealth",
    "GraphInputError",
    "LoadReport",
    "Neo4jRaceGraph",
    "Neo4jSettings",
    "NoResultsError",
    "NotInRaceError",
    "PastResult",
    "RaceEntry",
    "RaceGraph",
    "TableRaceGraph",
    "UnknownDriverError",
    "UnknownRaceError",
    "graph_health",
    "neo4j_settings_from_env",
    "open_race_graph",
]
