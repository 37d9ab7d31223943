"""RFC 9457 problem details for every non-2xx response, with documented type URIs."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

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
    "results-unavailable": "Run results could not be stored",
    "cancel-failed": "Run could not be stopped",
    "model-not-calibrated": "No calibrated model for this race yet",
    "invalid-slate": "Invalid DraftKings salary file",
    "unknown-drivers": "Slate drivers not in the race history",
    "slate-missing": "The race has no slate",
    "invalid-race": "Invalid race",
    "unknown-track": "Unknown track",
    "invalid-starting-lineup": "Invalid starting lineup",
    "invalid-player-numbers": "Invalid player numbers",
    "invalid-entries": "Invalid DKEntries file or changes",
    "history-not-loaded": "The race history was never loaded",
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


def invalid_body(field: list[str], detail: str) -> ProblemError:
    """A 422 for what the request model cannot check itself, naming the body field at fault."""
    return ProblemError(422, "validation-error", detail, errors=[{"loc": ["body", *field], "msg": detail}])


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


STATUS_SLUGS = {
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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json for each status."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": TITLES.get(STATUS_SLUGS.get(status, "internal"), "Problem"),
        }
        for status in statuses
    }
