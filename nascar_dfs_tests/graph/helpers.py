"""Helpers of the graph tests: season subsets of the history and a canonical dump of the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from neo4j import GraphDatabase

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph.neo4j_graph import Neo4jSettings


def history_of_seasons(history: RaceHistory, seasons: Iterable[int]) -> RaceHistory:
    """The history cut to some seasons, so a table graph sees exactly what was loaded into Neo4j."""
    wanted = list(seasons)
    return replace(
        history,
        races=history.races[history.races["season"].isin(wanted)].reset_index(drop=True),
        results=history.results[history.results["season"].isin(wanted)].reset_index(drop=True),
        loop=history.loop[history.loop["season"].isin(wanted)].reset_index(drop=True),
    )


def race_ids_of(history: RaceHistory, season: int) -> list[str]:
    """Points races of a season in schedule order."""
    points = history.points_races()
    return points.loc[points["season"] == season, "race_id"].tolist()


_NODES = """
MATCH (n)
RETURN labels(n) AS labels, properties(n) AS props
"""
_RELATIONSHIPS = """
MATCH (a)-[x]->(b)
RETURN type(x) AS type, properties(x) AS props, properties(a) AS a, properties(b) AS b
"""


def _key(value: Any) -> str:
    return repr(sorted(value.items())) if isinstance(value, dict) else repr(value)


def snapshot(settings: Neo4jSettings) -> tuple[list[str], list[str]]:
    """Every node and relationship with all properties, as sorted strings: equal dumps = equal graphs."""
    with GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password)) as driver:
        nodes, _, _ = driver.execute_query(_NODES, database_=settings.database)
        rels, _, _ = driver.execute_query(_RELATIONSHIPS, database_=settings.database)
    node_dump = sorted(f"{sorted(r['labels'])} {_key(r['props'])}" for r in nodes)
    rel_dump = sorted(f"{_key(r['a'])} -{r['type']} {_key(r['props'])}-> {_key(r['b'])}" for r in rels)
    return node_dump, rel_dump


def count_label(settings: Neo4jSettings, label: str) -> int:
    with GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password)) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (n) WHERE $label IN labels(n) RETURN count(n) AS n",
            label=label,
            database_=settings.database,
        )
    return int(records[0]["n"])
