"""Pre-lock re-optimization of a succeeded lineup request's DKEntries.csv: submit (a job like a
lineup request: 202, Location, Retry-After, Idempotency-Key), status, and the re-optimized file.

The file and the changes are checked against the slate the request's lineups were built from
before anything is stored (422 naming each bad id, name or row); the run is Dagster's (the
`reoptimized_entries` asset), launched from the outbox after commit and followed by the reconciler.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from fastapi.responses import PlainTextResponse

from api.core.problems import ProblemError, problem_responses
from api.deps import (
    Caller,
    Ctx,
    IdempotencyKey,
    read_limit,
    submit_context,
    submit_limit,
    v1_router,
)
from api.models import ReoptimizationCreate, ReoptimizationOut
from api.routes.lineup_requests import RequestId, owned_request
from api.services import audit
from api.services import reoptimizations as store
from api.services.submissions import parse_idempotency_key
from nascar_dfs.core.scenarios.spec import ConstraintSpec

router = v1_router()
ReoptimizationId = Annotated[str, Path(max_length=64, description="re-optimization id (UUID)")]


def _not_succeeded(status: str) -> ProblemError:
    if status == "failed":
        return ProblemError(409, "run-failed", "the lineup request failed: it has no lineups to re-optimize")
    if status == "canceled":
        return ProblemError(409, "run-canceled", "the lineup request was canceled: it has no lineups")
    return ProblemError(
        409, "run-not-finished", f"the lineup request is {status}: re-optimize once it succeeded"
    )


def _check_inputs(race_id: str, spec_json: str, body: ReoptimizationCreate) -> tuple[str, int]:
    """The re-optimization's partition key and its number of entries, once its file and changes
    fit the request's slate."""
    from nascar_dfs.platform import launch as platform

    spec = ConstraintSpec.model_validate_json(spec_json)
    changes = platform.Changes.from_dict(store.changes_dict(body))
    inputs = platform.Reoptimization(race_id, spec.key, body.entries_csv, changes)
    try:
        entries = platform.check_reoptimization_inputs(race_id, spec, inputs)
    except platform.ReoptimizationInputError as exc:
        raise ProblemError(
            422,
            "invalid-entries",
            str(exc),
            errors=[{"loc": ["body"], "msg": problem} for problem in exc.problems],
        ) from exc
    return inputs.key, entries


@router.post(
    "/lineup-requests/{request_id}/reoptimize",
    status_code=202,
    response_model=ReoptimizationOut,
    dependencies=[Depends(submit_limit)],
    responses=problem_responses(404, 409, 422),
    operation_id="reoptimize_lineup_request",
    summary="Re-optimize a DKEntries.csv before lock on the request's race scenarios (runs asynchronously)",
    openapi_extra={
        "responses": {
            "202": {
                "headers": {
                    "Location": {"schema": {"type": "string"}, "description": "the job's status URL"},
                    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds before polling"},
                },
            }
        }
    },
)
def reoptimize(
    request_id: RequestId,
    body: ReoptimizationCreate,
    request: Request,
    response: Response,
    ctx: Ctx,
    principal: Caller,
    idempotency_key: IdempotencyKey,
) -> ReoptimizationOut:
    key = parse_idempotency_key(idempotency_key)
    with ctx.engine.connect() as conn:
        lineup_request = owned_request(conn, request, request_id, principal)
    if lineup_request.status != "succeeded":
        raise _not_succeeded(lineup_request.status)
    partition_key, entries = _check_inputs(lineup_request.race_id, lineup_request.spec_json, body)
    sctx = submit_context(ctx, request, principal, key)
    outcome = store.submit_reoptimization(ctx.engine, sctx, lineup_request, body, partition_key, entries)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        audit.record_now(
            ctx.engine,
            "lineup_request.reoptimize",
            ctx.clock(),
            principal=principal.owner,
            key_id=principal.key_id,
            source_ip=sctx.source_ip,
            request_id=sctx.http_request_id,
            target=f"lineup_request:{lineup_request.id}",
            outcome="202",
        )
        ctx.worker.wake()
    response.headers["Location"] = store.location(outcome.row)
    response.headers["Retry-After"] = str(ctx.settings.retry_after_s)
    return store.to_out(outcome.row)


@router.get(
    "/lineup-requests/{request_id}/reoptimizations/{reoptimization_id}",
    response_model=ReoptimizationOut,
    dependencies=[Depends(read_limit)],
    responses=problem_responses(404),
    operation_id="get_reoptimization",
    summary="One re-optimization: status, the link to the re-optimized DKEntries.csv, or its error",
)
def get_reoptimization(
    request_id: RequestId,
    reoptimization_id: ReoptimizationId,
    response: Response,
    ctx: Ctx,
    principal: Caller,
) -> ReoptimizationOut:
    with ctx.engine.connect() as conn:
        row = store.load_owned(conn, request_id, reoptimization_id, principal)
    if row.status not in store.FINISHED:
        response.headers["Retry-After"] = str(ctx.settings.retry_after_s)
    return store.to_out(row)


@router.get(
    "/lineup-requests/{request_id}/reoptimizations/{reoptimization_id}/dk-entries.csv",
    response_class=PlainTextResponse,
    dependencies=[Depends(read_limit)],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **problem_responses(404, 409)},
    operation_id="get_reoptimized_entries",
    summary="The re-optimized DKEntries.csv of a succeeded re-optimization",
)
def get_reoptimized_entries(
    request_id: RequestId, reoptimization_id: ReoptimizationId, ctx: Ctx, principal: Caller
) -> PlainTextResponse:
    with ctx.engine.connect() as conn:
        row = store.load_owned(conn, request_id, reoptimization_id, principal)
    if row.status == "failed":
        detail = json.loads(row.error_json or "{}").get("detail", "the run failed")
        raise ProblemError(409, "run-failed", f"the re-optimization failed: {detail}")
    if row.status != "succeeded" or row.result_csv is None:
        raise ProblemError(
            409,
            "run-not-finished",
            f"the re-optimization is {row.status}; poll it until succeeded",
            headers={"Retry-After": str(ctx.settings.retry_after_s)},
        )
    return PlainTextResponse(
        row.result_csv,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="DKEntries-{row.race_id}-{row.id[:8]}.csv"'},
    )
