"""Rate limits and the active-run cap, held in SQL (api.md §2)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from api.core.db import audit_log

from ..conftest import Api
from ..helpers import assert_problem, fake_results, submit


def test_eleventh_submit_in_a_minute_is_429_across_two_app_instances(make_api) -> None:  # type: ignore[no-untyped-def]
    one = make_api(active_runs_per_key=100)
    two = make_api(active_runs_per_key=100, clock=one.clock)  # same database file
    headers = one.key()
    for i in range(10):
        instance = one if i % 2 else two
        assert submit(instance, headers).status_code == 202
    refused = submit(one, headers)
    problem = assert_problem(refused, 429)
    assert problem["type"] == "https://iana.org/assignments/http-problem-types#quota-exceeded"
    assert "submit" in problem["violated-policies"]
    retry = int(refused.headers["retry-after"])
    assert retry >= 0
    match = re.match(r'^"([\w-]+)";r=(\d+);t=(\d+)$', refused.headers["ratelimit"])
    assert match and match.group(1) in refused.headers["ratelimit-policy"]
    one.clock.advance(retry)
    assert submit(two, headers).status_code == 202


def test_success_carries_ratelimit_headers_and_users_do_not_share_quota(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(active_runs_per_key=100)
    alice, bob = api.key("alice"), api.key("bob")
    first = submit(api, alice)
    assert '"submit";q=10;w=60' in first.headers["ratelimit-policy"]
    for _ in range(9):
        submit(api, alice)
    assert submit(api, alice).status_code == 429
    assert submit(api, alice).status_code == 429
    mine = submit(api, bob)
    assert mine.status_code == 202
    assert "r=9" in mine.headers["ratelimit"]
    with api.ctx.engine.connect() as conn:
        breaches = conn.execute(sa.select(audit_log).where(audit_log.c.event == "rate_limit.exceeded")).all()
    assert [b.principal for b in breaches] == ["alice"]  # two refusals, one sampled audit row


def test_active_run_cap_then_slot_released(api: Api) -> None:
    headers = api.key()
    a = submit(api, headers).json()["id"]
    submit(api, headers)
    problem = assert_problem(submit(api, headers), 429)
    assert problem["violated-policies"] == ["active-runs"]
    api.worker.run_once()
    assert len(api.launcher.launches) == 2
    api.launcher.succeed(api.launcher.only_run_for(a).run_id, fake_results(3))
    api.worker.run_once()
    assert submit(api, headers).status_code == 202


def test_bad_keys_never_touch_a_users_quota_and_hit_the_ip_limit(api: Api) -> None:
    headers = api.key()
    bad = {"Authorization": "Bearer ndfs_" + "a" * 16 + "_" + "b" * 64}
    codes = [api.client.get("/v1/races", headers=bad).status_code for _ in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429
    ok = api.client.get("/v1/races", headers=headers)
    assert ok.status_code == 200 and '"read";r=119' in ok.headers["ratelimit"]


def test_reads_fail_open_and_submits_fail_closed_when_the_store_is_down(api: Api) -> None:
    headers = api.key()
    x = submit(api, headers).json()["id"]
    api.ctx.engine.dispose()
    # Break only the limiter: its counters table disappears, the rest of the database stays.
    with api.ctx.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE rate_limit_counters RENAME TO rate_limit_counters_gone")
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=headers).status_code == 200
    refused = submit(api, headers)
    assert_problem(refused, 503)
    assert int(refused.headers["retry-after"]) > 0


def test_replays_count_against_the_limit_but_never_the_run_cap(api: Api) -> None:
    headers = api.key()
    for _ in range(5):
        assert submit(api, headers, key="same-key-123").status_code == 202
    assert submit(api, headers).status_code == 202  # second active run: cap 2 not reached by replays
    api.worker.run_once()
    assert len(api.launcher.launches) == 2


def test_old_counters_of_every_policy_are_forgotten(make_api) -> None:  # type: ignore[no-untyped-def]
    from api.core.db import rate_limit_counters
    from api.services.retention import forget_expired

    api = make_api(active_runs_per_key=100)
    key = api.key()
    rid = submit(api, key).json()["id"]
    api.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=key)
    api.client.get("/v1/races", headers={"Authorization": "Bearer nope"})
    with api.ctx.engine.connect() as conn:
        buckets = {b.split(":")[0] for b in conn.execute(sa.select(rate_limit_counters.c.bucket)).scalars()}
    assert {"submit", "cancel", "auth-failures"} <= buckets
    api.clock.advance(3 * 86400)
    forget_expired(api.ctx.engine, api.settings, api.clock())
    with api.ctx.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rate_limit_counters)).scalar_one() == 0
