"""Races: the known races, and the upload of a race's DraftKings salary file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from api.context import AppContext
from api.core.problems import ProblemError, problem_responses
from api.deps import Admin, Ctx, read_limit, v1_router
from api.models import Race, RaceList, SlateOut
from api.services import audit, slates
from api.services.keys import Principal
from api.services.request_store import NotFound

router = v1_router()


@router.get("/races", response_model=RaceList, dependencies=[Depends(read_limit)], summary="Known races")
def list_races(ctx: Ctx) -> RaceList:
    races = ctx.races.all()
    return RaceList(items=[Race(race_id=r) for r in races])


_SLATE_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _data_dir(ctx: AppContext) -> Path:
    if ctx.settings.data_dir is not None:
        return ctx.settings.data_dir
    from nascar_dfs.platform.reads import data_dir

    return data_dir()


async def _put_slate(
    race_id: str, request: Request, ctx: AppContext, principal: Principal, new_drivers: str | None
) -> SlateOut:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "application/octet-stream", "text/plain"):
        raise ProblemError(415, "unsupported-media-type", "send the DKSalaries.csv as text/csv")
    body = await _read_bounded(request, ctx.settings.slate_max_bytes)
    if not await run_in_threadpool(ctx.races.exists, race_id):
        raise NotFound()
    known = await run_in_threadpool(slates.history_drivers, _data_dir(ctx))
    stored = await run_in_threadpool(
        slates.store_slate,
        race_id,
        body,
        known,
        slates.parse_new_drivers(new_drivers),
    )
    audit.record_now(
        ctx.engine,
        "slate.uploaded",
        ctx.clock(),
        principal=principal.owner,
        key_id=principal.key_id,
        request_id=request.state.request_id,
        target=f"race:{race_id}",
        outcome=stored.version,
    )
    return SlateOut(
        race_id=race_id, drivers=stored.drivers, version=stored.version, new_drivers=list(stored.new_drivers)
    )


async def _read_bounded(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes `limit` bytes (never held whole when too large)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(413, "payload-too-large", f"slate above {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_RACE_PATH = Annotated[str, PathParam(pattern=r"^[a-z0-9-]{1,64}$")]
_NEW_DRIVERS = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="comma-separated slate names of drivers in their first Cup race (not in the history)",
    ),
]


@router.put(
    "/races/{race_id}/slate",
    response_model=SlateOut,
    openapi_extra=_SLATE_BODY,
    responses=problem_responses(403, 413, 415),
    summary="Upload or replace the race's DKSalaries.csv (admin)",
)
async def put_slate(
    race_id: _RACE_PATH, request: Request, ctx: Ctx, principal: Admin, new_drivers: _NEW_DRIVERS = None
) -> SlateOut:
    return await _put_slate(race_id, request, ctx, principal, new_drivers)


@router.post(
    "/races/{race_id}/slate",
    response_model=SlateOut,
    openapi_extra=_SLATE_BODY,
    responses=problem_responses(403, 413, 415),
    summary="Upload the race's DKSalaries.csv (same as PUT)",
)
async def post_slate(
    race_id: _RACE_PATH, request: Request, ctx: Ctx, principal: Admin, new_drivers: _NEW_DRIVERS = None
) -> SlateOut:
    return await _put_slate(race_id, request, ctx, principal, new_drivers)
