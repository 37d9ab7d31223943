"""RFC 9457 problem details for every non-2xx response, with documented type URIs."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://nascar-dfs.dev/problems/"
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# slug -> fixed title (RFC 9457: title is stable per type)
TITLES: dict[str, str] = {
    "bad-request": "Bad request",
    "validation-error": "Request validation failed",
    "idempotency-key-missing": "Idempotency-Key header missing or malformed",
    "idempotency-key-reused": "Idempotency-Key reused with a different request",
    "idempotency-request-in-progress": "A request with this Idempotency-Key is in progress",
    "run-not-finished": "Run not finished",
    "run-already-finished": "Run already finished",
    "run-canceled": "Run canceled",
    "run-failed": "Run failed",
    "run-start-timeout": "Run did not start in time",
    "run-lost": "Run lost",
    "launch-failed": "Run could not be launched",
    "model-not-calibrated": "No calibrated model for this race yet",
    "invalid-slate": "Invalid DraftKings salary file",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "unauthenticated": "Authentication required",
    "forbidden-scope": "Forbidden: missing scope",
    "quota-exceeded": "Quota exceeded",
    "unsupported-media-type": "Unsupported media type",
    "payload-too-large": "Payload too large",
    "not-acceptable": "Not acceptable",
    "dependency-unavailable": "Dependency unavailable",
    "internal": "Internal server error",
}

log = logging.getLogger("api.problems")


def problem_type(slug: str) -> str:
    return QUOTA_EXCEEDED if slug == "quota-exceeded" else PROBLEM_BASE + slug


class Problem(BaseModel):
    """RFC 9457 problem details (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = Field(None, description="validation errors (loc, msg)")


class ProblemError(Exception):
    """Raised anywhere in a request to answer with problem details."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or slug)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions
        self.audit: dict[str, Any] | None = None  # a security event to record once the request failed


def problem_body(
    status: int, slug: str, detail: str | None, request: Request, **extensions: Any
) -> dict[str, Any]:
    request_id = getattr(request.state, "request_id", None)
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": TITLES.get(slug, slug),
        "status": status,
        "detail": detail or TITLES.get(slug, slug),
        "instance": f"urn:uuid:{request_id}" if _is_uuid(request_id) else request.url.path,
        "request_id": request_id,
    }
    body.update({k.replace("_", "-") if k == "violated_policies" else k: v for k, v in extensions.items()})
    return body


def _is_uuid(value: str | None) -> bool:
    import uuid

    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def problem_response(
    request: Request,
    status: int,
    slug: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = problem_body(status, slug, detail, request, **extensions)
    all_headers = dict(headers or {})
    if getattr(request.state, "request_id", None):
        all_headers["X-Request-ID"] = request.state.request_id
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=all_headers, media_type=PROBLEM_MEDIA_TYPE
    )


_STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden-scope",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "quota-exceeded",
    503: "dependency-unavailable",
}

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
    from api.services.audit import record_now

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
        slug = _STATUS_SLUGS.get(exc.status_code, "bad-request" if exc.status_code < 500 else "internal")
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
        from api.observability.middleware import request_id_var

        request_id_var.set(getattr(request.state, "request_id", None))
        log.exception("unhandled error")
        return problem_response(request, 500, "internal", "an internal error occurred; quote the request_id")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json for each status."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": TITLES.get(_STATUS_SLUGS.get(status, "internal"), "Problem"),
        }
        for status in statuses
    }
