"""Admin operations: recalibrating a race's model and the per-component health detail."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from api.core.problems import invalid_body, problem_responses
from api.deps import Admin, Ctx, client_ip, v1_router
from api.models import HealthDetail, RecalibrationOut, RecalibrationRequest
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
