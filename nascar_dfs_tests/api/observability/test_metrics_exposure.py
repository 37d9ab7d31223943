"""/metrics on a port of its own (never on the API port then), label values that user input
cannot grow, and the SQL aggregates computed once per cache period."""

from __future__ import annotations

import httpx

from api.observability.dagster_metrics import Snapshot, _families

from ..conftest import RACE
from ..dagster_stack import free_port
from ..helpers import assert_problem, submit


def test_metrics_on_their_own_port_are_not_on_the_api_port(make_api) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    api = make_api(metrics_port=port)
    assert submit(api, api.key()).status_code == 202
    assert_problem(api.client.get("/metrics"), 404)
    resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert resp.status_code == 200
    assert "dfs_lineup_requests_submitted_total 1.0" in resp.text
    assert 'http_requests_total{handler="/v1/lineup-requests",method="POST",status="2xx"} 1.0' in resp.text


def test_scenario_sets_are_labelled_by_recency_rank_not_by_spec_key() -> None:
    snap = Snapshot()
    keys = [f"{i:016x}" for i in range(5)]
    for i, key in enumerate(keys):
        snap.rejection_rate[(RACE, key)] = i / 10
        snap.rejection_at[(RACE, key)] = 1_000.0 + i
    (rate,) = [f for f in _families(snap) if f.name == "dfs_scenario_set_rejection_rate"]
    labelled = {s.labels["spec"]: s.value for s in rate.samples}
    assert labelled == {"1": 0.4, "2": 0.3, "3": 0.2, "4": 0.1, "5": 0.0}  # newest first
    assert not any(key in str(rate.samples) for key in keys)


def test_domain_aggregates_are_computed_once_per_cache_period(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api(metrics_cache_s=60)
    key = api.key()
    for _ in range(5):
        assert api.client.get("/metrics").status_code == 200
    assert api.ctx.metrics.domain.refreshes == 1
    assert submit(api, key).status_code == 202
    # Within the period the scrape shows the cached totals (a scrape storm is one query set).
    assert "dfs_lineup_requests_submitted_total 0.0" in api.client.get("/metrics").text
