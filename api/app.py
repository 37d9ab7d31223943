"""Application factory: `create_app(settings, launcher=...)`.

uvicorn entry point: `uvicorn api.app:app_from_env --factory` (settings from the environment,
the Dagster launcher).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, start_http_server

from api.context import build_context
from api.core.body_limit import BodyLimitMiddleware
from api.core.config import Settings
from api.core.db import create_db_engine, migrate
from api.core.runtime import Clock, Lifecycle
from api.observability.logs import configure_logging
from api.observability.metrics import MULTIPROC_ENV
from api.observability.middleware import RequestContextMiddleware
from api.openapi import ProblemApp
from api.orchestration.launcher import Launcher
from api.problem_handlers import install_problem_handlers
from api.routes import ROUTERS, races

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
        metrics_server = _serve_metrics(settings, ctx.metrics.registry)
        log.info("api started")
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            ctx.lifecycle.shutting_down = True
            ctx.worker.stop()
            ctx.metrics.close()
            ctx.health.close()
            engine.dispose()
            log.info("api lifespan shutdown complete")

    app = ProblemApp(
        title="nascar-dfs API",
        version="1.0.0",
        description="Lineup requests for DraftKings NASCAR Classic, run as Dagster runs.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    # Added first, so it runs inside the request-id middleware (the 413 carries the request id).
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        suffix_limits=dict.fromkeys(races.UPLOAD_PATH_SUFFIXES, settings.slate_max_bytes),
    )
    app.add_middleware(RequestContextMiddleware, metrics=ctx.metrics)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _serve_metrics(settings: Settings, registry: CollectorRegistry) -> WSGIServer | None:
    """/metrics on its own port (metrics_port), in a thread of this process."""
    if settings.metrics_port is None:
        return None
    try:
        server, _thread = start_http_server(settings.metrics_port, settings.metrics_host, registry=registry)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or not os.environ.get(MULTIPROC_ENV):
            raise
        # uvicorn --workers N: the first worker serves it; multiprocess mode sums every worker.
        log.info("metrics port %s is served by another worker", settings.metrics_port)
        return None
    log.info("metrics on %s:%s", settings.metrics_host, settings.metrics_port)
    return server


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
