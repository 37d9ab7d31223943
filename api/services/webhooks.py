"""Webhooks (Standard Webhooks 1.0): signed with the owner's secrets (api/services/
webhook_secrets.py), retried on a schedule, each attempt bounded by one overall deadline, and never
sent to loopback, private, link-local or otherwise internal addresses unless configured."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.engine import Connection, Engine, Row
from standardwebhooks.webhooks import Webhook

from api.core.config import Settings
from api.core.db import lineup_requests, webhook_deliveries
from api.core.runtime import Clock
from api.services.outbox import enqueue
from api.services.webhook_secrets import signing_secrets

log = logging.getLogger("api.webhooks")
# Delay before attempt n+1 (Standard Webhooks' example schedule, shortened at the tail).
RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


class UnsafeCallbackError(ValueError):
    """A callback URL the API refuses to call."""


def _ip_is_internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url_syntax(url: str, allow_private: bool) -> str:
    """Checks that need no DNS: https only, no credentials, no internal IP literal or name."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UnsafeCallbackError("callback_url must be an https URL with a host")
    if parts.username or parts.password:
        raise UnsafeCallbackError("callback_url must not carry credentials")
    host = parts.hostname.rstrip(".").lower()
    if allow_private:
        return host
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise UnsafeCallbackError("callback_url points at an internal host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if _ip_is_internal(ip):
        raise UnsafeCallbackError("callback_url points at a loopback, private or link-local address")
    return host


def _refuse_internal(infos: list) -> None:  # type: ignore[type-arg]
    for info in infos:
        if _ip_is_internal(ipaddress.ip_address(info[4][0])):
            raise UnsafeCallbackError("callback host resolves to an internal address")


def sign(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<sig>` per secret, space-separated (Standard Webhooks' rotation form), signed by the
    maintained `standardwebhooks` library over `{id}.{timestamp}.{body}`."""
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(Webhook(secret).sign(msg_id, at, body.decode()) for secret in secrets_)


class DeliveryTimeout(Exception):
    """The endpoint did not answer within the delivery's overall deadline."""


async def _resolve_and_post(url: str, body: bytes, headers: dict[str, str], allow_private: bool) -> int:
    host = check_url_syntax(url, allow_private)
    if not allow_private:
        loop = asyncio.get_running_loop()
        port = urlsplit(url).port or 443
        try:
            infos = await loop.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise UnsafeCallbackError(f"callback host does not resolve: {exc}") from exc
        _refuse_internal(infos)
    async with httpx.AsyncClient(follow_redirects=False, timeout=None) as client:
        return (await client.post(url, content=body, headers=headers)).status_code


def post_within(
    url: str, body: bytes, headers: dict[str, str], deadline_s: float, allow_private: bool
) -> int:
    """POST the webhook; the whole call (DNS, connect, TLS, every read) ends within `deadline_s`.

    httpx's timeouts apply per operation: an endpoint sending one byte a second never trips a
    read timeout and held a delivery as long as it liked. Here the call is one task cancelled at
    the deadline (the connection is closed). A DNS lookup still running then is left to finish in
    its thread: the loop is closed without waiting for it.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(
            asyncio.wait_for(_resolve_and_post(url, body, headers, allow_private), deadline_s)
        )
    except TimeoutError as exc:
        raise DeliveryTimeout(f"no answer within {deadline_s:g} s") from exc
    finally:
        loop.close()


class WebhookSender:
    """Stages a finished request's webhook in the transaction that finished it (outbox), and
    makes one delivery attempt per outbox row, scheduling the next attempt itself."""

    def __init__(self, engine: Engine, settings: Settings, clock: Clock, outcomes: Counter) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.outcomes = outcomes  # counts attempts by outcome (delivered | failed)

    def stage(self, conn: Connection, req: Row, status: str) -> None:
        base = self._request_url(req.id)
        links = {"self": base}
        if status == "succeeded":
            links.update(lineups=f"{base}/lineups", dk_upload_csv=f"{base}/dk-upload.csv")
        self._stage(
            conn,
            req.id,
            req.callback_url,
            f"lineup_request.{status}",
            {"id": req.id, "status": status, "links": links},
        )

    def stage_reoptimization(self, conn: Connection, job: Row, callback_url: str, status: str) -> None:
        """A re-optimization's outcome, to its lineup request's callback (signed with that owner's
        secrets, like the request's own webhook)."""
        base = self._request_url(job.request_id)
        links = {"self": f"{base}/reoptimizations/{job.id}", "lineup_request": base}
        if status == "succeeded":
            links["dk_entries_csv"] = f"{base}/reoptimizations/{job.id}/dk-entries.csv"
        data = {"id": job.id, "request_id": job.request_id, "status": status, "links": links}
        self._stage(conn, job.request_id, callback_url, f"reoptimization.{status}", data)

    def _request_url(self, request_id: str) -> str:
        return f"{self.settings.public_base_url.rstrip('/')}/v1/lineup-requests/{request_id}"

    def _stage(self, conn: Connection, request_id: str, url: str, event: str, data: dict[str, Any]) -> None:
        now = self.clock()
        msg_id = f"msg_{uuid.uuid4().hex}"
        payload = {"type": event, "timestamp": datetime.fromtimestamp(now, tz=UTC).isoformat(), "data": data}
        conn.execute(
            sa.insert(webhook_deliveries).values(
                id=msg_id,
                request_id=request_id,
                url=url,
                event=event,
                payload=json.dumps(payload, separators=(",", ":")),
                state="pending",
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )
        enqueue(conn, "webhook", msg_id, now)

    def deliver(self, msg_id: str, claim: Callable[[Connection], None] = lambda _conn: None) -> None:
        """One attempt; schedules the next one itself, so the outbox row is always finished.

        `claim` runs in the transaction that records the attempt's outcome and schedules the next
        one (the relay finishes its outbox row there, and raises if it no longer holds it, which
        rolls the whole record back): one attempt, one follow-up, whichever replica made it.
        """
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == msg_id)).first()
        if row is None or row.state != "pending":
            return
        settings = self.settings
        now = self.clock()
        with self.engine.connect() as conn:
            owner = conn.execute(
                sa.select(lineup_requests.c.owner).where(lineup_requests.c.id == row.request_id)
            ).scalar_one()
            keys = signing_secrets(conn, owner, now)
        if not keys:
            self._set_state(
                row, "failed", claim, error="the owner has no webhook secret (POST /v1/webhook-secrets)"
            )
            return
        body = row.payload.encode()
        ts = int(now)
        headers = {
            "content-type": "application/json",
            "webhook-id": row.id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(keys, row.id, ts, body),
        }
        code: int | None = None
        error: str | None = None
        try:
            code = post_within(
                row.url, body, headers, settings.webhook_timeout_s, settings.webhook_allow_private
            )
        except UnsafeCallbackError as exc:
            self._set_state(row, "refused", claim, error=str(exc))
            return
        except DeliveryTimeout as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
        attempts = row.attempts + 1
        outcome = "delivered" if code is not None and 200 <= code < 300 else "failed"
        self.outcomes.labels(outcome=outcome).inc()
        if code is not None and 200 <= code < 300:
            self._set_state(row, "delivered", claim, attempts=attempts, code=code)
        elif code == 410:
            self._set_state(row, "disabled", claim, attempts=attempts, code=code)
        elif attempts >= settings.webhook_max_attempts:
            self._set_state(row, "failed", claim, attempts=attempts, code=code, error=error)
        else:
            delay = RETRY_SCHEDULE_S[min(attempts - 1, len(RETRY_SCHEDULE_S) - 1)]
            with self.engine.begin() as conn:
                claim(conn)
                if _update(conn, row, "pending", attempts, code, error, now):
                    enqueue(conn, "webhook", row.id, now + delay)

    def _set_state(
        self,
        row: Row,
        state: str,
        claim: Callable[[Connection], None],
        attempts: int | None = None,
        code: int | None = None,
        error: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            claim(conn)
            _update(
                conn, row, state, row.attempts if attempts is None else attempts, code, error, self.clock()
            )
        log.info("webhook %s", state, extra={"lineup_request_id": row.request_id})


def _update(
    conn: Connection, row: Row, state: str, attempts: int, code: int | None, error: str | None, now: float
) -> bool:
    """Record an attempt over the state it was made from; False if another attempt got there first."""
    d = webhook_deliveries.c
    got = conn.execute(
        sa.update(webhook_deliveries)
        .where(d.id == row.id, d.state == "pending", d.attempts == row.attempts)
        .values(state=state, attempts=attempts, last_status_code=code, last_error=error, updated_at=now)
    )
    return got.rowcount == 1
