"""Dagster layer of the race graph: the Neo4j resource and the `race_graph` asset."""
