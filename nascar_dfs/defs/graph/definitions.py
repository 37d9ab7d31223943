"""Per-area Definitions of the race graph; nascar_dfs/definitions.py merges them."""

from __future__ import annotations

import dagster as dg

from nascar_dfs.defs.graph.assets import race_graph
from nascar_dfs.defs.graph.resources import RaceGraphStore

defs = dg.Definitions(assets=[race_graph], resources={"race_graph_store": RaceGraphStore()})
