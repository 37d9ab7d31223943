"""REST facade of nascar-dfs: lineup requests as Dagster runs (never the heavy work in-process)."""
