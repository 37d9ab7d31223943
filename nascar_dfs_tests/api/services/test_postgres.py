"""The same guarantees on PostgreSQL (production storage): atomic idempotency, the active-run cap
under races, limits shared by two app instances. Each test gets its own schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa

from api.core.db import create_db_engine, lineup_requests, migrate

from ..conftest import Api
from ..helpers import body, submit

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(pg_dsn: str) -> Iterator[str]:
    schema = f"api_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(pg_dsn)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    base = pg_dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_api(make_api: Callable[..., Api], pg_url: str) -> Callable[..., Api]:
    return lambda **kw: make_api(database=pg_url, **kw)


def _post_concurrently(
    api: Api, n: int, headers_for: Callable[[int], dict[str, str]]
) -> list[httpx.Response]:
    async def fire() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *[client.post("/v1/lineup-requests", json=body(), headers=headers_for(i)) for i in range(n)]
            )

    return asyncio.run(fire())


def test_migrations_apply_once(pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    assert migrate(engine, 0.0) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert migrate(engine, 0.0) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar_one() == 8
    engine.dispose()


def test_twenty_concurrent_duplicates_one_row_one_launch(pg_api: Callable[..., Api]) -> None:
    api = pg_api(submit_per_minute=100)
    headers = {**api.key(), "Idempotency-Key": "pg-concurrent-1"}
    responses = _post_concurrently(api, 20, lambda _: headers)
    accepted = [r for r in responses if r.status_code == 202]
    assert {r.status_code for r in responses} <= {202, 409} and accepted
    assert len({r.json()["id"] for r in accepted}) == 1
    api.worker.run_once()
    assert len(api.launcher.launches) == 1
    with api.ctx.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(lineup_requests)).scalar_one() == 1


def test_racing_for_the_last_active_slot_exactly_one_wins(pg_api: Callable[..., Api]) -> None:
    api = pg_api(submit_per_minute=100, active_runs_per_key=2)
    key = api.key()
    assert submit(api, key).status_code == 202  # one slot left
    responses = _post_concurrently(api, 6, lambda i: {**key, "Idempotency-Key": f"pg-slot-{i:04d}"})
    codes = sorted(r.status_code for r in responses)
    assert codes.count(202) == 1 and codes.count(429) == 5


def test_submit_limit_holds_across_two_instances(pg_api: Callable[..., Api]) -> None:
    one = pg_api(active_runs_per_key=100)
    two = pg_api(active_runs_per_key=100, clock=one.clock)
    headers = one.key()
    for i in range(10):
        assert submit(one if i % 2 else two, headers).status_code == 202
    assert submit(one, headers).status_code == 429


def test_fifty_concurrent_submits_under_a_limit_of_ten_accept_exactly_ten(pg_api: Callable[..., Api]) -> None:
    api = pg_api(submit_per_minute=10, active_runs_per_key=100)
    key = api.key()
    responses = _post_concurrently(api, 50, lambda i: {**key, "Idempotency-Key": f"pg-limit-{i:04d}"})
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 10 and codes.count(429) == 40, sorted(codes)
    with api.ctx.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(lineup_requests)).scalar_one() == 10
