"""Idempotency-Key on POST /v1/lineup-requests (api.md §1)."""

from __future__ import annotations

import asyncio
import json

import httpx
import sqlalchemy as sa

from api.core.db import idempotency_keys, lineup_requests

from ..conftest import Api
from ..helpers import assert_problem, body, submit


def _rows(api: Api) -> int:
    with api.ctx.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(lineup_requests)).scalar_one()


def test_twenty_concurrent_duplicates_make_one_request_and_one_launch(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(submit_per_minute=100)  # replays count against the rate limit (api.md §1.7)
    headers = {**api.key(), "Idempotency-Key": "concurrent-key-1"}

    async def fire() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *[client.post("/v1/lineup-requests", json=body(), headers=headers) for _ in range(20)]
            )

    responses = asyncio.run(fire())
    assert {r.status_code for r in responses} <= {202, 409}
    accepted = [r for r in responses if r.status_code == 202]
    assert accepted
    assert len({r.json()["id"] for r in accepted}) == 1
    assert len({r.headers["location"] for r in accepted}) == 1
    assert _rows(api) == 1
    api.worker.run_once()
    api.worker.run_once()
    assert len(api.launcher.launches) == 1


def test_replay_with_canonically_equal_body_returns_the_same_request(api: Api) -> None:
    headers = {**api.key(), "Idempotency-Key": "replay-key-0001", "content-type": "application/json"}
    first = api.client.post("/v1/lineup-requests", json=body(lineups=5, max_exposure=0.5), headers=headers)
    api.worker.run_once()
    raw = '{ "spec" : {"max_exposure": 0.5,  "lineups": 5}, "race_id":"2024-cup-phoenix-2" }'
    second = api.client.post("/v1/lineup-requests", content=raw, headers=headers)
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    api.worker.run_once()
    assert len(api.launcher.launches) == 1


def test_same_key_with_another_body_is_422_and_creates_nothing(api: Api) -> None:
    headers = api.key()
    submit(api, headers, body(lineups=150), key="mismatch-key-1")
    problem = assert_problem(submit(api, headers, body(lineups=20), key="mismatch-key-1"), 422)
    assert problem["type"].endswith("idempotency-key-reused")
    assert _rows(api) == 1


def test_missing_empty_or_oversized_key_is_400_and_persists_nothing(api: Api) -> None:
    headers = api.key()
    no_key = api.client.post("/v1/lineup-requests", json=body(), headers=headers)
    assert assert_problem(no_key, 400)["type"].endswith("idempotency-key-missing")
    for bad in ("", "short", "x" * 256, "bad key with spaces"):
        resp = api.client.post(
            "/v1/lineup-requests", json=body(), headers={**headers, "Idempotency-Key": bad}
        )
        assert_problem(resp, 400)
    assert _rows(api) == 0


def test_quoted_structured_field_key_is_accepted(api: Api) -> None:
    headers = api.key()
    first = api.client.post(
        "/v1/lineup-requests", json=body(), headers={**headers, "Idempotency-Key": '"8e03978e-40d5-43e8"'}
    )
    again = submit(api, headers, key="8e03978e-40d5-43e8")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]


def test_keys_are_scoped_per_user(api: Api) -> None:
    a = submit(api, api.key("alice"), key="shared-key-k1")
    b = submit(api, api.key("bob"), key="shared-key-k1")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


def test_rejected_request_does_not_consume_the_key(api: Api) -> None:
    headers = api.key()
    assert submit(api, headers, body(max_exposure=3.0), key="fix-and-retry").status_code == 422
    assert submit(api, headers, body(), key="fix-and-retry").status_code == 202


def test_key_past_retention_starts_a_new_request(api: Api) -> None:
    headers = api.key()
    first = submit(api, headers, key="old-key-0001").json()
    api.clock.advance(api.settings.idempotency_retention_s + 1)
    second = submit(api, headers, key="old-key-0001")
    assert second.status_code == 202 and second.json()["id"] != first["id"]
    with api.ctx.engine.connect() as conn:
        keys = conn.execute(sa.select(idempotency_keys)).all()
        old = conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == first["id"])).one()
    assert len(keys) == 1 and old.idempotency_key_id is None
    assert json.loads(old.spec_json)["lineups"] == 3
