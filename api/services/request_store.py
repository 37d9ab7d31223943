"""Lineup-request rows: ownership-filtered reads, status transitions and their side effects."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from api.core.db import lineup_request_runs, lineup_requests
from api.core.problems import TITLES, Problem, ProblemError, problem_type
from api.models import TERMINAL, LineupRequestOut, Progress, RequestWarning, ResultLinks, RunAttemptOut
from api.services.keys import Principal
from api.services.webhooks import WebhookSender

log = logging.getLogger("api.requests")

# A status only moves forward; a late, stale reading never moves it back.
STATUS_RANK = {"queued": 0, "running": 1, "canceling": 2, "succeeded": 3, "failed": 3, "canceled": 3}


class NotFound(ProblemError):
    def __init__(self) -> None:
        super().__init__(404, "not-found", "no such lineup request")


def iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def load(conn: Connection, request_id: str) -> Row | None:
    return conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == request_id)).first()


def load_owned(conn: Connection, request_id: str, principal: Principal, *, for_admin: bool = True) -> Row:
    """The request if the caller owns it (or is admin); 404 otherwise, whether it exists or not."""
    query = sa.select(lineup_requests).where(lineup_requests.c.id == request_id)
    if not (for_admin and principal.is_admin):
        query = query.where(lineup_requests.c.owner == principal.owner)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound()
    return row


def run_problem(slug: str, detail: str, status: int = 500) -> dict[str, Any]:
    return {"type": problem_type(slug), "title": TITLES[slug], "status": status, "detail": detail}


def _maybe_iso(ts: float | None) -> datetime | None:
    return None if ts is None else iso(ts)


def load_history(conn: Connection, request_ids: list[str]) -> dict[str, list[RunAttemptOut]]:
    """The recorded runs of these requests (one query), oldest first per request."""
    out: dict[str, list[RunAttemptOut]] = {rid: [] for rid in request_ids}
    if not request_ids:
        return out
    r = lineup_request_runs.c
    rows = conn.execute(
        sa.select(lineup_request_runs)
        .where(r.request_id.in_(request_ids))
        .order_by(r.request_id, r.created_at, r.run_id)
    )
    for row in rows:
        out[row.request_id].append(
            RunAttemptOut(
                step=row.step,
                attempt=row.attempt,
                retry_of_attempt=row.attempt - 1 if row.retry_of else None,
                status=row.status,
                created_at=iso(row.created_at),
                started_at=_maybe_iso(row.started_at),
                ended_at=_maybe_iso(row.ended_at),
                failure=row.failure,
            )
        )
    return out


def to_out(
    row: Row, base: str = "/v1/lineup-requests", history: list[RunAttemptOut] | None = None
) -> LineupRequestOut:
    links = None
    if row.status == "succeeded":
        links = ResultLinks(
            lineups=f"{base}/{row.id}/lineups", dk_upload_csv=f"{base}/{row.id}/dk-upload.csv"
        )
    error = Problem(**json.loads(row.error_json)) if row.error_json and row.status == "failed" else None
    return LineupRequestOut(
        id=row.id,
        race_id=row.race_id,
        spec_key=row.spec_key,
        spec=json.loads(row.spec_json),
        lineups=row.lineups,
        status=row.status,
        done=row.status in TERMINAL,
        cancel_requested=bool(row.cancel_requested),
        progress=Progress(phase=row.progress_phase, percent=row.progress_percent or 0.0),
        callback_url=row.callback_url,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        result=links,
        error=error,
        warnings=[RequestWarning(**w) for w in json.loads(row.warnings_json or "[]")],
        history=history or [],
    )


@dataclass(frozen=True)
class Cursor:
    created_at: float
    id: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.created_at!r}|{self.id}".encode()).decode().rstrip("=")

    @staticmethod
    def decode(raw: str) -> Cursor:
        try:
            text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            created, ident = text.split("|", 1)
            return Cursor(float(created), ident)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ProblemError(400, "bad-request", "cursor is not one this API returned") from exc


def list_page(
    conn: Connection, principal: Principal, limit: int, cursor: Cursor | None, all_owners: bool
) -> tuple[list[Row], Cursor | None]:
    c = lineup_requests.c
    query = sa.select(lineup_requests)
    if not all_owners:
        query = query.where(c.owner == principal.owner)
    if cursor is not None:
        query = query.where(
            sa.or_(
                c.created_at < cursor.created_at, sa.and_(c.created_at == cursor.created_at, c.id < cursor.id)
            )
        )
    rows = list(conn.execute(query.order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (Cursor(rows[-1].created_at, rows[-1].id) if more and rows else None)


def count_active(conn: Connection, owner: str) -> int:
    c = lineup_requests.c
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(lineup_requests)
            .where(c.owner == owner, c.status.not_in(sorted(TERMINAL)))
        ).scalar_one()
    )


def advance(conn: Connection, row: Row, now: float, **values: Any) -> bool:
    """Move a request to a new status (forward only), guarded against a concurrent writer.

    Returns True when this writer made the transition, so its side effects (webhook, metrics)
    happen once even with several reconcilers.
    """
    new_status = values.get("status", row.status)
    if STATUS_RANK[new_status] < STATUS_RANK[row.status]:
        return False
    if new_status in TERMINAL and row.status not in TERMINAL:
        values.setdefault("finished_at", now)
    result = conn.execute(
        sa.update(lineup_requests)
        .where(
            lineup_requests.c.id == row.id,
            lineup_requests.c.status == row.status,
            lineup_requests.c.updated_at == row.updated_at,
        )
        .values(updated_at=max(now, row.updated_at), **values)
    )
    return result.rowcount == 1


def finish(
    conn: Connection,
    req: Row,
    status: str,
    now: float,
    webhooks: WebhookSender,
    error: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move a request to a terminal status and, if this writer made the move, stage its webhook
    in the same transaction (so it is sent exactly once, whichever replica finished it)."""
    if error is not None:
        values["error_json"] = json.dumps(error)
    if status == "succeeded":
        values.update(progress_phase="optimization", progress_percent=100.0)
    moved = advance(conn, req, now, status=status, **values)
    if moved:
        if req.callback_url:
            webhooks.stage(conn, req, status)
        log.info("request finished", extra={"lineup_request_id": req.id, "status": status})
    return moved
