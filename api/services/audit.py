"""Append-only audit log of security events (never secrets, never request bodies)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from api.core.db import audit_log

log = logging.getLogger("api.audit")


def record(
    conn: Connection,
    event: str,
    now: float,
    *,
    principal: str | None = None,
    key_id: str | None = None,
    source_ip: str | None = None,
    request_id: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
) -> None:
    values = {
        "at": now,
        "event": event,
        "principal": principal,
        "key_id": key_id,
        "source_ip": source_ip,
        "request_id": request_id,
        "target": target,
        "outcome": outcome,
    }
    conn.execute(sa.insert(audit_log).values(**values))
    log.info(
        "audit.%s",
        event,
        extra={"event": f"audit.{event}", **{k: v for k, v in values.items() if v and k != "request_id"}},
    )


def record_now(engine: Engine, event: str, now: float, **fields: str | None) -> None:
    """Audit in a transaction of its own (for events outside a business transaction)."""
    with engine.begin() as conn:
        record(conn, event, now, **fields)
