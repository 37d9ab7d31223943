"""The app's exception handlers: every error, raised or routed, answers as RFC 9457 problem
details (api/core/problems.py), and a ProblemError's security event is audited once it failed."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.problems import STATUS_SLUGS, ProblemError, problem_response
from api.core.request_id import request_id_var
from api.services.audit import record_now

log = logging.getLogger("api.problems")

IDEMPOTENCY_HEADER_LOC = ("header", "idempotency-key")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Input values are left out: they may hold secrets, and ctx objects need not be JSON.
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for template, ops in app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {m.upper() for m in ops}
    return sorted(methods)


def _record_audit(request: Request, event: dict[str, Any]) -> None:
    ctx = request.app.state.ctx
    fields = {k: v for k, v in event.items() if k != "event"}
    try:
        record_now(ctx.engine, event["event"], ctx.clock(), **fields)
    except Exception:
        log.exception("audit log unavailable")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        if exc.audit is not None:
            await run_in_threadpool(_record_audit, request, exc.audit)
        return problem_response(request, exc.status, exc.slug, exc.detail, exc.headers, **exc.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = STATUS_SLUGS.get(exc.status_code, "bad-request" if exc.status_code < 500 else "internal")
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The router names only the first route matching the path; list every operation's method.
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem_response(request, exc.status_code, slug, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(tuple(part.lower() for part in e["loc"][:2]) == IDEMPOTENCY_HEADER_LOC for e in errors):
            return problem_response(
                request,
                400,
                "idempotency-key-missing",
                "send an Idempotency-Key header: 8-255 characters of A-Z a-z 0-9 _ -",
            )
        fields = ", ".join(".".join(e["loc"][1:]) or e["loc"][0] for e in errors)
        return problem_response(request, 422, "validation-error", f"invalid: {fields}", errors=errors)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # This handler runs outside the request middleware: rebind the id so the log line has it.
        request_id_var.set(getattr(request.state, "request_id", None))
        log.exception("unhandled error")
        return problem_response(request, 500, "internal", "an internal error occurred; quote the request_id")
