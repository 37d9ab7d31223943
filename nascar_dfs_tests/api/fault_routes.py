"""Routes the API tests mount on the app they build (never part of the product): an unhandled
error, a raised problem, and a slow request for the graceful-shutdown test."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from api.core.problems import ProblemError


def add_fault_routes(app: FastAPI) -> FastAPI:
    @app.get("/_test/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("injected fault /srv/secret/path.py")

    @app.get("/_test/forbidden", include_in_schema=False)
    def forbidden() -> None:
        raise ProblemError(403, "forbidden-scope", "test")

    @app.get("/_test/sleep", include_in_schema=False)
    async def sleep(seconds: float = 3.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"slept": str(seconds)}

    return app
