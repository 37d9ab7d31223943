"""Command implementations behind `nascar-dfs <command>`."""
