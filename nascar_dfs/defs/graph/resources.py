"""The race graph as a Dagster resource: Neo4j when NEO4J_URI is set, else the embedded tables."""

import dagster as dg

from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.graph import GraphHealth, Neo4jSettings, RaceGraph, graph_health, open_race_graph
from nascar_dfs.graph.factory import neo4j_settings_from_env


class RaceGraphStore(dg.ConfigurableResource):
    """Where the race graph lives. Empty fields fall back to NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD /
    NEO4J_DATABASE; with no URI at all the graph answers from the race history tables."""

    uri: str = ""
    user: str = ""
    password: str = ""
    database: str = ""
    connection_timeout_s: float = 5.0

    def settings(self) -> Neo4jSettings | None:
        from_env = neo4j_settings_from_env()
        uri = self.uri or (from_env.uri if from_env else "")
        if not uri:
            return None
        return Neo4jSettings(
            uri=uri,
            user=self.user or (from_env.user if from_env else "neo4j"),
            password=self.password or (from_env.password if from_env else ""),
            database=self.database or (from_env.database if from_env else "neo4j"),
            connection_timeout_s=self.connection_timeout_s,
        )

    def graph(self, history: RaceHistory) -> RaceGraph:
        return open_race_graph(history, self.settings())

    def health(self, timeout_s: float = 2.0) -> GraphHealth:
        return graph_health(timeout_s, self.settings())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"race_graph_store": RaceGraphStore()})
