"""The transactional outbox: work staged in the transaction that decided it, done after commit by
the relay (api/orchestration/relay.py), so no HTTP request ever waits on Dagster or a webhook."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.core.db import outbox


def enqueue(conn: Connection, kind: str, target: str, now: float) -> None:
    """Stage one piece of work (launch, terminate, webhook, calibrate), due at `now`."""
    conn.execute(
        sa.insert(outbox).values(kind=kind, target=target, available_at=now, attempts=0, created_at=now)
    )
