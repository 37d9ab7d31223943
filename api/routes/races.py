"""Races: the known races, upcoming races of the platform's calendar, and the uploads of a race week
(the DraftKings salary file, the starting lineup)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.context import AppContext
from api.core.problems import ProblemError, problem_responses
from api.deps import Admin, Caller, Ctx, Writer, read_limit, submit_limit, v1_router
from api.models import (
    PlayerNumbersList,
    PlayerNumbersOut,
    Race,
    RaceIn,
    RaceList,
    RaceOut,
    ScheduledRaceOut,
    ScheduleOut,
    SlateOut,
    StartingLineupOut,
    StoredNumbersOut,
)
from api.services import audit, player_numbers, slates
from api.services.keys import Principal
from api.services.request_store import NotFound
from nascar_dfs.platform import race_week

router = v1_router()
# The uploads of a race week (files a user has, not JSON the API defines): each may be as large as a
# slate (Settings.slate_max_bytes), the body limit's exception for these paths (api/app.py).
UPLOAD_PATH_SUFFIXES = ("/slate", "/starting-lineup", "/race-schedules")


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


def _audit_race_change(
    ctx: AppContext,
    request: Request,
    principal: Principal,
    event: str,
    race_id: str,
    outcome: str | None = None,
) -> None:
    """One audit row per admin change to a race (its calendar entry, slate or starting lineup)."""
    audit.record_now(
        ctx.engine,
        event,
        ctx.clock(),
        principal=principal.owner,
        key_id=principal.key_id,
        request_id=request.state.request_id,
        target=f"race:{race_id}",
        outcome=outcome,
    )


async def _put_slate(
    race_id: str, request: Request, ctx: AppContext, principal: Principal, new_drivers: str | None
) -> SlateOut:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "application/octet-stream", "text/plain"):
        raise ProblemError(415, "unsupported-media-type", "send the DKSalaries.csv as text/csv")
    body = await _read_bounded(request, ctx.settings.slate_max_bytes)
    if not await run_in_threadpool(ctx.races.exists, race_id):
        raise NotFound()
    stored = await run_in_threadpool(
        slates.store_slate, _storage(), _data_dir(ctx), race_id, body, slates.parse_new_drivers(new_drivers)
    )
    _audit_race_change(ctx, request, principal, "slate.uploaded", race_id, stored.version)
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
            raise ProblemError(413, "payload-too-large", f"body above {limit} bytes")
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


def _storage() -> Path:
    from nascar_dfs.platform.reads import storage_root

    return storage_root()


def _race_out(ctx: AppContext, race_id: str) -> RaceOut:
    info = race_week.race_info(_storage(), _data_dir(ctx), race_id)
    if info is None:
        if not ctx.races.exists(race_id):
            raise NotFound()
        info = {"race_id": race_id}
    slate = race_week.current_slate(race_week.slates_dir(_storage()), race_id)
    calibrated = ctx.launcher.calibrated_at(race_id)
    upcoming = any(r["race_id"] == race_id for r in race_week.upcoming_races(_storage()))

    def number(key: str) -> int | None:
        value = info.get(key) or ""
        return int(value) if value.isdigit() else None

    return RaceOut(
        race_id=race_id,
        date=info.get("race_date") or None,
        season=number("season"),
        track_slug=info.get("track_slug") or "",
        track=info.get("track") or None,
        laps=number("laps"),
        name=info.get("race_name") or None,
        event_type=info.get("event_type") or None,
        completed=(info.get("in_cup_results") or "").lower() == "true",
        upcoming=upcoming,
        has_slate=slate is not None,
        slate_version=slate.version if slate is not None else None,
        has_starting_lineup=race_week.starting_lineup(_storage(), race_id) is not None,
        calibrated_at=None if calibrated is None else datetime.fromtimestamp(calibrated, UTC).isoformat(),
    )


@router.get(
    "/races/{race_id}",
    response_model=RaceOut,
    dependencies=[Depends(read_limit)],
    summary="One race: its facts and whether it has a slate, a starting lineup and a calibrated model",
)
def get_race(race_id: _RACE_PATH, ctx: Ctx) -> RaceOut:
    return _race_out(ctx, race_id)


@router.put(
    "/races/{race_id}",
    response_model=RaceOut,
    responses=problem_responses(403, 503),
    summary="Add or update an upcoming race in the platform's race calendar (admin)",
)
def put_race(race_id: _RACE_PATH, body: RaceIn, request: Request, ctx: Ctx, principal: Admin) -> RaceOut:
    race = race_week.UpcomingRace(race_id, body.date, body.track_slug, body.laps, body.name)
    try:
        race_week.add_races(_storage(), _data_dir(ctx), [race])
    except race_week.UnknownTrackError as exc:
        raise ProblemError(
            422, "unknown-track", str(exc), errors=[{"loc": ["body", exc.field], "msg": str(exc)}]
        ) from exc
    except race_week.RaceEntryError as exc:
        loc = ["path", "race_id"] if exc.field == "race_id" else ["body", exc.field]
        raise ProblemError(422, "invalid-race", str(exc), errors=[{"loc": loc, "msg": str(exc)}]) from exc
    _register_partition(ctx, race_id)
    _audit_race_change(ctx, request, principal, "race.saved", race_id)
    return _race_out(ctx, race_id)


def _register_partition(ctx: AppContext, race_id: str) -> None:
    try:
        ctx.launcher.add_race(race_id)
    except RuntimeError as exc:  # the launcher's LauncherError (routes do not import orchestration)
        raise ProblemError(
            503,
            "dependency-unavailable",
            f"race {race_id} is in the calendar but its Dagster partition could not be added; retry",
            headers={"Retry-After": "5"},
        ) from exc


_SCHEDULE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "array", "description": "NASCAR schedule feed"}}},
    }
}


@router.post(
    "/race-schedules",
    response_model=ScheduleOut,
    openapi_extra=_SCHEDULE_BODY,
    responses=problem_responses(403, 413, 415, 503),
    summary="Add a season's races from NASCAR's schedule feed JSON in one call (admin)",
)
async def post_schedule(request: Request, ctx: Ctx, principal: Admin) -> ScheduleOut:
    """The same platform function as `nascar-dfs race add --schedule` (race_week.add_schedule): every
    Cup race session of the feed becomes an upcoming race, its laps from the venue's latest race."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ProblemError(415, "unsupported-media-type", "send NASCAR's schedule feed as application/json")
    body = await _read_bounded(request, ctx.settings.slate_max_bytes)
    try:
        scheduled = await run_in_threadpool(race_week.add_schedule, _storage(), _data_dir(ctx), body)
    except race_week.RaceEntryError as exc:
        raise ProblemError(
            422, "invalid-race", str(exc), errors=[{"loc": ["body", exc.field], "msg": str(exc)[:500]}]
        ) from exc
    for item in scheduled:
        await run_in_threadpool(_register_partition, ctx, item.race.race_id)
        _audit_race_change(ctx, request, principal, "race.saved", item.race.race_id, "schedule")
    return ScheduleOut(
        races=[
            ScheduledRaceOut(
                race_id=s.race.race_id,
                date=s.race.race_date.isoformat(),
                track_slug=s.race.track_slug,
                laps=s.race.laps,
                name=s.race.name,
                nascar_race_id=s.race.nascar_race_id,
                laps_from=s.laps_from,
            )
            for s in scheduled
        ]
    )


_LINEUP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object", "description": "NASCAR weekend feed"}},
        },
    }
}


@router.put(
    "/races/{race_id}/starting-lineup",
    response_model=StartingLineupOut,
    openapi_extra=_LINEUP_BODY,
    responses=problem_responses(403, 413, 415),
    summary="Upload the race's starting lineup: driver,start CSV or NASCAR's weekend feed JSON (admin)",
)
async def put_starting_lineup(
    race_id: _RACE_PATH, request: Request, ctx: Ctx, principal: Admin
) -> StartingLineupOut:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "text/plain", "application/json"):
        raise ProblemError(
            415,
            "unsupported-media-type",
            "send driver,start as text/csv or the weekend feed as application/json",
        )
    body = await _read_bounded(request, ctx.settings.slate_max_bytes)
    if not await run_in_threadpool(ctx.races.exists, race_id):
        raise NotFound()
    stored = await run_in_threadpool(_store_lineup, ctx, race_id, body, content_type == "application/json")
    _audit_race_change(ctx, request, principal, "starting_lineup.uploaded", race_id, stored.version)
    return stored


def _store_lineup(ctx: AppContext, race_id: str, body: bytes, feed: bool) -> StartingLineupOut:
    try:
        stored = slates.history_guard(
            lambda: race_week.upload_starting_lineup(_storage(), _data_dir(ctx), race_id, body, feed)
        )
    except race_week.StartingLineupError as exc:
        raise ProblemError(
            422,
            "invalid-starting-lineup",
            str(exc),
            errors=[
                {
                    "loc": ["body", exc.file],
                    "file": exc.file,
                    "row": p.row,
                    "column": p.column,
                    "msg": p.message,
                }
                for p in exc.problems
            ],
        ) from exc
    return StartingLineupOut(race_id=race_id, drivers=stored.drivers, version=stored.version)


_NUMBERS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "driver,mean,sd,ownership\nKyle Larson,52.5,12,31.5\nChase Elliott,44,,18%\n",
            }
        },
    }
}


@router.put(
    "/races/{race_id}/player-numbers",
    response_model=PlayerNumbersOut,
    openapi_extra=_NUMBERS_BODY,
    dependencies=[Depends(submit_limit)],
    responses=problem_responses(403, 409, 413, 415),
    summary="Upload your own projections and/or ownership of the race (CSV: driver, mean, sd, ownership %)",
)
async def put_player_numbers(
    race_id: _RACE_PATH, request: Request, ctx: Ctx, principal: Writer
) -> PlayerNumbersOut:
    """Your numbers, kept for your key's owner only under their content version; name the version in
    a lineup request's `player_numbers` to fold them into its spec. Rows and names are checked
    against the race's current slate (422 `invalid-player-numbers` lists each)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "text/plain", "application/octet-stream"):
        raise ProblemError(415, "unsupported-media-type", "send the numbers as text/csv")
    body = await _read_bounded(request, ctx.settings.max_request_bytes)
    if not await run_in_threadpool(ctx.races.exists, race_id):
        raise NotFound()
    stored = await run_in_threadpool(
        player_numbers.store, _storage(), _data_dir(ctx), race_id, principal.owner, body
    )
    return PlayerNumbersOut(
        race_id=race_id,
        version=stored.version,
        drivers=stored.drivers,
        projections=stored.projections,
        ownership=stored.ownership,
        slate_version=stored.slate_version,
    )


_NUMBERS_VERSION = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$", description="content version")]


@router.get(
    "/races/{race_id}/player-numbers",
    response_model=PlayerNumbersList,
    dependencies=[Depends(read_limit)],
    responses=problem_responses(),
    summary="Your uploaded projections and ownership files of the race, newest first",
)
def list_player_numbers(race_id: _RACE_PATH, ctx: Ctx, principal: Caller) -> PlayerNumbersList:
    if not ctx.races.exists(race_id):
        raise NotFound()
    stored = race_week.list_numbers_files(_storage(), race_id, principal.owner)
    return PlayerNumbersList(
        race_id=race_id,
        items=[
            StoredNumbersOut(version=s.version, uploaded_at=s.uploaded_at, size_bytes=s.size_bytes)
            for s in stored
        ],
    )


@router.get(
    "/races/{race_id}/player-numbers/{version}",
    response_class=PlainTextResponse,
    dependencies=[Depends(read_limit)],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **problem_responses()},
    summary="One of your uploaded files, as you sent it",
)
def get_player_numbers(
    race_id: _RACE_PATH, version: _NUMBERS_VERSION, principal: Caller
) -> PlainTextResponse:
    content = player_numbers.content(_storage(), race_id, principal.owner, version)
    return PlainTextResponse(
        content.decode("utf-8", errors="replace"),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="player-numbers-{race_id}-{version[:8]}.csv"'},
    )


@router.delete(
    "/races/{race_id}/player-numbers/{version}",
    status_code=204,
    dependencies=[Depends(submit_limit)],
    responses=problem_responses(403),
    summary="Forget one of your uploaded files (requests that named it keep their results)",
)
def delete_player_numbers(race_id: _RACE_PATH, version: _NUMBERS_VERSION, principal: Writer) -> Response:
    player_numbers.delete(_storage(), race_id, principal.owner, version)
    return Response(status_code=204)
