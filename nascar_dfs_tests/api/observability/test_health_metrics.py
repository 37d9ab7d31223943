"""Probes, detailed health, Prometheus metrics and JSON logs (api.md §5, §8)."""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import sqlalchemy as sa

from api.observability.logs import JsonFormatter
from api.orchestration.launcher import RunMetrics

from ..conftest import Api
from ..dagster_stack import free_port
from ..helpers import assert_problem, fake_results, submit

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _break_database(api: Api) -> None:
    """Take the database away under the running app: its folder is moved, so every new
    connection fails, as against a database server that is down."""
    path = Path(sa.engine.make_url(api.settings.database_url).database)
    api.ctx.engine.dispose()  # pooled connections would keep the moved file open
    path.parent.rename(path.parent.with_name(path.parent.name + "-gone"))


def test_livez_answers_with_every_dependency_down(api: Api) -> None:
    api.launcher.down = True
    _break_database(api)
    resp = api.client.get("/livez")
    assert resp.status_code == 200 and resp.json() == {"status": "pass"}
    assert resp.headers["content-type"].startswith("application/health+json")


def test_readyz_fails_when_the_database_is_down_and_reveals_nothing(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(health_cache_s=0)
    assert api.client.get("/readyz").json() == {"status": "pass"}
    _break_database(api)
    resp = api.client.get("/readyz")
    assert resp.status_code == 503 and resp.json() == {"status": "fail"}


def test_readyz_fails_when_dagster_storage_is_down(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(health_cache_s=0)
    api.launcher.down = True
    assert api.client.get("/readyz").status_code == 503


def test_stale_daemon_heartbeat_is_a_warning_not_unready(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(health_cache_s=0)
    api.launcher.heartbeat_age = 10_000.0
    resp = api.client.get("/readyz")
    assert resp.status_code == 200 and resp.json() == {"status": "warn"}
    assert submit(api, api.key()).status_code == 202
    detail = api.client.get("/v1/health", headers=api.key("root", "admin"))
    assert detail.status_code == 200
    checks = detail.json()["checks"]
    assert checks["dagster-daemon:heartbeat"][0]["status"] == "warn"
    assert checks["database:responseTime"][0]["status"] == "pass"


def test_a_neo4j_outage_is_named_in_the_detail_and_never_makes_the_api_unready(  # type: ignore[no-untyped-def]
    make_api, monkeypatch
) -> None:
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")  # nothing listens there
    api = make_api(health_cache_s=0)
    admin = api.key("root", "admin")
    resp = api.client.get("/readyz")
    assert resp.status_code == 200 and resp.json() == {"status": "warn"}
    (check,) = api.client.get("/v1/health", headers=admin).json()["checks"]["neo4j:responseTime"]
    assert check["status"] == "warn" and "127.0.0.1" in check["output"]
    monkeypatch.delenv("NEO4J_URI")  # the embedded graph: no server to lose
    (check,) = api.client.get("/v1/health", headers=admin).json()["checks"]["neo4j:responseTime"]
    assert check["status"] == "pass" and "output" not in check


def test_readyz_is_cached_one_query_for_fifty_calls(api: Api) -> None:
    results = []

    def call() -> None:
        results.append(api.client.get("/readyz").status_code)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 50
    assert api.ctx.health.db_checks == 1


def test_detailed_health_needs_an_admin(api: Api) -> None:
    assert_problem(api.client.get("/v1/health"), 401)
    assert_problem(api.client.get("/v1/health", headers=api.key()), 403)


def test_readyz_fails_during_shutdown(api: Api) -> None:
    api.ctx.lifecycle.shutting_down = True
    assert api.client.get("/readyz").status_code == 503


def test_http_metrics_use_route_templates_and_domain_metrics_come_from_runs(api: Api) -> None:
    headers = api.key()
    x = submit(api, headers).json()["id"]
    api.client.get(f"/v1/lineup-requests/{x}", headers=headers)
    api.client.get("/v1/lineup-requests/00000000-0000-4000-8000-000000000000", headers=headers)
    text = api.client.get("/metrics").text
    assert 'handler="/v1/lineup-requests/{request_id}"' in text
    assert re.search(
        r'http_requests_total\{handler="/v1/lineup-requests/\{request_id\}",method="GET",status="2xx"\} 1',
        text,
    )
    assert re.search(
        r'http_requests_total\{handler="/v1/lineup-requests/\{request_id\}",method="GET",status="4xx"\} 1',
        text,
    )
    assert "dfs_lineup_requests_submitted_total 1.0" in text
    assert not UUID_RE.search(text) and "alice" not in text and "ndfs_" not in text

    api.worker.run_once()
    run = api.launcher.only_run_for(x)
    api.clock.advance(40)
    api.launcher.succeed(run.run_id, fake_results(3), RunMetrics("views", 1000, 230, 0.41))
    api.worker.run_once()
    after = api.client.get("/metrics").text
    assert 'dfs_mcmc_kernel_proposals_total{kernel="views"} 1000.0' in after
    assert 'dfs_mcmc_kernel_rejections_total{kernel="views"} 230.0' in after
    assert "dfs_calibration_crps_count 1.0" in after and "dfs_calibration_crps_sum 0.41" in after
    assert 'dfs_lineup_requests_finished_total{outcome="succeeded"} 1.0' in after
    assert 'dfs_run_duration_seconds_bucket{le="30.0"} 0.0' in after
    assert 'dfs_run_duration_seconds_bucket{le="45.0"} 1.0' in after
    assert "dfs_run_duration_seconds_sum 40.0" in after


def test_log_lines_are_json_with_the_request_id_and_no_secrets(api: Api, caplog) -> None:  # type: ignore[no-untyped-def]
    headers = api.key()
    secret = headers["Authorization"].split()[1]
    formatter = JsonFormatter()
    with caplog.at_level(logging.INFO, logger="api"):
        webhook_secret = api.client.post("/v1/webhook-secrets", headers=headers).json()["secret"]
        resp = submit(api, headers)
        api.worker.run_once()
    rid = resp.headers["x-request-id"]
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    request_lines = [line for line in lines if line.get("request_id") == rid]
    assert request_lines and any(line.get("event") == "http.request" for line in request_lines)
    joined = "\n".join(json.dumps(line) for line in lines)
    assert secret not in joined and webhook_secret not in joined
    assert api.launcher.launches[0].tags()["nascar/http_request_id"] == rid
