"""Fault injection against real processes on loopback: the API under uvicorn (fake Dagster
launcher) and a PostgreSQL server of the test's own. Each test is bounded by a pytest timeout."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.core.config import Settings
from api.core.db import create_db_engine
from api.services.keys import create_key
from nascar_dfs_tests.api.conftest import RACE

from .servers import postgres_available, private_postgres, running_api

pytestmark = [pytest.mark.slow, pytest.mark.fault_injection]

PROBLEM = "application/problem+json"
OUTAGE_S = 20  # issue 7: PostgreSQL down for 20 s
DEFAULTS = Settings()


def _api_key(database_url: str) -> dict[str, str]:
    engine = create_db_engine(database_url)
    try:
        issued = create_key(engine, "alice", "user", time.time())
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {issued.secret_key}"}


def _submit(client: httpx.Client, key: str) -> httpx.Response:
    return client.post(
        "/v1/lineup-requests",
        json={"race_id": RACE, "spec": {"lineups": 3}},
        headers={"Idempotency-Key": key},
    )


def _wait_for_readyz(client: httpx.Client, status: int, within_s: float) -> tuple[float, float]:
    """Poll /readyz until it answers `status`; (seconds it took, slowest single probe)."""
    began, slowest = time.monotonic(), 0.0
    while time.monotonic() - began < within_s:
        sent = time.monotonic()
        got = client.get("/readyz").status_code
        slowest = max(slowest, time.monotonic() - sent)
        if got == status:
            return time.monotonic() - began, slowest
        time.sleep(0.2)
    raise AssertionError(f"/readyz did not answer {status} within {within_s} s")


def _all_requests(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/lineup-requests", params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.timeout(150)
@pytest.mark.skipif(
    not postgres_available(), reason="PostgreSQL server binaries (Debian package) not installed"
)
def test_postgres_outage_fails_fast_and_recovers_without_a_restart(tmp_path: Path) -> None:
    with private_postgres() as pg, running_api(pg.url, tmp_path / "api.log") as api:
        headers = _api_key(pg.url)
        with httpx.Client(base_url=api.base_url, headers=headers, timeout=10) as client:
            accepted = set()
            for _ in range(3):
                before = _submit(client, uuid.uuid4().hex)
                assert before.status_code == 202, before.text
                accepted.add(before.json()["id"])

            pg.stop()
            down_at = time.monotonic()
            # Cached health results may still say "pass" for one cache period.
            took, slowest = _wait_for_readyz(
                client, 503, DEFAULTS.health_cache_s + DEFAULTS.health_check_timeout_s + 3
            )
            assert slowest < DEFAULTS.health_check_timeout_s + 1.0, (
                "a /readyz probe hung on the dead database"
            )

            # For the rest of the outage every submit is refused cleanly and the probes stay fast.
            refused_keys = []
            while time.monotonic() - down_at < OUTAGE_S:
                assert client.get("/livez").status_code == 200  # Kubernetes must not restart the pod
                sent = time.monotonic()
                assert client.get("/readyz").status_code == 503
                assert time.monotonic() - sent < DEFAULTS.health_check_timeout_s + 1.0
                refused_keys.append(uuid.uuid4().hex)
                refused = _submit(client, refused_keys[-1])
                assert refused.status_code == 503, refused.text
                assert refused.headers["content-type"].startswith(PROBLEM)
                assert refused.json()["status"] == 503
                time.sleep(1.0)
            pg.start()
            _wait_for_readyz(client, 200, DEFAULTS.health_cache_s + 10)

            assert api.proc.poll() is None, "the API process died during the outage"
            for request_id in accepted:
                kept = client.get(f"/v1/lineup-requests/{request_id}")
                assert kept.status_code == 200 and kept.json()["id"] == request_id
            # Nothing half-written: a key refused during the outage is free, not stuck in progress.
            retried = set()
            for key in refused_keys:
                again = _submit(client, key)
                assert again.status_code == 202, again.text
                retried.add(again.json()["id"])
            assert {r["id"] for r in _all_requests(client)} == accepted | retried
    assert took <= DEFAULTS.health_cache_s + DEFAULTS.health_check_timeout_s + 3


class Burst:
    """Clients submitting (fresh Idempotency-Key each) and polling until told to stop."""

    def __init__(self, base_url: str, headers: dict[str, str], clients: int) -> None:
        self.base_url, self.headers = base_url, headers
        self.accepted: dict[str, str] = {}  # idempotency key -> request id
        self.attempted: list[str] = []
        self.statuses: list[tuple[float, int]] = []  # (time sent, status); 0 = transport error
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(30)

    def _record(self, sent: float, status: int) -> None:
        with self._lock:
            self.statuses.append((sent, status))

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=20) as client:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                with self._lock:
                    self.attempted.append(key)
                sent = time.monotonic()
                try:
                    resp = _submit(client, key)
                except httpx.TransportError:
                    self._record(sent, 0)
                    time.sleep(0.05)
                    continue
                self._record(sent, resp.status_code)
                if resp.status_code == 202:
                    with self._lock:
                        self.accepted[key] = resp.json()["id"]
                    sent = time.monotonic()
                    try:
                        self._record(sent, client.get(resp.headers["location"]).status_code)
                    except httpx.TransportError:
                        self._record(sent, 0)


@pytest.mark.timeout(150)
def test_api_restart_during_a_burst_loses_no_accepted_request_and_duplicates_none(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'api.db'}"
    graceful_s = 5
    with running_api(database, tmp_path / "first.log", graceful_s=graceful_s) as first:
        headers = _api_key(database)
        burst = Burst(first.base_url, headers, clients=4)
        burst.start()
        time.sleep(2.0)
        assert burst.accepted, "no submit was accepted before the restart: nothing to test"
        first_pid = first.proc.pid
        terminated_at = time.monotonic()
        os.kill(first_pid, signal.SIGTERM)
        exit_code = first.proc.wait(graceful_s + 5)
        exited_after = time.monotonic() - terminated_at
        time.sleep(0.5)  # a moment of refused connections, as during a real restart
        burst.join()

    assert exit_code in (0, -signal.SIGTERM)
    assert exited_after < graceful_s + 2
    # Before SIGTERM everything succeeded; afterwards a client may see 503 or a refused
    # connection, never a 500 or a broken half-response.
    before = [s for t, s in burst.statuses if t < terminated_at]
    after = [s for t, s in burst.statuses if t >= terminated_at]
    assert before and set(before) <= {200, 202}
    assert set(after) <= {0, 200, 202, 503}

    with (
        running_api(database, tmp_path / "second.log") as second,
        httpx.Client(base_url=second.base_url, headers=headers, timeout=10) as client,
    ):
        for key, request_id in burst.accepted.items():
            got = client.get(f"/v1/lineup-requests/{request_id}")
            assert got.status_code == 200, f"accepted request {request_id} lost in the restart"
            replay = _submit(client, key)
            assert replay.status_code in (200, 202) and replay.json()["id"] == request_id
        # Clients retry what they never got a 202 for, with the same key; a request the server
        # created but could not answer for comes back as a replay (200), the rest are new (202).
        for key in set(burst.attempted) - set(burst.accepted):
            assert _submit(client, key).status_code in (200, 202)
        requests = _all_requests(client)
    assert len(requests) == len({r["id"] for r in requests}) == len(set(burst.attempted))
