"""`race_graph`: keeps the Neo4j graph in step with the race history (incrementally)."""

from typing import Any

import dagster as dg

from nascar_dfs.defs.graph.resources import RaceGraphStore
from nascar_dfs.graph import Neo4jRaceGraph

RACE_GRAPH_CODE = "race-graph-1"


@dg.asset(
    group_name="data",
    code_version=RACE_GRAPH_CODE,
    ins={"race_history": dg.AssetIn()},
    description="Drivers, teams, manufacturers, tracks and races in Neo4j (docs/graph.md); without "
    "NEO4J_URI the graph is answered from the race history tables and nothing is written.",
)
def race_graph(
    context: dg.AssetExecutionContext, race_history: Any, race_graph_store: RaceGraphStore
) -> dg.MaterializeResult:
    settings = race_graph_store.settings()
    if settings is None:
        context.log.info("NEO4J_URI unset: the race graph is the embedded table graph; nothing to load")
        return dg.MaterializeResult(
            metadata={"backend": "table", "nodes_written": 0, "relationships_written": 0, "races_loaded": 0}
        )
    with Neo4jRaceGraph(settings) as graph:
        report = graph.sync(race_history)  # only races missing or incomplete in the graph
        nodes, relationships = graph.counts()
    context.log.info(f"race graph: loaded {report.races} races in {report.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "backend": "neo4j",
            "uri": settings.uri,
            "races_loaded": report.races,
            "result_rows_loaded": report.result_rows,
            "nodes_written": report.nodes_created,
            "relationships_written": report.relationships_created,
            "properties_set": report.properties_set,
            "graph_nodes": nodes,
            "graph_relationships": relationships,
            "load_seconds": dg.MetadataValue.float(round(report.seconds, 3)),
        }
    )
