"""API keys, 401/403/404 and the audit log (api.md §6)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi.routing import APIRoute

from api.core.db import api_keys, audit_log
from api.routes import V1_ROUTERS
from api.services.keys import create_key, revoke_key

from .conftest import Api
from .helpers import assert_problem, body, fake_results, submit

PUBLIC = {"/livez", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _audit(api: Api) -> list[tuple[str, str | None, str | None]]:
    with api.ctx.engine.connect() as conn:
        return [
            (r.event, r.key_id, r.target) for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))
        ]


def test_every_route_but_the_probes_requires_a_key(make_api) -> None:
    # More operations than the default auth-failure limit (20 a minute) allows from one client.
    api = make_api(auth_failures_per_minute=100)
    # Every operation of the /v1 routers (schema or not) and of the OpenAPI document.
    operations = {
        (f"/v1{r.path.removeprefix('/v1')}", m)
        for router in V1_ROUTERS
        for r in router.routes
        if isinstance(r, APIRoute)
        for m in r.methods
    }
    doc = api.client.get("/openapi.json").json()["paths"]
    operations |= {(p, m.upper()) for p, ops in doc.items() for m in ops if p not in PUBLIC}
    assert len(operations) >= 12
    for template, method in sorted(operations):
        path = template.replace("{request_id}", str(uuid.uuid4())).replace("{race_id}", "2024-cup-phoenix-2")
        if True:
            resp = api.client.request(method, path)

            problem = assert_problem(resp, 401)
            assert resp.headers["www-authenticate"].startswith("Bearer"), (method, path)

            assert problem["type"].endswith("unauthenticated")


def test_bad_keys_all_get_the_same_401_body(api: Api) -> None:
    issued = create_key(api.ctx.engine, "carol", "user", api.clock())
    revoked = create_key(api.ctx.engine, "carol", "user", api.clock())
    revoke_key(api.ctx.engine, revoked.key_id, api.clock())
    fake = issued.secret_key[:-4] + "0000"
    bodies = set()
    for raw in ("garbage", fake, revoked.secret_key, "ndfs_" + "0" * 16 + "_" + "1" * 64):
        resp = api.client.get("/v1/races", headers={"Authorization": f"Bearer {raw}"})
        data = assert_problem(resp, 401)
        bodies.add((data["type"], data["title"], data["detail"]))
    assert len(bodies) == 1
    assert (
        api.client.get("/v1/races", headers={"Authorization": f"Bearer {issued.secret_key}"}).status_code
        == 200
    )


def test_key_is_stored_hashed_only_and_its_use_is_recorded(api: Api) -> None:
    issued = create_key(api.ctx.engine, "dave", "user", api.clock())
    secret = issued.secret_key.rsplit("_", 1)[1]
    api.client.get("/v1/races", headers={"Authorization": f"Bearer {issued.secret_key}"})
    with api.ctx.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == issued.key_id)).one()
    assert secret not in " ".join(str(v) for v in row)
    assert row.last_used_at == api.clock() and row.last4 == secret[-4:]


def test_another_users_request_is_indistinguishable_from_a_missing_one(api: Api) -> None:
    alice, bob = api.key("alice"), api.key("bob")
    x = submit(api, alice).json()["id"]
    missing = str(uuid.uuid4())
    for suffix, method in (("", "GET"), ("/lineups", "GET"), ("/dk-upload.csv", "GET"), ("/cancel", "POST")):
        foreign = api.client.request(method, f"/v1/lineup-requests/{x}{suffix}", headers=bob)
        absent = api.client.request(method, f"/v1/lineup-requests/{missing}{suffix}", headers=bob)
        f, a = assert_problem(foreign, 404), assert_problem(absent, 404)
        for d in (f, a):
            d.pop("request_id"), d.pop("instance")
        assert f == a
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=alice).json()["status"] == "queued"
    assert x not in api.client.get("/v1/lineup-requests", headers=bob).text
    denied = [e for e in _audit(api) if e[0] == "authz.denied"]
    assert len(denied) == 4 and all(e[2] == f"lineup_request:{x}" for e in denied)


def test_admin_sees_everything_and_users_get_403_on_admin_routes(api: Api) -> None:
    alice, admin = api.key("alice"), api.key("root", "admin")
    x = submit(api, alice).json()["id"]
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=admin).status_code == 200
    everyone = api.client.get("/v1/lineup-requests", headers=admin, params={"all": "true"}).json()
    assert x in [i["id"] for i in everyone["items"]]
    assert_problem(api.client.get("/v1/lineup-requests", headers=alice, params={"all": "true"}), 403)
    assert assert_problem(api.client.get("/v1/health", headers=alice), 403)["type"].endswith(
        "forbidden-scope"
    )
    recal = {"race_id": "2024-cup-phoenix-2"}
    assert_problem(api.client.post("/v1/admin/recalibrations", json=recal, headers=alice), 403)
    assert api.client.post("/v1/admin/recalibrations", json=recal, headers=admin).status_code == 202
    api.worker.run_once()
    assert api.launcher.calibrations == ["2024-cup-phoenix-2"]


def test_revocation_and_rotation(api: Api) -> None:
    old = create_key(api.ctx.engine, "erin", "user", api.clock())
    new = create_key(api.ctx.engine, "erin", "user", api.clock())
    h_old, h_new = ({"Authorization": f"Bearer {k.secret_key}"} for k in (old, new))
    x = submit(api, h_old).json()["id"]
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=h_new).status_code == 200  # same owner
    revoke_key(api.ctx.engine, old.key_id, api.clock())
    assert_problem(api.client.get("/v1/races", headers=h_old), 401)
    assert api.client.get("/v1/races", headers=h_new).status_code == 200
    events = [(e[0], e[1]) for e in _audit(api)]
    revoked_at = events.index(("api_key.revoked", old.key_id))
    assert ("auth.failed", old.key_id) in events[revoked_at:]


def test_unknown_fields_in_the_body_are_rejected(api: Api) -> None:
    payload = {**body(), "owner_id": "bob"}
    problem = assert_problem(submit(api, api.key(), payload), 422)
    assert any("owner_id" in e["loc"] for e in problem["errors"])


def test_responses_never_leak_internals(api: Api) -> None:
    headers = api.key()
    x = submit(api, headers).json()["id"]
    api.worker.run_once()
    run = api.launcher.only_run_for(x)
    api.launcher.succeed(run.run_id, fake_results(3))
    api.worker.run_once()
    for path in ("", "/lineups"):
        text = api.client.get(f"/v1/lineup-requests/{x}{path}", headers=headers).text
        assert run.run_id not in text and "secret_hash" not in text and "alice" not in text


def _auth_events(api: Api) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event, _key, _target in _audit(api):
        if event.startswith("auth."):
            counts[event] = counts.get(event, 0) + 1
    return counts


def test_failed_authentications_are_limited_before_they_are_audited(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(auth_failures_per_minute=20)
    statuses = [
        api.client.get("/v1/races", headers={"Authorization": "Bearer ndfs_bad"}).status_code
        for _ in range(100)
    ]
    assert statuses.count(401) == 20 and statuses.count(429) == 80
    # One row per failure the limiter let through, one for the address being limited: not 100.
    assert _auth_events(api) == {"auth.failed": 20, "auth.rate_limited": 1}
    api.clock.advance(120)
    assert_problem(api.client.get("/v1/races", headers={"Authorization": "Bearer ndfs_bad"}), 401)
    assert _auth_events(api)["auth.failed"] == 21


def test_without_rate_limits_failed_authentications_are_audited_once_a_minute(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(rate_limits_enabled=False)
    for _ in range(50):
        assert_problem(api.client.get("/v1/races"), 401)
    assert _auth_events(api) == {"auth.failed": 1}


def test_a_read_only_key_reads_but_cannot_submit_or_cancel(api: Api) -> None:
    writer = api.key("frank")
    reader = api.key("frank", scope="requests:read")
    x = submit(api, writer).json()["id"]
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=reader).status_code == 200
    assert [r["id"] for r in api.client.get("/v1/lineup-requests", headers=reader).json()["items"]] == [x]
    assert api.client.get("/v1/races", headers=reader).status_code == 200
    for resp in (submit(api, reader), api.client.post(f"/v1/lineup-requests/{x}/cancel", headers=reader)):
        assert assert_problem(resp, 403)["type"].endswith("forbidden-scope")
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=reader).json()["status"] == "queued"
    assert_problem(api.client.get("/v1/health", headers=reader), 403)
    assert [e[0] for e in _audit(api)].count("authz.scope_denied") == 3


def test_cancel_is_rate_limited(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(cancel_per_minute=2, submit_per_minute=100, active_runs_per_key=100)
    key = api.key()
    ids = [submit(api, key).json()["id"] for _ in range(3)]
    assert [api.client.post(f"/v1/lineup-requests/{i}/cancel", headers=key).status_code for i in ids[:2]] == [
        202,
        202,
    ]
    problem = assert_problem(api.client.post(f"/v1/lineup-requests/{ids[2]}/cancel", headers=key), 429)
    assert problem["violated-policies"] == ["cancel"]
    assert api.client.get(f"/v1/lineup-requests/{ids[2]}", headers=key).json()["status"] == "queued"


def test_a_read_only_key_changes_nothing_anywhere(api: Api) -> None:
    """Every operation that is not a read answers 403 to a requests:read key (preview only computes)."""
    reader = api.key("grace", scope="requests:read")
    doc = api.client.get("/openapi.json").json()["paths"]
    writes = sorted(
        (path, method.upper())
        for path, ops in doc.items()
        for method in ops
        if method in ("post", "put", "patch", "delete") and path != "/v1/specs/preview"
    )
    assert len(writes) >= 5
    for template, method in writes:
        path = template.replace("{request_id}", str(uuid.uuid4())).replace("{race_id}", "2024-cup-phoenix-2")
        resp = api.client.request(
            method, path, headers={**reader, "Idempotency-Key": uuid.uuid4().hex}, json={}
        )
        assert_problem(resp, 403)
