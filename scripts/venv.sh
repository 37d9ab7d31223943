#!/usr/bin/env bash
# Creates the project's virtual environment (.venv, or $NASCAR_DFS_VENV) and installs the project
# into it with its dev extras: `bash scripts/venv.sh && .venv/bin/nascar-dfs up`.
#
# A virtual environment because a stock Debian or Ubuntu Python refuses a system-wide `pip install`
# (PEP 668, "externally-managed-environment"). It sees the system's packages (--system-site-packages),
# so pip installs only what is missing or too old: nothing to download on a machine that already has
# the dependencies, everything on a bare one. Without Debian's python3-venv (no ensurepip) the
# environment is made without its own pip, and the system's pip (python3-pip) installs into it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${NASCAR_DFS_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv --system-site-packages "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    "$PYTHON" -m venv --system-site-packages --without-pip "$VENV"
  fi
fi
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "scripts/venv.sh: $VENV has no pip: install Debian's python3-venv or python3-pip" \
       "(apt-get install python3-venv python3-pip), then run this again" >&2
  exit 1
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[dev]"
# The console scripts of packages pip found in the system's site-packages (dg, ruff, dagster-webserver,
# ...) are not in $VENV/bin; outside it they would run the system's interpreter, which imports another
# install of this project. Each missing one gets a script here that runs it with this environment.
"$VENV/bin/python" - <<'PY'
import importlib.metadata
import sys
from pathlib import Path

bindir = Path(sys.prefix) / "bin"
for entry in importlib.metadata.entry_points(group="console_scripts"):
    script = bindir / entry.name
    if script.exists() or not entry.attr:
        continue
    head = entry.attr.split(".")[0]
    script.write_text(
        f"#!{sys.executable}\nimport sys\nfrom {entry.module} import {head}\nsys.exit({entry.attr}())\n"
    )
    script.chmod(0o755)
PY
echo "$VENV"
