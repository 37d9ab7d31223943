#!/usr/bin/env bash
# promtool (from Debian's `prometheus` package) for validating and unit-testing the alert rules.
#
#   bash scripts/services/promtool.sh     install if absent, print the promtool path on stdout
#
# Idempotent: a second run finds promtool and installs nothing. Progress goes to stderr so
# `PROMTOOL="$(bash scripts/services/promtool.sh)"` captures only the path.
set -euo pipefail

log() { echo "promtool.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v promtool >/dev/null 2>&1; then
    log "promtool not found: installing the Debian prometheus package"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    # Only the binary is wanted: the package's service is neither enabled nor started here.
    as_root apt-get install -y -qq --no-install-recommends prometheus >&2
fi
command -v promtool
