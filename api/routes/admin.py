"""Admin operations: recalibrating a race's model, the per-component health detail and what the race
history quarantined."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from api.core.problems import ProblemError, invalid_body, problem_responses
from api.deps import Admin, Ctx, client_ip, read_limit, v1_router
from api.models import DataQualityOut, HealthDetail, QuarantinedRow, RecalibrationOut, RecalibrationRequest
from api.observability.health import HEALTH_MEDIA_TYPE
from api.services import audit
from api.services.outbox import enqueue

router = v1_router()


@router.post(
    "/admin/recalibrations",
    response_model=RecalibrationOut,
    status_code=202,
    responses=problem_responses(403),
    summary="Admin: recalibrate a race's model",
)
def trigger_recalibration(
    body: RecalibrationRequest,
    request: Request,
    ctx: Ctx,
    principal: Admin,
) -> RecalibrationOut:
    if not ctx.races.exists(body.race_id):
        raise invalid_body(["race_id"], f"unknown race_id {body.race_id!r}")
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        enqueue(conn, "calibrate", f"{body.race_id}|{principal.owner}", now)
        audit.record(
            conn,
            "admin.recalibration",
            now,
            principal=principal.owner,
            key_id=principal.key_id,
            source_ip=client_ip(request),
            request_id=request.state.request_id,
            target=f"race:{body.race_id}",
            outcome="202",
        )
    ctx.worker.wake()
    return RecalibrationOut(race_id=body.race_id, status="accepted")


class HealthJSONResponse(JSONResponse):
    media_type = HEALTH_MEDIA_TYPE


@router.get(
    "/health",
    response_model=HealthDetail,
    response_class=HealthJSONResponse,
    responses={
        **problem_responses(403),
        503: {
            "model": HealthDetail,
            "description": "a dependency this API needs is down",
            "content": {HEALTH_MEDIA_TYPE: {}},
        },
    },
    summary="Admin: per-component health",
)
def detailed_health(ctx: Ctx, _admin: Admin) -> HealthJSONResponse:
    status, checks = ctx.health.detail()
    return HealthJSONResponse(
        {"status": status, "checks": checks}, status_code=503 if status == "fail" else 200
    )


@router.get(
    "/data-quality",
    response_model=DataQualityOut,
    dependencies=[Depends(read_limit)],
    responses=problem_responses(403, 409),
    summary="Admin: the rows of the data folder the race history quarantined (file, row, column, reason)",
)
def data_quality(_admin: Admin) -> DataQualityOut:
    """What the stored race_history (the one every run trains and simulates on) set aside; read from
    the platform's storage, never recomputed here."""
    from nascar_dfs.platform import reads

    rows = reads.data_quality()
    if rows is None:
        raise ProblemError(
            409,
            "history-not-loaded",
            "the race history was never loaded: it loads with the first request or calibration "
            "(or materialize race_history in Dagster)",
        )
    return DataQualityOut(count=len(rows), items=[QuarantinedRow(**row) for row in rows])
