#!/usr/bin/env bash
# Runs the project's checks and default test suite with every service the tests need.
# PostgreSQL (Debian package) and Neo4j (from Maven Central) are installed on first use and
# started on loopback; a second run reuses them. Slow suites: `python -m pytest -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The project's virtual environment (scripts/venv.sh) when there is one: its python, ruff and dg.
VENV="${NASCAR_DFS_VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
if [ -x "$VENV/bin/python" ]; then
  export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
fi

eval "$(bash scripts/services/postgres.sh start)"
# In CI the Neo4j-marked tests must run, not skip: a missing server is an error there.
eval "$(NEO4J_REQUIRED=${CI:+1} bash scripts/services/neo4j.sh start)"
trap 'bash scripts/services/neo4j.sh stop >/dev/null 2>&1 || true' EXIT

# Compile caches survive between runs (a cold PyTensor/numba cache costs ~25 s per fit).
export NASCAR_DFS_CACHE_DIR="${NASCAR_DFS_CACHE_DIR:-$HOME/.cache/nascar-dfs}"
export PYTENSOR_FLAGS="${PYTENSOR_FLAGS:-base_compiledir=$NASCAR_DFS_CACHE_DIR/pytensor}"
# The default suite's fits are short demo chains, dominated by compiling; level 0 compiles fastest
# (and its graph code lands in this suite's own cache dir above). Suites that sample real chains on
# a real Dagster stack set their own level and cache (nascar_dfs_tests/api/dagster_stack.py).
export NUMBA_OPT="${NUMBA_OPT:-0}"
# The suites fit on the numba backend: at level 0 its cache refuses, so `auto` (the product's
# default, nascar_dfs/core/model/fit.py) would take JAX in every test process and start a detached
# optimised numba compile beside the suite. auto and JAX have their own tests, which set it:
# nascar_dfs_tests/core/model/test_fit_backends.py, test_background_fill.py (python -m pytest -m slow).
export NASCAR_DFS_NUTPIE_BACKEND="${NASCAR_DFS_NUTPIE_BACKEND:-numba}"

ruff check .
# The code location loads as `dg` loads the project ([tool.dg] in pyproject.toml), with no instance
# home set, as in a fresh checkout.
env -u DAGSTER_HOME dg check defs
# promtool (Debian's prometheus) checks the alert rules; Debian's chromium drives the Dagster UI test.
bash scripts/services/promtool.sh >/dev/null
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
# The slowest tests are listed, so the default run can be kept under 15 minutes by marking them slow.
python -m pytest --durations=25 "$@"
# Suites that break real servers on loopback (each test bounded in time): Dagster run worker and
# daemon, API restart, PostgreSQL outage, cancel; and stopping the Neo4j server under the health check.
# Then the API's run contract on a real Dagster stack + PostgreSQL (~7 min with a cold compile cache)
# and the schemathesis CLI against a loopback server (~2 min); each test has its own timeout. Last, the
# compile cache at the oldest supported nutpie, numba and PyMC (~3 min, downloads ~70 MB once).
if [ "$#" -eq 0 ]; then
  python -m pytest -m "fault_injection or (neo4j and slow) or dagster_e2e or contract_cli or version_ranges"
fi
