"""Webhook signing secrets, one set per owner (Standard Webhooks: a secret per endpoint, so no
user holds the secret that signs another user's callbacks).

Rotation issues a new secret and keeps the ones it replaces valid for an overlap: until then
every delivery carries one signature per valid secret (`webhook-signature: v1,<new> v1,<old>`),
so a receiver can switch secrets without dropping a callback.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from api.core.db import webhook_secrets
from api.services import audit

SECRET_BYTES = 32  # Standard Webhooks: 24-64 random bytes


@dataclass(frozen=True)
class IssuedWebhookSecret:
    id: str
    owner: str
    secret: str  # shown once
    created_at: float
    previous_valid_until: float | None  # when the secrets it replaces stop signing


def rotate(engine: Engine, owner: str, now: float, overlap_s: float) -> IssuedWebhookSecret:
    """A new secret for `owner`; the owner's other valid secrets expire after `overlap_s`."""
    secret_id = f"whs_{secrets.token_hex(8)}"
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
    until = now + overlap_s
    c = webhook_secrets.c
    with engine.begin() as conn:
        valid = sa.or_(c.expires_at.is_(None), c.expires_at > until)
        replaced = conn.execute(
            sa.update(webhook_secrets).where(c.owner == owner, valid).values(expires_at=until)
        ).rowcount
        conn.execute(
            sa.insert(webhook_secrets).values(id=secret_id, owner=owner, secret=secret, created_at=now)
        )
        audit.record(
            conn, "webhook_secret.rotated", now, principal=owner, target=f"webhook_secret:{secret_id}"
        )
    return IssuedWebhookSecret(secret_id, owner, secret, now, until if replaced else None)


def signing_secrets(conn: Connection, owner: str, now: float) -> list[str]:
    """The owner's secrets valid at `now`, newest first (empty: the owner has none)."""
    c = webhook_secrets.c
    query = (
        sa.select(c.secret)
        .where(c.owner == owner, sa.or_(c.expires_at.is_(None), c.expires_at > now))
        .order_by(c.created_at.desc(), c.id)
    )
    return list(conn.execute(query).scalars())


def has_secret(engine: Engine, owner: str, now: float) -> bool:
    with engine.connect() as conn:
        return bool(signing_secrets(conn, owner, now))
