"""Dagster layer of nascar_dfs: one sub-package per area, each exposing `definitions.defs`.

`nascar_dfs.definitions` merges every `nascar_dfs.defs.<area>.definitions.defs` it finds, so a new
area only has to add its own folder.
"""
