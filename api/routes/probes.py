"""Infrastructure probes and metrics: no authentication (serve them on an internal network)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from api.core.problems import ProblemError
from api.deps import Ctx
from api.observability.health import HEALTH_MEDIA_TYPE

router = APIRouter(tags=["probes"])
_HEALTH_DOC = {"content": {HEALTH_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/HealthStatus"}}}}


def _health_response(status: str) -> Response:
    return Response(
        json.dumps({"status": status}),
        status_code=503 if status == "fail" else 200,
        media_type=HEALTH_MEDIA_TYPE,
    )


@router.get("/livez", responses={200: _HEALTH_DOC}, summary="Liveness: no I/O")
async def livez() -> Response:
    return _health_response("pass")


@router.get(
    "/readyz",
    responses={200: _HEALTH_DOC, 503: _HEALTH_DOC},
    summary="Readiness: API database and Dagster storage (cached, time-boxed)",
)
async def readyz(ctx: Ctx) -> Response:
    if ctx.lifecycle.shutting_down:
        return _health_response("fail")
    results = await run_in_threadpool(ctx.health.results)
    return _health_response(ctx.health.overall(results))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(ctx: Ctx) -> Response:
    if ctx.settings.metrics_port is not None:
        # Served on its own port (api/app.py): the API's port, behind the Ingress, does not show it.
        raise ProblemError(404, "not-found", f"metrics are served on port {ctx.settings.metrics_port}")
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
