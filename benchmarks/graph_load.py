"""Time to load ten seasons of race history into a fresh Neo4j database, and to reload them unchanged.

    eval "$(scripts/services/neo4j.sh start)"
    python benchmarks/graph_load.py --data-dir ../shared/data/nascar

Prints one JSON document. The database is CLEARED first: point NEO4J_URI at a scratch server.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nascar_dfs.core.data.history import load_history
from nascar_dfs.graph import Neo4jRaceGraph, neo4j_settings_from_env
from nascar_dfs.graph.batches import DEFAULT_RACES_PER_BATCH

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nascar"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--races-per-batch", type=int, default=DEFAULT_RACES_PER_BATCH)
    args = parser.parse_args()
    settings = neo4j_settings_from_env()
    if settings is None:
        print('NEO4J_URI is not set: eval "$(scripts/services/neo4j.sh start)"', file=sys.stderr)
        return 2

    started = time.perf_counter()
    history = load_history(args.data_dir)
    read_s = time.perf_counter() - started
    seasons = sorted(history.races["season"].unique().tolist())
    with Neo4jRaceGraph(settings) as graph:
        health = graph.health(timeout_s=10)
        if health.status != "pass":
            print(f"Neo4j is down: {health.detail}", file=sys.stderr)
            return 1
        graph.clear()
        graph.ensure_schema()
        first = graph.load(history, races_per_batch=args.races_per_batch)
        nodes, relationships = graph.counts()
        again = graph.load(history, races_per_batch=args.races_per_batch)
        unchanged = graph.counts() == (nodes, relationships)
    print(
        json.dumps(
            {
                "server": health.detail,
                "seasons": f"{seasons[0]}-{seasons[-1]} ({len(seasons)})",
                "races": first.races,
                "result_rows": first.result_rows,
                "races_per_batch": args.races_per_batch,
                "read_csv_s": round(read_s, 2),
                "load_fresh_s": round(first.seconds, 2),
                "results_per_s": round(first.result_rows / first.seconds),
                "reload_unchanged_s": round(again.seconds, 2),
                "reload_created": again.nodes_created + again.relationships_created,
                "counts_unchanged": unchanged,
                "nodes": nodes,
                "relationships": relationships,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
