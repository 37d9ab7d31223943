#!/usr/bin/env bash
# PostgreSQL for the Dagster instance and the integration tests, on loopback only.
#
#   bash scripts/services/postgres.sh start        install if absent, start, create role + db, print env
#   bash scripts/services/postgres.sh stop         stop the cluster
#   bash scripts/services/postgres.sh env          print the test env (NASCAR_DFS_TEST_PG_DSN)
#   bash scripts/services/postgres.sh dagster-env  print DAGSTER_PG_* (switches `nascar-dfs up` to Postgres)
#
# stdout carries only `export ...` lines, so `eval "$(bash scripts/services/postgres.sh start)"`
# works; progress goes to stderr. Every step is idempotent: running `start` twice is harmless.
# `start` deliberately prints only the test DSN: exporting DAGSTER_PG_* would silently move every
# `nascar-dfs up`/`demo` of the same shell onto Postgres.
set -euo pipefail

PG_USER="${NASCAR_DFS_PG_USER:-nascar_dfs}"
PG_PASSWORD="${NASCAR_DFS_PG_PASSWORD:-nascar_dfs}"
PG_DB="${NASCAR_DFS_PG_DB:-nascar_dfs_test}"
PG_HOST=127.0.0.1
CLUSTER=main

log() { echo "postgres.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

server_version() {
    ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1
}

install_if_absent() {
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(server_version)" ]; then
        return
    fi
    log "PostgreSQL not found: installing the Debian package"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq postgresql >&2
}

cluster_port() {
    pg_lsclusters --no-header | awk -v v="$1" -v c="$CLUSTER" '$1 == v && $2 == c {print $3}'
}

cluster_online() {
    pg_lsclusters --no-header | awk -v v="$1" -v c="$CLUSTER" '$1 == v && $2 == c {print $4}' | grep -q online
}

ensure_cluster() {
    local version="$1"
    if [ -z "$(cluster_port "$version")" ]; then
        log "creating cluster $version/$CLUSTER"
        as_root pg_createcluster "$version" "$CLUSTER" >&2
    fi
    # Loopback only: nothing of this machine's database is reachable from outside. A conf.d
    # drop-in (included by Debian's postgresql.conf) keeps the packaged file untouched.
    local dropin="/etc/postgresql/$version/$CLUSTER/conf.d/nascar_dfs.conf"
    if [ ! -f "$dropin" ]; then
        echo "listen_addresses = '$PG_HOST'" | as_root tee "$dropin" >/dev/null
    fi
}

wait_ready() {
    local port="$1"
    for _ in $(seq 1 60); do
        if pg_isready -q -h "$PG_HOST" -p "$port"; then return; fi
        sleep 0.5
    done
    log "server on $PG_HOST:$port did not become ready in 30 s"
    exit 1
}

ensure_role_and_db() {
    local port="$1"
    as_postgres psql -q -v ON_ERROR_STOP=1 -p "$port" -d postgres >&2 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SQL
    if ! as_postgres psql -tA -p "$port" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
        as_postgres createdb -p "$port" -O "$PG_USER" "$PG_DB" >&2
    fi
}

print_test_env() {
    local port="$1"
    echo "export NASCAR_DFS_TEST_PG_DSN=postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$port/$PG_DB"
}

print_dagster_env() {
    local port="$1"
    echo "export DAGSTER_PG_HOST=$PG_HOST"
    echo "export DAGSTER_PG_PORT=$port"
    echo "export DAGSTER_PG_USER=$PG_USER"
    echo "export DAGSTER_PG_PASSWORD=$PG_PASSWORD"
    echo "export DAGSTER_PG_DB=$PG_DB"
}

running_port() {
    local version
    version="$(server_version)"
    if [ -z "$version" ] || ! cluster_online "$version"; then
        log "PostgreSQL is not running: use 'start'"
        exit 1
    fi
    cluster_port "$version"
}

start() {
    install_if_absent
    local version port
    version="$(server_version)"
    ensure_cluster "$version"
    if ! cluster_online "$version"; then
        log "starting cluster $version/$CLUSTER"
        as_root pg_ctlcluster "$version" "$CLUSTER" start >&2
    fi
    port="$(cluster_port "$version")"
    wait_ready "$port"
    ensure_role_and_db "$port"
    log "ready on $PG_HOST:$port, database $PG_DB"
    print_test_env "$port"
}

stop() {
    local version
    version="$(server_version)"
    if [ -n "$version" ] && cluster_online "$version"; then
        as_root pg_ctlcluster "$version" "$CLUSTER" stop >&2
        log "stopped"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) port="$(running_port)" && print_test_env "$port" ;;
    dagster-env) port="$(running_port)" && print_dagster_env "$port" ;;
    *) echo "usage: $0 start|stop|env|dagster-env" >&2; exit 2 ;;
esac
