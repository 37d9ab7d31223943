"""A real Dagster deployment for end-to-end tests (benchmarks/stack.py, shared with the benchmarks),
and the tests' own code location with a short MCMC chain."""

from __future__ import annotations

from benchmarks.stack import (
    POSTGRES_INSTANCE,
    REPO,
    STACK_CACHE,
    DagsterStack,
    dagster_stack,
    free_port,
    wait_http,
)

E2E_MODULE = "nascar_dfs_tests.api.e2e_defs"  # the real definitions with a short MCMC chain

__all__ = [
    "E2E_MODULE",
    "POSTGRES_INSTANCE",
    "REPO",
    "STACK_CACHE",
    "DagsterStack",
    "dagster_stack",
    "free_port",
    "wait_http",
]
