"""FastAPI dependencies: application context, authentication, scopes and rate limits."""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from api.context import AppContext
from api.core.problems import ProblemError, problem_responses
from api.services import audit, ratelimit
from api.services.keys import Principal, authenticate, parse_key
from api.services.submissions import SubmitContext

log = logging.getLogger("api.auth")
# Statuses every /v1 operation may answer with (each route adds its own).
V1_PROBLEMS = (400, 401, 404, 405, 422, 429, 500, 503)
bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer ndfs_<id>_<secret>`")


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


async def ctx_dependency(request: Request) -> AppContext:
    """Async on purpose: a sync dependency costs a thread-pool hop on every request."""
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(ctx_dependency)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _unauthenticated() -> ProblemError:
    # One body for missing, malformed, unknown, revoked and expired keys: no oracle.
    return ProblemError(
        401,
        "unauthenticated",
        "a valid API key is required",
        headers={"WWW-Authenticate": 'Bearer realm="nascar-dfs"'},
    )


def _refuse_failed_authentication(ctx: AppContext, request: Request, key_id: str | None) -> None:
    """Count the failure against the client address, then audit it, in one transaction.

    The limiter comes first: a client past its quota gets 429 and adds no `auth.failed` row, so
    the audit log grows by at most the quota per address and minute (plus one `auth.rate_limited`
    row per address and minute), not by one row per refused request. With rate limits off, one
    failure per address and minute is audited.
    """
    now = ctx.clock()
    ip = client_ip(request)
    fields = {
        "key_id": key_id,
        "source_ip": ip,
        "request_id": request.state.request_id,
        "target": request.url.path,
    }
    limited = ctx.settings.rate_limits_enabled
    policy = ratelimit.auth_failure_policy(ctx.settings) if limited else ratelimit.AUTH_AUDIT
    try:
        with ctx.engine.begin() as conn:
            decision = ratelimit.hit(conn, [policy], f"ip:{ip}", now)
            if decision.allowed:
                audit.record(conn, "auth.failed", now, outcome="401", **fields)
            elif limited and ratelimit.hit(conn, [ratelimit.AUTH_AUDIT], f"ip:{ip}", now).allowed:
                audit.record(conn, "auth.rate_limited", now, outcome="429", **fields)
    except SQLAlchemyError:
        log.warning("auth-failure limiter or audit log unavailable")
        return
    if limited and not decision.allowed:
        ctx.metrics.rate_limited.labels(policy="auth-failures").inc()
        raise ProblemError(
            429,
            "quota-exceeded",
            "too many failed authentication attempts",
            headers=decision.headers(),
            violated_policies=decision.violated,
        )


def require_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    ctx = get_ctx(request)
    now = ctx.clock()
    raw = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    try:
        principal = authenticate(ctx.engine, raw, now) if raw else None
    except SQLAlchemyError as exc:
        raise ProblemError(
            503, "dependency-unavailable", "the API database is unavailable", headers={"Retry-After": "5"}
        ) from exc
    if principal is None:
        parsed = parse_key(raw) if raw else None
        _refuse_failed_authentication(ctx, request, parsed[0] if parsed else None)
        raise _unauthenticated()
    request.state.principal = principal
    return principal


def require_admin(request: Request, principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    if not principal.is_admin:
        _refuse_scope(request, principal, "this operation needs an admin key")
    return principal


def _refuse_scope(request: Request, principal: Principal, detail: str) -> NoReturn:
    """403 forbidden-scope, audited (the audit store being down does not turn it into a 503)."""
    ctx = get_ctx(request)
    try:
        audit.record_now(
            ctx.engine,
            "authz.scope_denied",
            ctx.clock(),
            principal=principal.owner,
            key_id=principal.key_id,
            source_ip=client_ip(request),
            request_id=request.state.request_id,
            target=request.url.path,
            outcome="403",
        )
    except SQLAlchemyError:
        log.warning("audit log unavailable")
    raise ProblemError(403, "forbidden-scope", detail)


def _apply_limit(
    request: Request,
    response: Response,
    principal: Principal,
    policies: list[ratelimit.Policy],
    fail_closed: bool,
) -> None:
    ctx = get_ctx(request)
    if not ctx.settings.rate_limits_enabled:
        return
    try:
        with ctx.engine.begin() as conn:
            decision = ratelimit.hit(conn, policies, f"owner:{principal.owner}", ctx.clock())
    except SQLAlchemyError as exc:
        log.warning("rate limiter store unavailable (fail %s)", "closed" if fail_closed else "open")
        if fail_closed:
            raise ProblemError(
                503,
                "dependency-unavailable",
                "rate limiter unavailable; retry later",
                headers={"Retry-After": "5"},
            ) from exc
        return
    headers = decision.headers()
    if not decision.allowed:
        for name in decision.violated:
            ctx.metrics.rate_limited.labels(policy=name).inc()
        # Sampled: one audit row per owner and minute; a client hammering a closed limit must not
        # turn every refused request into a write.
        _audit_breach_once_a_minute(ctx, request, principal, ",".join(decision.violated))
        raise ProblemError(
            429,
            "quota-exceeded",
            f"rate limit exceeded: {', '.join(decision.violated)}",
            headers=headers,
            violated_policies=decision.violated,
        )
    response.headers.update(headers)


def _audit_breach_once_a_minute(
    ctx: AppContext, request: Request, principal: Principal, outcome: str
) -> None:
    now = ctx.clock()
    sample = ratelimit.AUDIT_SAMPLE
    try:
        with ctx.engine.begin() as conn:
            if ratelimit.hit(conn, [sample], f"owner:{principal.owner}", now).allowed:
                audit.record(
                    conn,
                    "rate_limit.exceeded",
                    now,
                    principal=principal.owner,
                    key_id=principal.key_id,
                    source_ip=client_ip(request),
                    request_id=request.state.request_id,
                    target=request.url.path,
                    outcome=outcome,
                )
    except SQLAlchemyError:
        log.warning("audit log unavailable")


def require_write(request: Request, principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """Submitting and canceling need a key that may write: a `requests:read` key gets 403."""
    if not principal.can_write:
        _refuse_scope(request, principal, f"this operation needs a key that may write, not {principal.scope}")
    return principal


def submit_limit(
    request: Request, response: Response, principal: Annotated[Principal, Depends(require_write)]
) -> None:
    policies = ratelimit.submit_policies(get_ctx(request).settings)
    _apply_limit(request, response, principal, policies, fail_closed=True)


def cancel_limit(
    request: Request, response: Response, principal: Annotated[Principal, Depends(require_write)]
) -> None:
    policies = ratelimit.cancel_policies(get_ctx(request).settings)
    _apply_limit(request, response, principal, policies, fail_closed=True)


def read_limit(
    request: Request, response: Response, principal: Annotated[Principal, Depends(require_principal)]
) -> None:
    policies = ratelimit.read_policies(get_ctx(request).settings)
    _apply_limit(request, response, principal, policies, fail_closed=False)


Caller = Annotated[Principal, Depends(require_principal)]
Admin = Annotated[Principal, Depends(require_admin)]
Writer = Annotated[Principal, Depends(require_write)]
# The Idempotency-Key header of a POST that creates a job (submits, re-optimizations); its value is
# checked by api/services/submissions.py parse_idempotency_key.
IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", max_length=300, description="8-255 characters of A-Z a-z 0-9 _ -")
]


def v1_router() -> APIRouter:
    """The router every /v1 resource is built on: authentication is a router-level dependency,
    so no route can forget it. (Each resource carries the prefix itself: the route template it
    reports to the HTTP metrics is then the whole path.)"""
    return APIRouter(
        prefix="/v1", dependencies=[Depends(require_principal)], responses=problem_responses(*V1_PROBLEMS)
    )


def submit_context(ctx: AppContext, request: Request, principal: Principal, key: str) -> SubmitContext:
    """Who submits a job (a lineup request or a re-optimization), under which key, and the limits."""
    return SubmitContext(
        principal=principal,
        idempotency_key=key,
        http_request_id=request.state.request_id,
        source_ip=client_ip(request),
        now=ctx.clock(),
        retention_s=ctx.settings.idempotency_retention_s,
        active_runs_cap=ctx.settings.active_runs_per_key,
    )
