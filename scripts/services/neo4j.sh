#!/usr/bin/env bash
# A local Neo4j Community server for the graph tests and benchmarks.
#
#   scripts/services/neo4j.sh start    # install if needed, start, wait for Bolt, print env lines
#   scripts/services/neo4j.sh stop     # stop the server started by this script
#   scripts/services/neo4j.sh status   # "running <uri>" (exit 0) or "stopped" (exit 1)
#   scripts/services/neo4j.sh env      # print the env lines of the running server
#
#   eval "$(scripts/services/neo4j.sh start)"   # then: pytest -m neo4j
#
# Without Java 17/21 (or without mvn before the first fetch) `start` warns and prints no env, so the
# Neo4j tests skip; with NEO4J_REQUIRED=1 it fails instead.
#
# Maven Central does not serve the packaged server tarball for 5.x, so the server is assembled from
# its published jars (org.neo4j.app:neo4j-server + org.neo4j:neo4j, fetched by `mvn
# dependency:copy-dependencies`) and started with the distribution's own entry point. Everything lives
# outside the clone in $NASCAR_DFS_NEO4J_HOME (default ~/.cache/nascar-dfs/neo4j), so a second run
# neither downloads nor re-initialises anything. Only stdout carries the env lines; progress goes to
# stderr so `eval "$(... start)"` stays clean.
set -euo pipefail

NEO4J_VERSION="${NEO4J_VERSION:-5.26.30}"   # 5.26 LTS: runs on Java 17 and 21
ROOT="${NASCAR_DFS_NEO4J_HOME:-$HOME/.cache/nascar-dfs/neo4j}"
DIST="$ROOT/dist/$NEO4J_VERSION"
HOME_DIR="$ROOT/server"
PID_FILE="$HOME_DIR/run/neo4j.pid"
ENV_FILE="$ROOT/env"
START_TIMEOUT_S="${NEO4J_START_TIMEOUT_S:-180}"
STOP_TIMEOUT_S="${NEO4J_STOP_TIMEOUT_S:-60}"

log() { echo "neo4j.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'
}

# Java 17 or 21: $JAVA_HOME if set, else `java` on PATH, else any JDK under /usr/lib/jvm
# (Debian puts 17 on PATH and may install a newer one, e.g. Temurin 25, beside it).
java_bin() {
  local candidates=()
  if [[ -n "${JAVA_HOME:-}" ]]; then
    candidates=("$JAVA_HOME/bin/java")
  else
    command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
    local jvm
    for jvm in /usr/lib/jvm/*/bin/java; do [[ -x "$jvm" ]] && candidates+=("$jvm"); done
  fi
  local java
  for java in "${candidates[@]}"; do
    case "$(java_major "$java")" in 17|21) echo "$java"; return 0 ;; esac
  done
  die "Neo4j $NEO4J_VERSION needs Java 17 or 21; none found (tried: ${candidates[*]:-nothing}). Set JAVA_HOME"
}

install_dist() {
  [[ -f "$DIST/.complete" ]] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch Neo4j $NEO4J_VERSION from Maven Central)"
  log "fetching Neo4j Community $NEO4J_VERSION jars into $DIST (once)"
  mkdir -p "$DIST"
  cat > "$DIST/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.nascar-dfs</groupId><artifactId>neo4j-community-server</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>$NEO4J_VERSION</version></dependency>
    <dependency><groupId>org.neo4j.app</groupId><artifactId>neo4j-server</artifactId><version>$NEO4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  rm -rf "$DIST/lib"
  (cd "$DIST" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$DIST/lib" >&2) \
    || die "mvn could not fetch Neo4j $NEO4J_VERSION"
  touch "$DIST/.complete"
}

port_is_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no conflict
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

configure() {
  mkdir -p "$HOME_DIR"/{conf,data,logs,run,plugins,import}
  if [[ ! -f "$HOME_DIR/bolt_port" ]]; then
    local port="${NEO4J_BOLT_PORT:-7687}"
    port_is_free "$port" || port="$(free_port)"
    echo "$port" > "$HOME_DIR/bolt_port"
  fi
  local port; port="$(cat "$HOME_DIR/bolt_port")"
  # Loopback only, no HTTP: the tests and the platform speak Bolt.
  cat > "$HOME_DIR/conf/neo4j.conf" <<CONF
server.default_listen_address=127.0.0.1
server.bolt.listen_address=127.0.0.1:$port
server.bolt.advertised_address=127.0.0.1:$port
server.http.enabled=false
server.https.enabled=false
server.memory.heap.initial_size=512m
server.memory.heap.max_size=512m
server.memory.pagecache.size=256m
server.directories.data=$HOME_DIR/data
server.directories.logs=$HOME_DIR/logs
server.directories.run=$HOME_DIR/run
server.directories.plugins=$HOME_DIR/plugins
server.directories.import=$HOME_DIR/import
dbms.usage_report.enabled=false
CONF
  if [[ ! -f "$HOME_DIR/data/dbms/auth.ini" ]]; then
    local password; password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
    NEO4J_HOME="$HOME_DIR" NEO4J_CONF="$HOME_DIR/conf" "$(java_bin)" -cp "$DIST/lib/*" \
      org.neo4j.cli.AdminTool dbms set-initial-password "$password" >/dev/null 2>&1 \
      || die "neo4j-admin dbms set-initial-password failed"
    (umask 077 && echo "$password" > "$HOME_DIR/password")
  fi
}

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  # /proc, not ps: ps cuts the command line to $COLUMNS, which pytest and CI logs may set narrow
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q CommunityEntryPoint || return 1
  echo "$pid"
}

bolt_uri() { echo "bolt://127.0.0.1:$(cat "$HOME_DIR/bolt_port")"; }

write_env() {
  (umask 077 && printf 'export NEO4J_URI=%s NEO4J_USER=neo4j NEO4J_PASSWORD=%s\n' \
    "$(bolt_uri)" "$(cat "$HOME_DIR/password")" > "$ENV_FILE")
}

# Alive and not a zombie. Startup checks the pid it launched this way, not with running_pid: for a
# few milliseconds after `&` the child is still bash/setsid/nohup on its way to exec java, so its
# cmdline does not name CommunityEntryPoint yet (CI read that as "server exited during startup").
process_alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

wait_for_bolt() {
  local pid="$1"
  local port; port="$(cat "$HOME_DIR/bolt_port")"
  local deadline=$((SECONDS + START_TIMEOUT_S))
  while (( SECONDS < deadline )); do
    process_alive "$pid" || die "server exited during startup; see $HOME_DIR/logs/console.log"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 1
  done
  die "Bolt not reachable on 127.0.0.1:$port after ${START_TIMEOUT_S}s; see $HOME_DIR/logs/console.log"
}

# Prints why the server cannot run here (no suitable Java, or no mvn for the one-time fetch).
missing_prerequisite() {
  if ! (java_bin >/dev/null 2>&1); then echo "no Java 17 or 21 (set JAVA_HOME)"; return 0; fi
  if [[ ! -f "$DIST/.complete" ]] && ! command -v mvn >/dev/null 2>&1; then
    echo "mvn not found (needed once to fetch Neo4j $NEO4J_VERSION from Maven Central)"; return 0
  fi
  return 1
}

cmd_start() {
  local missing
  if missing="$(missing_prerequisite)"; then
    # A machine without Java runs the rest of the suite: no env lines, so Neo4j tests skip and say
    # how to run them. NEO4J_REQUIRED=1 turns this into an error (for a CI that must run them).
    [[ "${NEO4J_REQUIRED:-0}" == 1 ]] && die "$missing"
    log "warning: $missing; Neo4j is not started and the Neo4j tests will be skipped"
    echo "# neo4j unavailable: $missing"
    return 0
  fi
  install_dist
  if ! running_pid >/dev/null; then
    configure
    local port; port="$(cat "$HOME_DIR/bolt_port")"
    port_is_free "$port" || die "port $port is taken by another process (a server not started by this script?)"
    local java; java="$(java_bin)"
    log "starting Neo4j $NEO4J_VERSION on $(bolt_uri)"
    setsid nohup "$java" -Xms512m -Xmx512m -XX:+UseG1GC -cp "$DIST/lib/*" \
      org.neo4j.server.CommunityEntryPoint --home-dir="$HOME_DIR" --config-dir="$HOME_DIR/conf" \
      > "$HOME_DIR/logs/console.log" 2>&1 < /dev/null &
    echo $! > "$PID_FILE"
  else
    log "already running (pid $(running_pid))"
  fi
  wait_for_bolt "$(cat "$PID_FILE")"
  write_env
  log "ready: $(bolt_uri)"
  cat "$ENV_FILE"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then log "not running"; rm -f "$PID_FILE"; return 0; fi
  kill "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then log "no clean shutdown in ${STOP_TIMEOUT_S}s; killing"; kill -9 "$pid"; fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  if running_pid >/dev/null; then echo "running $(bolt_uri)"; else echo "stopped"; return 1; fi
}

cmd_env() {
  running_pid >/dev/null || die "not running; start it with: eval \"\$($0 start)\""
  cat "$ENV_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
