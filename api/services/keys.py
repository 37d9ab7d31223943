"""API keys: `ndfs_<key id>_<secret>`, only the SHA-256 of the secret is stored.

The secret has 256 bits of entropy, so a fast hash is enough (a slow password hash would only
add latency to every request); the public key id makes lookup an index hit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.core.db import api_keys
from api.services import audit

KEY_PREFIX = "ndfs"
KEY_PATTERN = re.compile(r"^ndfs_([0-9a-f]{16})_([0-9a-f]{64})$")
# `user` reads and writes its own requests, `requests:read` only reads them (a dashboard, a
# poller: it cannot submit or cancel), `admin` does everything.
Scope = Literal["user", "requests:read", "admin"]
READ_ONLY = "requests:read"
LAST_USED_RESOLUTION_S = 60.0
SCOPES: tuple[str, ...] = ("user", READ_ONLY, "admin")


class ApiKeyError(ValueError):
    """A key operation that cannot be done (unknown id, bad owner or scope)."""


@dataclass(frozen=True)
class Principal:
    key_id: str
    owner: str
    scope: str

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"

    @property
    def can_write(self) -> bool:
        return self.scope != READ_ONLY


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    owner: str
    scope: str
    secret_key: str  # shown once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(engine: Engine, owner: str, scope: str, now: float) -> IssuedKey:
    owner = owner.strip()
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,100}", owner):
        raise ApiKeyError(f"owner {owner!r} must be 1-100 characters of letters, digits, . _ @ -")
    if scope not in SCOPES:
        raise ApiKeyError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    key_id = secrets.token_hex(8)
    secret = secrets.token_hex(32)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(api_keys).values(
                key_id=key_id,
                owner=owner,
                scope=scope,
                secret_hash=hash_secret(secret),
                last4=secret[-4:],
                created_at=now,
            )
        )
        audit.record(conn, "api_key.created", now, principal=owner, key_id=key_id, outcome=scope)
    return IssuedKey(key_id, owner, scope, f"{KEY_PREFIX}_{key_id}_{secret}")


def revoke_key(engine: Engine, key_id: str, now: float) -> str:
    """Revoke a key by id; returns its owner. Revoking twice is an error the caller sees."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            raise ApiKeyError(f"no API key with id {key_id!r}")
        if row.revoked_at is not None:
            raise ApiKeyError(f"API key {key_id} is already revoked")
        conn.execute(sa.update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=now))
        audit.record(conn, "api_key.revoked", now, principal=row.owner, key_id=key_id)
    return row.owner


def parse_key(raw: str) -> tuple[str, str] | None:
    match = KEY_PATTERN.match(raw)
    return (match.group(1), match.group(2)) if match else None


def authenticate(engine: Engine, raw: str, now: float) -> Principal | None:
    """The principal of a valid, active key; None for malformed, unknown, revoked or expired."""
    parsed = parse_key(raw)
    if parsed is None:
        return None
    key_id, secret = parsed
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION_S:
        # Throttled: one write per key and minute is enough to see which keys are still in use.
        with engine.begin() as conn:
            conn.execute(sa.update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=now))
    return Principal(row.key_id, row.owner, row.scope)
