"""A request-size limit enforced before anything reads the body: before authentication, before
FastAPI parses JSON, before a route streams an upload.

Pure ASGI: a declared Content-Length above the limit is refused without reading a byte; a body
without one (chunked) is counted as it streams and refused at the first byte over the limit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.problems import problem_response


class BodyLimitMiddleware:
    """`max_bytes` for every request; a path ending with one of `suffix_limits`' keys gets that
    limit instead (the slate upload, whose size is its own setting)."""

    def __init__(self, app: ASGIApp, max_bytes: int, suffix_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.suffix_limits = suffix_limits or {}

    def limit_for(self, path: str) -> int:
        for suffix, limit in self.suffix_limits.items():
            if path.endswith(suffix):
                return limit
        return self.max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            Request(scope),
            413,
            "payload-too-large",
            f"request body above {limit} bytes",
            # The rest of the body is not read: the client must not reuse the connection.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # The app sees a client that went away; the client sees the 413 below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the 413 is sent once the app has given up on the body
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not (over and not started):
                raise
        if over and not started:
            await self._refuse(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
