#!/usr/bin/env bash
# Runs the project's checks and default test suite with every service the tests need.
# PostgreSQL (Debian package) and Neo4j (from Maven Central) are installed on first use and
# started on loopback; a second run reuses them. Slow suites: `python -m pytest -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(bash scripts/services/postgres.sh start)"
eval "$(bash scripts/services/neo4j.sh start)"
trap 'bash scripts/services/neo4j.sh stop >/dev/null 2>&1 || true' EXIT

# Compile caches survive between runs (refit.md: a cold PyTensor/numba cache costs ~25 s per fit).
export NASCAR_DFS_CACHE_DIR="${NASCAR_DFS_CACHE_DIR:-$HOME/.cache/nascar-dfs}"
export PYTENSOR_FLAGS="${PYTENSOR_FLAGS:-base_compiledir=$NASCAR_DFS_CACHE_DIR/pytensor}"
export NUMBA_OPT="${NUMBA_OPT:-0}"

ruff check .
dagster definitions validate -m nascar_dfs.definitions
python -m pytest "$@"
