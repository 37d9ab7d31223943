"""Webhooks as a receiver sees them: signed with the owner's own secret (verified with the
maintained `standardwebhooks` package), both secrets during a rotation's overlap, and each
delivery ended by one overall deadline however slowly the endpoint answers."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.core.db import webhook_deliveries
from api.services.webhooks import DeliveryTimeout, post_within

from ..conftest import Api, Clock
from ..helpers import assert_problem, body, submit
from ..orchestration.test_webhooks_restart import Receiver, _finish, plain_http_to_loopback, webhook_secret


def _deliver_one(api: Api, receiver: Receiver, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    before = len(receiver.calls)
    data = submit(api, headers, {**body(), "callback_url": receiver.url}).json()
    _finish(api, data["id"])
    api.worker.run_once()  # the relay delivers the webhook the finish staged
    assert len(receiver.calls) == before + 1, _deliveries(api)
    return receiver.calls[-1]


def _deliveries(api: Api) -> list[tuple[str, str | None]]:
    with api.ctx.engine.connect() as conn:
        return [(r.state, r.last_error) for r in conn.execute(sa.select(webhook_deliveries))]


@pytest.fixture
def live(make_api, monkeypatch: pytest.MonkeyPatch) -> Api:  # type: ignore[no-untyped-def]
    plain_http_to_loopback(monkeypatch)
    # Real time: Webhook.verify refuses a webhook-timestamp more than 5 minutes from now.
    return make_api(
        webhook_allow_private=True,
        clock=Clock(time.time()),
        webhook_secret_overlap_s=120,
        active_runs_per_key=10,
    )


def test_each_owner_verifies_with_its_own_secret_only(live: Api) -> None:
    receiver = Receiver([200])
    alice, bob = live.key("alice"), live.key("bob")
    alice_secret, bob_secret = webhook_secret(live, alice), webhook_secret(live, bob)
    try:
        headers, raw = _deliver_one(live, receiver, alice)
    finally:
        receiver.close()
    assert set(headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(alice_secret).verify(raw, headers)["type"] == "lineup_request.succeeded"
    with pytest.raises(WebhookVerificationError):
        Webhook(bob_secret).verify(raw, headers)


def test_rotation_keeps_the_old_secret_valid_for_the_overlap(live: Api) -> None:
    receiver = Receiver([200])
    alice = live.key("alice")
    old = webhook_secret(live, alice)
    rotated = live.client.post("/v1/webhook-secrets", headers=alice).json()
    new = rotated["secret"]
    assert new != old and rotated["previous_valid_until"] is not None
    try:
        during = _deliver_one(live, receiver, alice)
        live.clock.advance(121)  # past the 120 s overlap (and within verify's 5 minutes)
        after = _deliver_one(live, receiver, alice)
    finally:
        receiver.close()
    assert len(during[0]["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(during[1], during[0])
    Webhook(new).verify(after[1], after[0])
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after[1], after[0])


def test_a_callback_needs_the_owners_secret_first(api: Api) -> None:
    problem = assert_problem(submit(api, api.key(), {**body(), "callback_url": "https://example.com/h"}), 422)
    assert problem["errors"][0]["loc"] == ["body", "callback_url"]
    assert "/v1/webhook-secrets" in problem["detail"]


def test_a_read_only_key_cannot_rotate_the_secret(api: Api) -> None:
    assert_problem(api.client.post("/v1/webhook-secrets", headers=api.key(scope="requests:read")), 403)


class DripServer:
    """Accepts a connection, then sends an HTTP response one byte a second (never finishing in
    time): httpx's per-read timeout never trips on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                if self.stop.wait(1.0):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_a_dripping_endpoint_is_cut_off_at_the_overall_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_http_to_loopback(monkeypatch)
    server = DripServer()
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout):
            post_within(
                server.url.replace("http://", "https://"),
                b"{}",
                {"content-type": "application/json"},
                2.0,
                allow_private=True,
            )
        elapsed = time.monotonic() - started
    finally:
        server.close()
    # The response needs ~40 s at a byte a second; the deadline ends the call at 2 s (a generous
    # bound for a loaded machine, not a timing claim).
    assert elapsed < 20, elapsed


def test_a_delivery_to_a_dripping_endpoint_is_recorded_and_retried(live: Api) -> None:
    server = DripServer()
    live.ctx.settings.webhook_timeout_s = 1.0
    alice = live.key("alice")
    webhook_secret(live, alice)
    try:
        data = submit(
            live, alice, {**body(), "callback_url": server.url.replace("http://", "https://")}
        ).json()
        _finish(live, data["id"])
        live.worker.run_once()
    finally:
        server.close()
    with live.ctx.engine.connect() as conn:
        (row,) = conn.execute(sa.select(webhook_deliveries)).all()
    assert row.state == "pending" and row.attempts == 1 and "within 1 s" in row.last_error


def test_a_database_from_before_webhook_secrets_still_starts(make_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.core import db

    url = f"sqlite:///{tmp_path / 'old' / 'api.db'}"
    engine = db.create_db_engine(url)
    with engine.begin() as conn:  # the schema as the previous release left it (migrations 1-3)
        db.metadata.create_all(conn, tables=[db.schema_migrations])
        for version, name, step in db.MIGRATIONS[:3]:
            step(conn)
            conn.execute(sa.insert(db.schema_migrations).values(version=version, name=name, applied_at=0.0))
    engine.dispose()
    api = make_api(database=url)
    headers = api.key()
    assert submit(api, headers).status_code == 202
    assert webhook_secret(api, headers).startswith("whsec_")
