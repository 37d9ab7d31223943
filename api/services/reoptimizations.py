"""Re-optimization rows: submit (idempotency key, row and outbox row in one transaction, the Dagster
launch after commit from the outbox), owner-scoped reads, forward-only status moves."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from api.core.db import lineup_requests, reoptimizations
from api.core.problems import ProblemError
from api.models import ReoptimizationChanges, ReoptimizationCreate, ReoptimizationLinks, ReoptimizationOut
from api.services.keys import Principal
from api.services.outbox import enqueue
from api.services.request_store import iso
from api.services.submissions import SubmitContext, claim_key, complete_key, existing_key
from api.services.webhooks import WebhookSender

ROUTE = "/v1/lineup-requests/{request_id}/reoptimize"
OUTBOX_KIND = "reoptimize"
FINISHED = frozenset({"succeeded", "failed"})
_RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2}


class ReoptimizationNotFound(ProblemError):
    def __init__(self) -> None:
        super().__init__(404, "not-found", "no such re-optimization of this lineup request")


def fingerprint(request_id: str, body: ReoptimizationCreate) -> str:
    """SHA-256 of the request id and the canonical body: key order and whitespace don't matter."""
    text = request_id + "\n" + json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def changes_dict(body: ReoptimizationCreate) -> dict[str, Any]:
    return {"out": body.out, "to_rear": body.to_rear, "starts": body.starts}


@dataclass(frozen=True)
class Submitted:
    row: Row
    replayed: bool


def submit_reoptimization(
    engine: Engine,
    ctx: SubmitContext,
    request: Row,
    body: ReoptimizationCreate,
    partition_key: str,
    entries: int,
) -> Submitted:
    """Record the re-optimization of `request` (the caller's, succeeded) and stage its launch."""
    fp = fingerprint(request.id, body)
    with engine.begin() as conn:
        key_id = claim_key(conn, ctx, fp, ROUTE)
        if key_id is None:
            return Submitted(_replay(conn, ctx, fp), replayed=True)
        reoptimization_id = str(uuid.uuid4())
        conn.execute(
            sa.insert(reoptimizations).values(
                id=reoptimization_id,
                owner=ctx.principal.owner,
                key_id=ctx.principal.key_id,
                request_id=request.id,
                race_id=request.race_id,
                spec_key=request.spec_key,
                partition_key=partition_key,
                entries_csv=body.entries_csv,
                entries=entries,
                changes_json=json.dumps(changes_dict(body), sort_keys=True),
                status="queued",
                http_request_id=ctx.http_request_id,
                idempotency_key_id=key_id,
                created_at=ctx.now,
                updated_at=ctx.now,
            )
        )
        complete_key(conn, key_id, reoptimization_id)
        enqueue(conn, OUTBOX_KIND, reoptimization_id, ctx.now)
        row = load(conn, reoptimization_id)
        assert row is not None
    return Submitted(row, replayed=False)


def _replay(conn: Connection, ctx: SubmitContext, fp: str) -> Row:
    existing = existing_key(conn, ctx, ROUTE)
    if existing is None or existing.resource_id is None:
        raise ProblemError(
            409, "idempotency-request-in-progress", "retry with the same key", headers={"Retry-After": "1"}
        )
    if existing.fingerprint != fp:
        raise ProblemError(
            422, "idempotency-key-reused", "this Idempotency-Key was used with a different request body"
        )
    row = load(conn, existing.resource_id)
    if row is None:
        raise ProblemError(409, "idempotency-request-in-progress", "retry with the same key")
    return row


def load(conn: Connection, reoptimization_id: str) -> Row | None:
    return conn.execute(sa.select(reoptimizations).where(reoptimizations.c.id == reoptimization_id)).first()


def load_owned(conn: Connection, request_id: str, reoptimization_id: str, principal: Principal) -> Row:
    """The caller's re-optimization of their request; 404 whether it is another owner's or missing."""
    c = reoptimizations.c
    query = sa.select(reoptimizations).where(c.id == reoptimization_id, c.request_id == request_id)
    if not principal.is_admin:
        query = query.where(c.owner == principal.owner)
    row = conn.execute(query).first()
    if row is None:
        raise ReoptimizationNotFound()
    return row


def move(conn: Connection, row: Row, now: float, **values: Any) -> bool:
    """A forward-only status move guarded against a concurrent writer; True if this one made it."""
    status = values.get("status", row.status)
    if _RANK[status] < _RANK[row.status]:
        return False
    if status in FINISHED and row.status not in FINISHED:
        values.setdefault("finished_at", now)
    c = reoptimizations.c
    moved = conn.execute(
        sa.update(reoptimizations)
        .where(c.id == row.id, c.status == row.status, c.updated_at == row.updated_at)
        .values(updated_at=max(now, row.updated_at), **values)
    )
    return moved.rowcount == 1


def finish(conn: Connection, row: Row, now: float, webhooks: WebhookSender, **values: Any) -> bool:
    """`move`, and when this writer is the one that finished the job, stage its webhook to the lineup
    request's callback in the same transaction (sent once, whichever replica finished it)."""
    moved = move(conn, row, now, **values)
    status = values.get("status", row.status)
    if moved and status in FINISHED and row.status not in FINISHED:
        callback = conn.execute(
            sa.select(lineup_requests.c.callback_url).where(lineup_requests.c.id == row.request_id)
        ).scalar_one_or_none()
        if callback:
            webhooks.stage_reoptimization(conn, row, callback, status)
    return moved


def location(row: Row) -> str:
    return f"/v1/lineup-requests/{row.request_id}/reoptimizations/{row.id}"


def to_out(row: Row) -> ReoptimizationOut:
    changes = json.loads(row.changes_json)
    return ReoptimizationOut(
        id=row.id,
        request_id=row.request_id,
        race_id=row.race_id,
        status=row.status,
        done=row.status in FINISHED,
        entries=row.entries,
        changes=ReoptimizationChanges(**changes),
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        result=ReoptimizationLinks(dk_entries_csv=f"{location(row)}/dk-entries.csv")
        if row.status == "succeeded"
        else None,
        error=json.loads(row.error_json) if row.error_json else None,
    )
