"""Application factory: `create_app(settings, launcher=...)`.

uvicorn entry point: `uvicorn api.app:app_from_env --factory` (settings from the environment,
the Dagster launcher).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from api.context import AppContext, build_context
from api.core.config import Settings
from api.core.db import create_db_engine, migrate
from api.core.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError
from api.core.runtime import Clock, Lifecycle
from api.observability.health import HEALTH_MEDIA_TYPE
from api.observability.logs import configure_logging
from api.observability.middleware import RequestContextMiddleware
from api.orchestration.launcher import Launcher
from api.problem_handlers import install_problem_handlers
from api.routes.lineup_requests import router

log = logging.getLogger("api.app")


def create_app(
    settings: Settings | None = None,
    launcher: Launcher | None = None,
    clock: Clock = time.time,
) -> FastAPI:
    settings = settings or Settings()
    configure_logging()
    if launcher is None:
        from api.orchestration.dagster_launcher import DagsterLauncher

        launcher = DagsterLauncher(settings)
    engine = create_db_engine(settings.database_url)
    ctx = build_context(settings, engine, launcher, clock)
    migrate(engine, clock())  # before serving: a replica never answers with an old schema

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.lifecycle.shutting_down = False
        ctx.health.open()
        _flip_readiness_on_sigterm(ctx.lifecycle)
        if settings.background_worker:
            ctx.worker.start()
        log.info("api started")
        try:
            yield
        finally:
            ctx.lifecycle.shutting_down = True
            ctx.worker.stop()
            ctx.metrics.close()
            ctx.health.close()
            engine.dispose()
            log.info("api lifespan shutdown complete")

    app = FastAPI(
        title="nascar-dfs API",
        version="1.0.0",
        description="Lineup requests for DraftKings NASCAR Classic, run as Dagster runs.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=ctx.metrics)
    app.include_router(router)
    _add_probes(app, ctx)
    if settings.test_routes:
        _add_test_routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    return create_app(Settings())


def _flip_readiness_on_sigterm(lifecycle: Lifecycle) -> None:
    # uvicorn installs its own handlers after startup; chain ours so /readyz answers 503 while
    # in-flight requests drain, then let uvicorn's graceful shutdown continue.
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:
        return

    def _handler(signum: int, frame: Any) -> None:
        lifecycle.shutting_down = True
        if callable(previous):
            previous(signum, frame)

    with contextlib.suppress(ValueError):  # not the main thread (e.g. an in-process test client)
        signal.signal(signal.SIGTERM, _handler)


def _health_response(status: str) -> Response:
    return Response(
        json.dumps({"status": status}),
        status_code=503 if status == "fail" else 200,
        media_type=HEALTH_MEDIA_TYPE,
    )


def _add_probes(app: FastAPI, ctx: AppContext) -> None:
    health_doc = {"content": {HEALTH_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/HealthStatus"}}}}

    @app.get(
        "/livez",
        include_in_schema=True,
        tags=["probes"],
        responses={200: health_doc},
        summary="Liveness: no I/O",
    )
    async def livez() -> Response:
        return _health_response("pass")

    @app.get(
        "/readyz",
        tags=["probes"],
        responses={200: health_doc, 503: health_doc},
        summary="Readiness: API database and Dagster storage (cached, time-boxed)",
    )
    async def readyz() -> Response:
        if ctx.lifecycle.shutting_down:
            return _health_response("fail")
        results = await run_in_threadpool(ctx.health.results)
        return _health_response(ctx.health.overall(results))

    @app.get(
        "/metrics",
        tags=["probes"],
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_test_routes(app: FastAPI) -> None:
    @app.get("/_test/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("injected fault /srv/secret/path.py")

    @app.get("/_test/forbidden", include_in_schema=False)
    def forbidden() -> None:
        raise ProblemError(403, "forbidden-scope", "test")

    @app.get("/_test/sleep", include_in_schema=False)
    async def sleep(request: Request, seconds: float = 3.0) -> dict[str, str]:
        import asyncio

        await asyncio.sleep(seconds)
        return {"slept": str(seconds)}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with problem+json errors and no HTTPValidationError (wire == spec)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["HealthStatus"] = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["pass", "warn", "fail"]}},
    }
    _require_discriminators(components)
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            for code, resp in list(responses.items()):
                if code.isdigit() and int(code) >= 400 and HEALTH_MEDIA_TYPE not in resp.get("content", {}):
                    resp["content"] = problem_content
            for code in ("404", "405", "500") if path.startswith("/v1") else ("500",):
                responses.setdefault(code, {"description": "Problem", "content": problem_content})
            if path.startswith("/v1"):
                responses.setdefault(
                    "401",
                    {
                        "description": "Authentication required",
                        "content": problem_content,
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    },
                )
            if method in ("post", "put"):
                responses.setdefault(
                    "415", {"description": "Unsupported media type", "content": problem_content}
                )
                responses.setdefault("422", {"description": "Validation error", "content": problem_content})
    app.openapi_schema = schema
    return schema


def _require_discriminators(components: dict[str, Any]) -> None:
    """A discriminated union needs its tag on the wire even when the model gives it a default."""
    for schema in components.values():
        for node in _walk(schema):
            disc = node.get("discriminator") if isinstance(node, dict) else None
            if not disc:
                continue
            for ref in disc.get("mapping", {}).values():
                target = components.get(ref.rsplit("/", 1)[-1])
                if target is not None and disc["propertyName"] not in target.setdefault("required", []):
                    target["required"].append(disc["propertyName"])


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
