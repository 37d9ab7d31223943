"""Submitting a lineup request: idempotency key, active-run cap, request row and outbox row in
one transaction (the Dagster launch happens after commit, from the outbox)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from api.core.db import idempotency_keys, insert_ignoring_conflict, is_postgres, lineup_requests
from api.core.problems import ProblemError
from api.models import LineupRequestCreate
from api.services.keys import Principal
from api.services.outbox import enqueue
from api.services.request_store import count_active
from nascar_dfs.core.scenarios.spec import ConstraintSpec

IDEMPOTENCY_KEY = re.compile(r'^"?([A-Za-z0-9_-]{8,255})"?$')
SUBMIT_ROUTE = "/v1/lineup-requests"


def parse_idempotency_key(raw: str) -> str:
    """The key from a bare token or an RFC 8941 sf-string; 400 when malformed."""
    match = IDEMPOTENCY_KEY.match(raw.strip())
    if match is None or (raw.strip().startswith('"') != raw.strip().endswith('"')):
        raise ProblemError(
            400, "idempotency-key-missing", "Idempotency-Key must be 8-255 characters of A-Z a-z 0-9 _ -"
        )
    return match.group(1)


def fingerprint(body: LineupRequestCreate, route: str) -> str:
    """SHA-256 of the canonical body plus route: key order, whitespace and defaults don't matter."""
    canonical = {
        "race_id": body.race_id,
        "spec": json.loads(body.spec.canonical_json()),
        "callback_url": body.callback_url,
    }
    text = route + "\n" + json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SubmitOutcome:
    row: Row
    replayed: bool


@dataclass(frozen=True)
class SubmitContext:
    principal: Principal
    idempotency_key: str
    http_request_id: str | None
    source_ip: str | None
    now: float
    retention_s: int
    active_runs_cap: int


def submit(
    engine: Engine, body: LineupRequestCreate, ctx: SubmitContext, spec: ConstraintSpec | None = None
) -> SubmitOutcome:
    """`spec`: the spec to store and run (the body's with its slate version pinned); the idempotency
    fingerprint stays the body's own, so a retry after the slate was replaced replays."""
    fp = fingerprint(body, SUBMIT_ROUTE)
    spec = body.spec if spec is None else spec
    with engine.begin() as conn:
        if is_postgres(conn):
            # Serialises one owner's submits so the active-run count below cannot be raced.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:o))"), {"o": ctx.principal.owner})
        key_id = claim_key(conn, ctx, fp)
        if key_id is None:
            return SubmitOutcome(_replay(conn, ctx, fp), replayed=True)
        if count_active(conn, ctx.principal.owner) >= ctx.active_runs_cap:
            # Raising rolls back the key row too: a refused request does not consume its key.
            raise ProblemError(
                429,
                "quota-exceeded",
                f"at most {ctx.active_runs_cap} unfinished lineup requests per user",
                headers={"Retry-After": "30"},
                violated_policies=["active-runs"],
            )
        request_id = str(uuid.uuid4())
        conn.execute(
            sa.insert(lineup_requests).values(
                id=request_id,
                owner=ctx.principal.owner,
                key_id=ctx.principal.key_id,
                race_id=body.race_id,
                spec_json=spec.canonical_json(),
                spec_key=spec.key,
                lineups=spec.lineups,
                callback_url=body.callback_url,
                status="queued",
                cancel_requested=False,
                progress_percent=0.0,
                http_request_id=ctx.http_request_id,
                idempotency_key_id=key_id,
                created_at=ctx.now,
                updated_at=ctx.now,
            )
        )
        complete_key(conn, key_id, request_id)
        enqueue(conn, "launch", request_id, ctx.now)
        row = conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == request_id)).one()
    return SubmitOutcome(row, replayed=False)


def claim_key(conn: Connection, ctx: SubmitContext, fp: str, route: str = SUBMIT_ROUTE) -> int | None:
    """Insert the key row of `route` (its template); None when it already exists (and is still
    within retention)."""
    values = {
        "principal": ctx.principal.owner,
        "method": "POST",
        "route": route,
        "key": ctx.idempotency_key,
        "fingerprint": fp,
        "created_at": ctx.now,
    }
    inserted = conn.execute(
        insert_ignoring_conflict(conn, idempotency_keys).values(**values).returning(idempotency_keys.c.id)
    ).first()
    if inserted is not None:
        return int(inserted[0])
    existing = existing_key(conn, ctx, route)
    if existing is not None and existing.created_at < ctx.now - ctx.retention_s:
        # Past retention the key is forgotten: its reuse is a new request (the old row keeps
        # its request, whose reference is set to NULL by the foreign key).
        conn.execute(sa.delete(idempotency_keys).where(idempotency_keys.c.id == existing.id))
        return int(conn.execute(sa.insert(idempotency_keys).values(**values)).inserted_primary_key[0])
    return None


def complete_key(conn: Connection, key_id: int, resource_id: str) -> None:
    """The key now answers with the 202 of the job it created (a replay returns that job)."""
    conn.execute(
        sa.update(idempotency_keys)
        .where(idempotency_keys.c.id == key_id)
        .values(response_status=202, resource_id=resource_id)
    )


def existing_key(conn: Connection, ctx: SubmitContext, route: str = SUBMIT_ROUTE) -> Row | None:
    k = idempotency_keys.c
    return conn.execute(
        sa.select(idempotency_keys).where(
            k.principal == ctx.principal.owner,
            k.method == "POST",
            k.route == route,
            k.key == ctx.idempotency_key,
        )
    ).first()


def _replay(conn: Connection, ctx: SubmitContext, fp: str) -> Row:
    existing = existing_key(conn, ctx)
    if existing is None:  # deleted between our insert and read: ask the client to retry as is
        raise ProblemError(
            409, "idempotency-request-in-progress", "retry with the same key", headers={"Retry-After": "1"}
        )
    if existing.fingerprint != fp:
        raise ProblemError(
            422, "idempotency-key-reused", "this Idempotency-Key was used with a different request body"
        )
    if existing.response_status is None or existing.resource_id is None:
        raise ProblemError(
            409,
            "idempotency-request-in-progress",
            "the first request with this key is still being processed",
            headers={"Retry-After": "1"},
        )
    return conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == existing.resource_id)).one()
