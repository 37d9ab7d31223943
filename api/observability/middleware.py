"""Request ids, JSON logs and HTTP metrics, as one pure ASGI middleware (contextvars bound here
are visible to every log line of the request, unlike ones bound inside dependencies)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability.metrics import Metrics

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
UNMEASURED = {"/metrics", "/livez", "/readyz"}
_LOG_FIELDS = (
    "event",
    "request_id",
    "principal_id",
    "route",
    "method",
    "status",
    "duration_s",
    "lineup_request_id",
    "dagster_run_id",
    "key_id",
    "source_ip",
    "target",
    "outcome",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in _LOG_FIELDS[:1] + _LOG_FIELDS[2:]:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is now (test runners and servers swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def _install_request_id_factory() -> None:
    # The request id is taken when the record is created (the formatter may run later, in
    # another context); installed once, wrapping whatever factory is in place.
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return record

    factory._adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: int = logging.INFO) -> None:
    _install_request_id_factory()
    logger = logging.getLogger("api")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)


access_log = logging.getLogger("api.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
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
            if self.metrics is not None and handler not in UNMEASURED:
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
