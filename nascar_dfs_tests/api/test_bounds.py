"""Bounds on what a client may send: bodies are size-limited before authentication and before
parsing, specs cap their lists and strings (422 naming the field), NaN and Infinity are refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from api.core.db import audit_log, lineup_requests
from nascar_dfs.platform.reads import slate_upload_path

from .conftest import RACE, Api
from .helpers import assert_problem, body, submit

TEN_MB = 10 * 1024 * 1024


def _audit_events(api: Api) -> list[str]:
    with api.ctx.engine.connect() as conn:
        return list(conn.execute(sa.select(audit_log.c.event)).scalars())


def test_a_10_mb_body_is_413_before_authentication_and_parsing(api: Api) -> None:
    # Not JSON and no key: a parser would answer 422, authentication 401; the limit answers first.
    resp = api.client.post(
        "/v1/lineup-requests",
        content=b"x" * TEN_MB,
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    problem = assert_problem(resp, 413)
    assert problem["type"].endswith("payload-too-large")
    assert "auth.failed" not in _audit_events(api)


def test_a_10_mb_slate_upload_is_413_without_a_key(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(slates=False)
    resp = api.client.put(
        f"/v1/races/{RACE}/slate", content=b"x" * TEN_MB, headers={"Content-Type": "text/csv"}
    )
    assert_problem(resp, 413)
    assert not slate_upload_path(RACE).exists()


def _stream_without_length(api: Api, path: str, headers: dict[str, str], chunks: int) -> tuple[int, int]:
    """POST `chunks` chunks of 64 KiB with no Content-Length (chunked); returns (status, chunks the
    server pulled before answering)."""
    pulled = 0
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT" if path.endswith("/slate") else "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(api.app(scope, receive, send))  # type: ignore[operator]
    return status[0], pulled


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(api: Api) -> None:
    headers = {**api.key(), "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
    status, pulled = _stream_without_length(api, "/v1/lineup-requests", headers, chunks=160)
    assert status == 413
    # 256 KiB limit: the fifth 64 KiB chunk crosses it; the other 155 are never read.
    assert pulled == api.settings.max_request_bytes // 65536 + 1


def test_a_streamed_slate_is_refused_while_streaming(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(slate_max_bytes=100_000)
    headers = {**api.key("ops", "admin"), "Content-Type": "text/csv"}  # uploading a slate is admin
    status, pulled = _stream_without_length(api, f"/v1/races/{RACE}/slate", headers, chunks=160)
    assert status == 413
    assert pulled == 2


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"excludes": [f"Driver {i}" for i in range(50_000)]}, "spec.excludes"),
        ({"locks": ["x" * 101]}, "spec.locks.0"),
        ({"exposures": {f"Driver {i}": {"max": 0.5} for i in range(51)}}, "spec.exposures"),
        ({"groups": [{"drivers": ["A", "B"], "at_most": 1}] * 21}, "spec.groups"),
        ({"groups": [{"drivers": [f"D{i}" for i in range(51)], "at_most": 1}]}, "spec.groups.0.drivers"),
        ({"views": [{"kind": "finish_top", "driver": "A", "k": 5}] * 21}, "spec.views"),
        ({"views": [{"kind": "finish_top", "driver": "A" * 101, "k": 5}]}, "spec.views.0.finish_top.driver"),
    ],
)
def test_oversized_lists_and_strings_are_422_naming_the_field(
    make_api, spec: dict[str, Any], field: str
) -> None:  # type: ignore[no-untyped-def]
    api = make_api(max_request_bytes=4 * 1024 * 1024)  # so the spec's caps are what refuses it
    resp = submit(api, api.key(), body(**spec))
    problem = assert_problem(resp, 422)
    locs = [".".join(e["loc"][1:]) for e in problem["errors"]]
    assert field in locs, locs
    with api.ctx.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(lineup_requests)).scalar_one() == 0


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("spec.target_score", {"target_score": None}),
        ("spec.max_exposure", {"max_exposure": None}),
        ("spec.contest.entry_fee", {"contest": {"entries": 1000, "entry_fee": None}}),
    ],
)
def test_nan_and_infinity_are_422(api: Api, value: str, path: str, template: dict[str, Any]) -> None:
    raw = json.dumps(body(**template)).replace("null", value)  # JSON has no NaN: send it as Python writes it
    resp = api.client.post(
        "/v1/lineup-requests",
        content=raw,
        headers={**api.key(), "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    problem = assert_problem(resp, 422)
    assert any(".".join(e["loc"][1:]) == path for e in problem["errors"]), problem["errors"]


def test_a_spec_within_the_caps_is_accepted(api: Api) -> None:
    spec = {
        "excludes": [f"Driver {i}" for i in range(40)],
        "views": [{"kind": "finish_top", "driver": "Kyle Larson", "k": 5}],
        "target_score": 250.5,
    }
    assert submit(api, api.key(), body(**spec)).status_code == 202


@pytest.mark.parametrize("path", [f"/v1/races/{RACE}/starting-lineup", "/v1/race-schedules"])
def test_every_race_week_upload_has_the_slate_limit_not_the_json_one(make_api, path: str) -> None:  # type: ignore[no-untyped-def]
    """A weekend or schedule feed is a file the user has, as large as a slate may be."""
    api = make_api(max_request_bytes=1024, slate_max_bytes=100_000)
    headers = {**api.key("ops", "admin"), "Content-Type": "application/json"}
    big = b"[" + b",".join(b'{"pad": "' + b"x" * 100 + b'"}' for _ in range(50)) + b"]"
    assert 1024 < len(big) < 100_000
    assert (
        api.client.request(
            "PUT" if "lineup" in path else "POST", path, content=big, headers=headers
        ).status_code
        != 413
    )
