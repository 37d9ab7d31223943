"""Request ids, the access log and HTTP metrics, as one pure ASGI middleware (contextvars bound
here are visible to every log line of the request, unlike ones bound inside dependencies)."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.request_id import REQUEST_ID_RE, request_id_var
from api.observability.metrics import Metrics

UNMEASURED = {"/metrics", "/livez", "/readyz"}
access_log = logging.getLogger("api.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = inbound if REQUEST_ID_RE.match(inbound) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            handler = getattr(route, "path", None) or "none"
            if handler not in UNMEASURED:
                self.metrics.observe_http(handler, scope["method"], status_holder["status"], elapsed)
            principal = scope.get("state", {}).get("principal")
            access_log.info(
                "request",
                extra={
                    "event": "http.request",
                    "route": handler,
                    "method": scope["method"],
                    "status": status_holder["status"],
                    "duration_s": round(elapsed, 6),
                    "principal_id": getattr(principal, "key_id", None),
                },
            )
            request_id_var.reset(token)
