"""The webserver's real answer to the plan's asset-graph query, for tests that stub the webserver:
asked once per session of a real code server serving nascar_dfs/definitions.py."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from nascar_dfs.platform.plan import ASSET_GRAPH_QUERY

DEFINITIONS_FILE = Path(__file__).resolve().parents[2] / "nascar_dfs" / "definitions.py"


@functools.cache
def asset_graph_answer() -> dict[str, Any]:
    """`data` of the GraphQL answer (a fresh dict per caller would be safer, but none mutates it)."""
    with (
        dg.instance_for_test() as instance,
        define_out_of_process_context(str(DEFINITIONS_FILE), "defs", instance) as context,
    ):
        result = execute_dagster_graphql(context, ASSET_GRAPH_QUERY)
    if result.errors:
        raise AssertionError(f"the asset graph query failed: {result.errors}")
    return result.data
