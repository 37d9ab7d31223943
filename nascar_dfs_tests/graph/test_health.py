"""Neo4j graph health: `pass` with latency when up; `fail` within its timeout when down, never a hang."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from nascar_dfs.graph import Neo4jRaceGraph, Neo4jSettings
from nascar_dfs.graph.neo4j_graph import neo4j_health

TIMEOUT_S = 1.5
SLACK_S = 2.0  # thread start-up on a loaded machine; a hang (driver retries) would take 30 s+


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never answers: a hung server, as seen from the driver."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"bolt://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def _timed_health(settings: Neo4jSettings) -> tuple[str, float, str]:
    started = time.perf_counter()
    health = neo4j_health(settings, TIMEOUT_S)
    return health.status, time.perf_counter() - started, health.detail


def test_nothing_listening_is_reported_down_at_once() -> None:
    status, elapsed, detail = _timed_health(Neo4jSettings(uri=f"bolt://127.0.0.1:{_closed_port()}"))
    assert status == "fail"
    assert elapsed < TIMEOUT_S + SLACK_S
    assert "127.0.0.1" in detail


def test_a_server_that_never_answers_is_reported_down_within_the_timeout(silent_server: str) -> None:
    status, elapsed, _ = _timed_health(Neo4jSettings(uri=silent_server, password="x"))
    assert status == "fail"
    assert elapsed < TIMEOUT_S + SLACK_S


@pytest.mark.neo4j
def test_a_live_server_passes_with_its_latency(neo4j_server: Neo4jRaceGraph) -> None:
    health = neo4j_server.health(timeout_s=5)
    assert health.status == "pass", health.detail
    assert health.backend == "neo4j"
    assert "Neo4j 5." in health.detail
    assert health.latency_ms > 0


@pytest.mark.neo4j
def test_wrong_credentials_are_a_failure_not_a_pass(neo4j_settings: Neo4jSettings) -> None:
    # another user name: failed logins of the real user would lock it for the other tests
    wrong = Neo4jSettings(uri=neo4j_settings.uri, user="not-a-user", password="not-the-password")
    status, elapsed, detail = _timed_health(wrong)
    assert status == "fail" and "uth" in detail  # AuthError / Unauthorized
    assert elapsed < TIMEOUT_S + SLACK_S


def _script_server_pid(uri: str) -> int | None:
    """pid of the server scripts/services/neo4j.sh started, if it is the one behind `uri`."""
    root = Path(os.environ.get("NASCAR_DFS_NEO4J_HOME", Path.home() / ".cache" / "nascar-dfs" / "neo4j"))
    pid_file, port_file = root / "server" / "run" / "neo4j.pid", root / "server" / "bolt_port"
    if not (pid_file.exists() and port_file.exists()):
        return None
    if str(urlparse(uri).port) != port_file.read_text().strip():
        return None
    return int(pid_file.read_text().strip())


@pytest.mark.neo4j
def test_a_stopped_server_is_reported_down_within_the_timeout(neo4j_server: Neo4jRaceGraph) -> None:
    """SIGSTOP freezes the real server (its port stays open, nothing answers); SIGCONT brings it back."""
    pid = _script_server_pid(neo4j_server.settings.uri)
    if pid is None:
        pytest.skip("NEO4J_URI is not the server of scripts/services/neo4j.sh: cannot stop it safely")
    os.kill(pid, signal.SIGSTOP)
    try:
        status, elapsed, detail = _timed_health(neo4j_server.settings)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert status == "fail", detail
    assert elapsed < TIMEOUT_S + SLACK_S
    assert neo4j_server.health(timeout_s=30).status == "pass", "the server answers again once resumed"


SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services" / "neo4j.sh"


def _run_script(command: str, timeout_s: float) -> None:
    """Runs `neo4j.sh <command>`; a failure shows the script's own words (its stderr), not an exit code."""
    done = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"neo4j.sh {command} exited {done.returncode}:\n{done.stderr}"


@pytest.mark.slow
@pytest.mark.neo4j
def test_a_server_shut_down_by_the_script_is_reported_down_then_up_after_start(
    neo4j_server: Neo4jRaceGraph,
) -> None:
    """The real thing: `neo4j.sh stop`, probe, `neo4j.sh start` (about a minute on 2 cores)."""
    if _script_server_pid(neo4j_server.settings.uri) is None:
        pytest.skip("NEO4J_URI is not the server of scripts/services/neo4j.sh: cannot stop it safely")
    _run_script("stop", timeout_s=120)
    try:
        status, elapsed, _ = _timed_health(neo4j_server.settings)
    finally:
        _run_script("start", timeout_s=300)
    assert status == "fail"
    assert elapsed < TIMEOUT_S + SLACK_S
    assert neo4j_server.health(timeout_s=30).status == "pass"
