"""Lineup requests: submit, list, status, results (lineups JSON, DraftKings CSV) and cancel."""

from __future__ import annotations

import json
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.engine import Connection, Row

from api.context import AppContext
from api.core.db import lineup_contests, lineup_requests, lineup_results
from api.core.problems import ProblemError, invalid_body, problem_responses
from api.deps import (
    Caller,
    Ctx,
    IdempotencyKey,
    cancel_limit,
    client_ip,
    read_limit,
    submit_context,
    submit_limit,
    v1_router,
)
from api.models import TERMINAL, LineupRequestCreate, LineupRequestOut, LineupRequestPage, LineupsOut
from api.services import audit, player_numbers, slates
from api.services.keys import Principal
from api.services.outbox import enqueue
from api.services.request_store import Cursor, NotFound, list_page, load_history, load_owned, to_out
from api.services.submissions import SubmitContext, parse_idempotency_key, submit
from api.services.webhook_secrets import has_secret
from api.services.webhooks import UnsafeCallbackError, check_url_syntax
from nascar_dfs.core.scenarios.spec import ConstraintSpec

router = v1_router()
RequestId = Annotated[str, Path(max_length=64, description="lineup request id (UUID)")]


def owned_request(conn: Connection, request: Request, request_id: str, principal: Principal) -> Row:
    """Load the caller's request; a foreign one is a 404 like a missing one, and is audited."""
    try:
        return load_owned(conn, request_id, principal)
    except NotFound as exc:
        query = sa.select(lineup_requests.c.id).where(lineup_requests.c.id == request_id)
        if conn.execute(query).first() is not None:
            # Recorded by the error handler, after this transaction has ended (SQLite has one writer).
            exc.audit = {
                "event": "authz.denied",
                "principal": principal.owner,
                "key_id": principal.key_id,
                "source_ip": client_ip(request),
                "request_id": request.state.request_id,
                "target": f"lineup_request:{request_id}",
                "outcome": "404",
            }
        raise


def _location(request_id: str) -> str:
    return f"/v1/lineup-requests/{request_id}"


@router.post(
    "/lineup-requests",
    status_code=202,
    response_model=LineupRequestOut,
    dependencies=[Depends(submit_limit)],
    responses=problem_responses(403, 409),
    summary="Submit a lineup request (runs asynchronously)",
    openapi_extra={
        "responses": {
            "202": {
                "headers": {
                    "Location": {"schema": {"type": "string"}, "description": "the request's status URL"},
                    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds before polling"},
                },
                # Every operation on the created request, so schemathesis' stateful phase (and
                # any link-aware client) can chain submit -> status/results/cancel.
                "links": {
                    name: {"operationId": op, "parameters": {"request_id": "$response.body#/id"}}
                    for name, op in (
                        ("GetLineupRequest", "get_lineup_request"),
                        ("GetLineups", "get_lineups"),
                        ("GetDkUploadCsv", "get_dk_upload_csv"),
                        ("CancelLineupRequest", "cancel_lineup_request"),
                    )
                },
            }
        }
    },
)
def create_lineup_request(
    body: LineupRequestCreate,
    request: Request,
    response: Response,
    ctx: Ctx,
    principal: Caller,
    idempotency_key: IdempotencyKey,
) -> LineupRequestOut:
    key = parse_idempotency_key(idempotency_key)
    _validate_submission(ctx, body, principal)
    pinned = _with_player_numbers(ctx, body, principal, slates.pin_spec(body.race_id, body.spec))
    sctx = submit_context(ctx, request, principal, key)
    try:
        outcome = submit(ctx.engine, body, sctx, spec=pinned)
    except ProblemError as exc:
        _count_refusal(ctx, exc, sctx)
        raise
    ctx.metrics.idempotency.labels(outcome="replayed" if outcome.replayed else "created").inc()
    if not outcome.replayed:
        ctx.worker.wake()
    response.headers["Location"] = _location(outcome.row.id)
    response.headers["Retry-After"] = str(ctx.settings.retry_after_s)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return to_out(outcome.row)


def _validate_submission(ctx: AppContext, body: LineupRequestCreate, principal: Principal) -> None:
    """What pydantic cannot know: the plan limit, the callback's address and signing secret, the
    race's existence."""
    limit = ctx.settings.max_lineups_per_request
    if body.spec.lineups > limit:
        raise invalid_body(["spec", "lineups"], f"spec.lineups above the plan limit of {limit}")
    if body.callback_url is not None:
        try:
            check_url_syntax(body.callback_url, ctx.settings.webhook_allow_private)
        except UnsafeCallbackError as exc:
            raise invalid_body(["callback_url"], str(exc)) from exc
        if not has_secret(ctx.engine, principal.owner, ctx.clock()):
            raise invalid_body(
                ["callback_url"],
                "webhooks are signed with your own secret: create one first (POST /v1/webhook-secrets)",
            )
    if not ctx.races.exists(body.race_id):
        raise invalid_body(["race_id"], f"unknown race_id {body.race_id!r}: see GET /v1/races")


def _with_player_numbers(
    ctx: AppContext, body: LineupRequestCreate, principal: Principal, pinned: ConstraintSpec
) -> ConstraintSpec:
    """The pinned spec with the caller's uploaded numbers folded in; the spec's own projections and
    ownership must name drivers of the slate version it pins (a 422 naming each, before any run)."""
    if not (pinned.projections or pinned.ownership or body.player_numbers):
        return pinned
    from nascar_dfs.platform.reads import data_dir, storage_root

    root, folder = storage_root(), ctx.settings.data_dir or data_dir()
    player_numbers.check_spec_names(root, folder, body.race_id, pinned)
    if body.player_numbers:
        pinned = player_numbers.fold(root, folder, body.race_id, principal.owner, pinned, body.player_numbers)
    player_numbers.check_ownership(root, folder, body.race_id, pinned)
    return pinned


def _count_refusal(ctx: AppContext, exc: ProblemError, sctx: SubmitContext) -> None:
    if exc.slug == "idempotency-key-reused":
        ctx.metrics.idempotency.labels(outcome="mismatch").inc()
        audit.record_now(
            ctx.engine,
            "idempotency.mismatch",
            ctx.clock(),
            principal=sctx.principal.owner,
            key_id=sctx.principal.key_id,
            source_ip=sctx.source_ip,
            request_id=sctx.http_request_id,
            outcome="422",
        )
    elif exc.slug == "idempotency-request-in-progress":
        ctx.metrics.idempotency.labels(outcome="in_progress").inc()
    elif exc.slug == "quota-exceeded":
        ctx.metrics.rate_limited.labels(policy="active-runs").inc()


@router.get(
    "/lineup-requests",
    response_model=LineupRequestPage,
    dependencies=[Depends(read_limit)],
    summary="The caller's lineup requests, newest first",
)
def list_lineup_requests(
    ctx: Ctx,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    all_owners: Annotated[bool, Query(alias="all", description="admin only: every owner's requests")] = False,
) -> LineupRequestPage:
    if all_owners and not principal.is_admin:
        raise ProblemError(403, "forbidden-scope", "listing every owner's requests needs an admin key")
    with ctx.engine.connect() as conn:
        rows, nxt = list_page(
            conn,
            principal,
            min(limit, ctx.settings.page_size_max),
            Cursor.decode(cursor) if cursor else None,
            all_owners,
        )
        history = load_history(conn, [r.id for r in rows])
    return LineupRequestPage(
        items=[to_out(r, history=history[r.id]) for r in rows], next_cursor=nxt.encode() if nxt else None
    )


@router.get(
    "/lineup-requests/{request_id}",
    response_model=LineupRequestOut,
    dependencies=[Depends(read_limit)],
    operation_id="get_lineup_request",
    summary="One lineup request: status, progress, result links or error",
)
def get_lineup_request(
    request_id: RequestId, request: Request, response: Response, ctx: Ctx, principal: Caller
) -> LineupRequestOut:
    with ctx.engine.connect() as conn:
        row = owned_request(conn, request, request_id, principal)
        history = load_history(conn, [row.id])[row.id]
    if row.status not in TERMINAL:
        response.headers["Retry-After"] = str(ctx.settings.retry_after_s)
    return to_out(row, history=history)


def _finished_results(
    ctx: AppContext, request: Request, request_id: str, principal: Principal
) -> tuple[Row, Row]:
    with ctx.engine.connect() as conn:
        row = owned_request(conn, request, request_id, principal)
        result = conn.execute(sa.select(lineup_results).where(lineup_results.c.request_id == row.id)).first()
    if row.status == "failed":
        raise ProblemError(409, "run-failed", "the run failed: see the request's error")
    if row.status == "canceled":
        raise ProblemError(409, "run-canceled", "the request was canceled; it has no results")
    if row.status != "succeeded" or result is None:
        raise ProblemError(
            409,
            "run-not-finished",
            f"the request is {row.status}; poll it until succeeded",
            headers={"Retry-After": str(ctx.settings.retry_after_s)},
        )
    return row, result


@router.get(
    "/lineup-requests/{request_id}/lineups",
    operation_id="get_lineups",
    response_model=LineupsOut,
    dependencies=[Depends(read_limit)],
    responses=problem_responses(409),
    summary="The lineups of a succeeded request (with the contest figures when the spec names a contest)",
)
def get_lineups(request_id: RequestId, request: Request, ctx: Ctx, principal: Caller) -> LineupsOut:
    row, result = _finished_results(ctx, request, request_id, principal)
    lineups = [{"drivers": drivers} for drivers in json.loads(result.lineups_json)]
    with ctx.engine.connect() as conn:
        stored = conn.execute(
            sa.select(lineup_contests.c.report_json).where(lineup_contests.c.request_id == row.id)
        ).scalar()
    if stored is None:
        return LineupsOut(request_id=row.id, race_id=row.race_id, lineups=lineups)
    report = json.loads(stored)
    by_ids = {frozenset(entry["dk_ids"]): entry for entry in report.pop("lineups")}
    for lineup in lineups:
        lineup["contest"] = by_ids.get(frozenset(d["dk_id"] for d in lineup["drivers"]))
    return LineupsOut(request_id=row.id, race_id=row.race_id, lineups=lineups, contest=report)


@router.get(
    "/lineup-requests/{request_id}/dk-upload.csv",
    operation_id="get_dk_upload_csv",
    response_class=PlainTextResponse,
    dependencies=[Depends(read_limit)],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **problem_responses(409)},
    summary="DraftKings upload CSV of a succeeded request",
)
def get_dk_upload_csv(
    request_id: RequestId, request: Request, ctx: Ctx, principal: Caller
) -> PlainTextResponse:
    row, result = _finished_results(ctx, request, request_id, principal)
    return PlainTextResponse(
        result.upload_csv,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="dk-upload-{row.race_id}-{row.id[:8]}.csv"'},
    )


@router.post(
    "/lineup-requests/{request_id}/cancel",
    operation_id="cancel_lineup_request",
    response_model=LineupRequestOut,
    status_code=202,
    dependencies=[Depends(cancel_limit)],
    responses={
        200: {"model": LineupRequestOut, "description": "already canceled"},
        **problem_responses(403, 409),
    },
    summary="Cancel a request (idempotent); ends canceled",
)
def cancel_lineup_request(
    request_id: RequestId, request: Request, response: Response, ctx: Ctx, principal: Caller
) -> LineupRequestOut:
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        owned_request(conn, request, request_id, principal)
        # Locked (PostgreSQL) until this transaction ends: a reconciler finishing the request now
        # waits for it, or this read sees the request finished (on SQLite every write is serial).
        locked = sa.select(lineup_requests).where(lineup_requests.c.id == request_id).with_for_update()
        row = conn.execute(locked).one()
        if row.status in ("succeeded", "failed"):
            raise ProblemError(409, "run-already-finished", f"the request already {row.status}")
        if row.cancel_requested or row.status in ("canceling", "canceled"):
            response.status_code = 200
            return to_out(row, history=load_history(conn, [row.id])[row.id])
        c = lineup_requests.c
        moved = conn.execute(
            sa.update(lineup_requests)
            # Over the status just read only: a finished request never goes back to canceling.
            .where(c.id == row.id, c.status == row.status, c.cancel_requested.is_(False))
            .values(cancel_requested=True, status="canceling", updated_at=max(now, row.updated_at))
        )
        if moved.rowcount != 1:
            raise ProblemError(409, "run-already-finished", "the request finished meanwhile")
        enqueue(conn, "terminate", row.id, now)
        audit.record(
            conn,
            "lineup_request.cancel",
            now,
            principal=principal.owner,
            key_id=principal.key_id,
            source_ip=client_ip(request),
            request_id=request.state.request_id,
            target=f"lineup_request:{row.id}",
            outcome="202",
        )
        row = conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == row.id)).one()
        history = load_history(conn, [row.id])[row.id]
    ctx.worker.wake()
    response.headers["Retry-After"] = str(ctx.settings.retry_after_s)
    return to_out(row, history=history)
