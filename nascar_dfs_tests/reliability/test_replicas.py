"""Two API replicas and slow webhook endpoints on the real platform (issue 19, items 1 and 2): the
real API (uvicorn, Dagster launcher) twice on one PostgreSQL database, a Dagster webserver and
daemon serving the platform's code location with a short chain (pipeline_defs.py) on
deploy/postgres/dagster.yaml, and webhook receivers on loopback speaking TLS (a CA of the test's
own from the maintained `trustme` package, trusted by the API processes through SSL_CERT_FILE).

    python -m pytest -m fault_injection nascar_dfs_tests/reliability/test_replicas.py
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, RunsFilter
from dagster._core.instance.ref import InstanceRef

from api.core.db import create_db_engine, outbox, webhook_deliveries
from api.services.keys import create_key

from .conftest import REPO
from .phase_gate import GATE_DIR_ENV
from .servers import ApiProcess, postgres_available, postgres_instance_yaml, private_postgres, start_api
from .servers import dagster_processes as dagster_servers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.fault_injection,
    pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries not installed"),
]

MODULE = "nascar_dfs_tests.reliability.pipeline_defs"
DEMO_RACE = "2026-cup-demo-mile-2"
TERMINAL = {"succeeded", "failed", "canceled"}


class Tls:
    """A CA of the test's own and a certificate for 127.0.0.1 it signed."""

    def __init__(self, workdir: Path) -> None:
        import trustme

        ca = trustme.CA()
        self.ca_file = workdir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(self.server)


class Receiver:
    """An https endpoint on loopback answering 200 and recording every webhook it got."""

    def __init__(self, tls: Tls) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["content-length"]))
                outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(data)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = tls.server.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Dripper:
    """An https endpoint that reads the request, then answers one byte a second, never finishing
    (the slow endpoint of issue 19, item 1). Counts the connections it is dripping to."""

    def __init__(self, tls: Tls) -> None:
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.dripping = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}/drip"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, raw: socket.socket) -> None:
        self.connections += 1
        try:
            conn = self.tls.server.wrap_socket(raw, server_side=True)
            conn.recv(65536)
            self.dripping += 1
            try:
                for byte in b"HTTP/1.1 200 OK\r\n" * 1000:
                    if self._stop.is_set():
                        return
                    conn.send(bytes([byte]))
                    time.sleep(1.0)
            finally:
                self.dripping -= 1
        except OSError:
            return  # the API closed the connection at its delivery's deadline
        finally:
            raw.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


@dataclass
class Platform:
    workdir: Path
    api_db: str
    api_env: dict[str, str]
    dagster_url: str
    instance: DagsterInstance
    tls: Tls
    headers: dict[str, str]
    apis: list[ApiProcess] = field(default_factory=list)

    def start_api(self, name: str, **settings: str) -> ApiProcess:
        api = start_api(
            self.api_db,
            self.workdir / f"{name}.log",
            factory="api.app:app_from_env",
            env=self.api_env,
            dagster_url=self.dagster_url,
            worker_interval_s="0.5",
            webhook_allow_private="true",
            **settings,
        )
        self.apis.append(api)
        return api

    def client(self, api: ApiProcess) -> httpx.Client:
        return httpx.Client(base_url=api.base_url, headers=self.headers, timeout=30)

    def submit(self, api: ApiProcess, spec: dict[str, Any], callback_url: str) -> str:
        with self.client(api) as c:
            resp = c.post(
                "/v1/lineup-requests",
                json={"race_id": DEMO_RACE, "spec": spec, "callback_url": callback_url},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        assert resp.status_code == 202, resp.text
        return resp.json()["id"]

    def status(self, api: ApiProcess, request_id: str) -> dict[str, Any]:
        with self.client(api) as c:
            return c.get(f"/v1/lineup-requests/{request_id}").json()

    def wait_done(self, api: ApiProcess, request_ids: list[str], timeout_s: float) -> dict[str, dict]:
        deadline = time.monotonic() + timeout_s
        done: dict[str, dict] = {}
        while len(done) < len(request_ids):
            assert time.monotonic() < deadline, {r: self.status(api, r)["status"] for r in request_ids}
            assert api.proc.poll() is None, api.log.read_text()[-3000:]
            for rid in request_ids:
                if rid not in done and (got := self.status(api, rid))["status"] in TERMINAL:
                    done[rid] = got
            time.sleep(1.0)
        return done

    def runs(self, request_id: str) -> list[Any]:
        return list(self.instance.get_runs(RunsFilter(tags={"nascar/request_id": request_id})))

    def unfinished_outbox(self) -> list[Any]:
        engine = create_db_engine(self.api_db)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.select(outbox).where(outbox.c.done_at.is_(None))))
        finally:
            engine.dispose()

    def deliveries(self) -> list[Any]:
        engine = create_db_engine(self.api_db)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.select(webhook_deliveries)))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("replicas")
    gates, storage = work / "gates", work / "storage"
    gates.mkdir()
    tls = Tls(work)
    with private_postgres() as pg:
        instance_yaml = postgres_instance_yaml(pg, "dagster")
        admin = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE api"))
        admin.dispose()
        api_db = pg.url.rsplit("/", 1)[0] + "/api"
        env = {"NASCAR_DFS_STORAGE": str(storage), GATE_DIR_ENV: str(gates), "NUMBA_OPT": "3"}
        with dagster_servers(work, MODULE, instance_yaml, env) as dagster:
            api_env = {
                **dagster.env,
                "NASCAR_DFS_API_DATA_DIR": str(REPO / "nascar_dfs" / "demo_data"),
                "SSL_CERT_FILE": str(tls.ca_file),  # httpx trusts the test's CA (trust_env)
            }
            engine = create_db_engine(api_db)
            from api.core.db import migrate

            migrate(engine, time.time())
            key = create_key(engine, "alice", "user", time.time()).secret_key
            engine.dispose()
            headers = {"Authorization": f"Bearer {key}"}
            with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster.home))) as instance:
                plat = Platform(work, api_db, api_env, dagster.url, instance, tls, headers)
                try:
                    yield plat
                finally:
                    for api in plat.apis:
                        if api.proc.poll() is None:
                            api.proc.kill()
                            api.proc.wait(10)


def _spec(i: int) -> dict[str, Any]:
    return {"lineups": 2 + i, "max_exposure": 0.9, "scenarios": 500}


@pytest.mark.timeout(1800)
def test_a_replica_killed_mid_launch_duplicates_nothing_and_leaves_nothing_unfinished(
    platform: Platform,
) -> None:
    """Acceptance, issue 19: two API processes on one PostgreSQL database, one killed with
    kill -9 in the middle of launches: every request gets exactly the runs its plan needs, one
    webhook per status change reaches the receiver, nothing stays unfinished."""
    a = platform.start_api("replica-a")
    b = platform.start_api("replica-b")
    receiver = Receiver(platform.tls)
    try:
        with platform.client(a) as c:
            assert c.post("/v1/webhook-secrets").status_code == 201
        ids = [platform.submit(a if i % 2 else b, _spec(i), receiver.url) for i in range(6)]
        deadline = time.monotonic() + 300
        while not any(platform.runs(r) for r in ids):  # launches have begun
            assert time.monotonic() < deadline, "no run was launched"
            time.sleep(0.2)
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(10)
        done = platform.wait_done(a, ids, timeout_s=1500)
        assert {d["status"] for d in done.values()} == {"succeeded"}, done
        deadline = time.monotonic() + 300  # the webhooks of the last requests, and the dead
        while platform.unfinished_outbox():  # replica's rows once their lease lapsed
            assert time.monotonic() < deadline, platform.unfinished_outbox()
            time.sleep(1.0)
    finally:
        receiver.close()
    for rid in ids:
        runs = [r for r in platform.runs(rid) if "dagster/parent_run_id" not in r.tags]
        roots = Counter(r.tags.get("nascar/step", "lineups") for r in runs)
        assert roots["lineups"] == 1 and roots["calibration"] <= 1, (rid, roots)
    # One status change per request (queued -> succeeded), so one webhook (one webhook-id) each;
    # a POST the killed replica had on the wire may be repeated with the same id (Standard
    # Webhooks' at-least-once, deduplicated by id at the receiver).
    by_request: dict[str, set[str]] = {}
    posts = Counter(h["webhook-id"] for h, _ in receiver.calls)
    for headers, payload in receiver.calls:
        assert payload["type"] == "lineup_request.succeeded"
        by_request.setdefault(payload["data"]["id"], set()).add(headers["webhook-id"])
    assert {r: len(v) for r, v in by_request.items()} == dict.fromkeys(ids, 1)
    assert max(posts.values()) <= 2, posts
    assert {d.state for d in platform.deliveries()} == {"delivered"}
    print(f"webhook POSTs per id: {dict(Counter(posts.values()))}")
    a.stop()


@pytest.mark.timeout(1200)
def test_five_dripping_endpoints_do_not_delay_another_requests_status(platform: Platform) -> None:
    """Acceptance, issue 19: while five endpoints drip one byte a second, another request's
    finished run reaches its status within a liveness bound (30 s; reported)."""
    api = platform.start_api("drip", webhook_timeout_s="300")  # each attempt drips for minutes
    drippers = [Dripper(platform.tls) for _ in range(5)]
    receiver = Receiver(platform.tls)
    try:
        slow = [platform.submit(api, _spec(10 + i), d.url) for i, d in enumerate(drippers)]
        platform.wait_done(api, slow, timeout_s=900)
        deadline = time.monotonic() + 120
        while sum(d.dripping for d in drippers) < 5:
            assert time.monotonic() < deadline, [d.connections for d in drippers]
            time.sleep(0.5)
        rid = platform.submit(api, _spec(20), receiver.url)
        deadline = time.monotonic() + 900
        while (got := platform.status(api, rid))["status"] not in TERMINAL:
            assert time.monotonic() < deadline, got
            time.sleep(0.5)
        seen = time.time()
        assert got["status"] == "succeeded", got
        assert sum(d.dripping for d in drippers) == 5  # still dripping while it finished
        ended = max(
            platform.instance.get_run_record_by_id(r.run_id).end_time or 0.0 for r in platform.runs(rid)
        )
        lag = seen - ended
        print(f"run end -> request succeeded while 5 endpoints drip: {lag:.1f} s")
        assert lag < 30.0, lag
        deadline = time.monotonic() + 60
        while not receiver.calls:  # its own webhook is not queued behind the drips either
            assert time.monotonic() < deadline, "the webhook did not arrive"
            time.sleep(0.5)
    finally:
        for d in drippers:
            d.close()
        receiver.close()
        api.proc.kill()
