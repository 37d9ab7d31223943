"""Forgetting what is past its use: idempotency keys past retention, rate-limit counters of
windows no policy reads any more."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.core.config import Settings
from api.core.db import idempotency_keys
from api.services import ratelimit


def forget_expired(engine: Engine, settings: Settings, now: float) -> None:
    policies = [
        *ratelimit.submit_policies(settings),
        *ratelimit.read_policies(settings),
        *ratelimit.cancel_policies(settings),
        ratelimit.auth_failure_policy(settings),
        ratelimit.AUDIT_SAMPLE,
        ratelimit.AUTH_AUDIT,
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.delete(idempotency_keys).where(
                idempotency_keys.c.created_at < now - settings.idempotency_retention_s
            )
        )
        ratelimit.prune(conn, policies, now)
