"""The Grafana dashboards: well-formed, templated on the Prometheus data source, valid PromQL, and
every metric a dashboard panel or alert rule reads is exported by a running API."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.keys import create_key
from api.launcher import FakeLauncher, RunMetrics
from api.settings import Settings
from nascar_dfs_tests.api.conftest import OTHER_RACE, RACE, Clock
from nascar_dfs_tests.api.helpers import body, fake_results

from .promql import (
    DASHBOARDS,
    LOADED_RULES,
    PENDING_RULES,
    dashboard_expressions,
    load_rules,
    metric_names,
    substitute_grafana_variables,
)

# Series Prometheus itself attaches to every scrape target; no exporter exposes them.
PROMETHEUS_SYNTHESIZED = {"up"}
# Sample-name suffixes each exposition type produces for a family declared as NAME.
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "gauge": ("",),
    "untyped": ("",),
}


def _recorded_names() -> set[str]:
    return {r.record for r in load_rules(LOADED_RULES + PENDING_RULES) if r.record}


def _exported_names(exposition: str) -> set[str]:
    """Every sample name the scrape declares, whether or not a labelled child has a value yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """/metrics of an API that served reads, an idempotent replay, and one finished run."""
    tmp = tmp_path_factory.mktemp("observability-api")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'api.db'}",
        background_worker=False,
        slate_dir=tmp / "slates",
        test_routes=True,
        webhook_secret="whsec_" + "0123456789abcdefghijABCDEFGHIJ01",
    )
    launcher = FakeLauncher(races=[RACE, OTHER_RACE])
    clock = Clock()
    app = create_app(settings, launcher=launcher, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        ctx = app.state.ctx
        issued = create_key(ctx.engine, "ops", "user", clock())
        headers = {"Authorization": f"Bearer {issued.secret_key}", "Idempotency-Key": uuid.uuid4().hex}
        first = client.post("/v1/lineup-requests", json=body(), headers=headers)
        assert first.status_code == 202, first.text
        assert client.post("/v1/lineup-requests", json=body(), headers=headers).status_code == 202
        request_id = first.json()["id"]
        assert client.get(f"/v1/lineup-requests/{request_id}", headers=headers).status_code == 200
        assert client.get("/v1/races", headers=headers).status_code == 200
        worker = ctx.extras["worker"]
        worker.run_once()
        run = launcher.only_run_for(request_id)
        clock.advance(40)
        launcher.succeed(run.run_id, fake_results(3), RunMetrics("views", 1000, 230, 0.41))
        worker.run_once()
        resp = client.get("/metrics")
        assert resp.status_code == 200
        yield resp.text


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_templated_on_a_prometheus_datasource(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["uid"] and doc["title"] and doc["schemaVersion"] >= 36
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    queried = [p for p in doc["panels"] if p.get("targets")]
    assert len(queried) >= 4, f"{path.name}: only {len(queried)} panels with queries"
    for panel in queried:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboards_cover_what_operators_asked_for() -> None:
    exprs = {p.stem: " ".join(e for _, e in dashboard_expressions(p)) for p in DASHBOARDS}
    operations, quality = exprs["operations"], exprs["model-quality"]
    for metric in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "dfs_active_runs",
        "dfs_lineup_requests_finished_total",
        "dfs_run_queue_wait_seconds_bucket",
        "dfs_run_duration_seconds_bucket",
    ):
        assert metric in operations, metric
    for metric in ("nascar_dfs:calibration_crps:mean6h", "dfs_mcmc_kernel_rejections_total"):
        assert metric in quality, metric


def test_dashboard_expressions_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool parses rule expressions, so each panel query becomes a throwaway recording rule.
    rules = [
        {"record": f"dashboard:check:{i}", "expr": substitute_grafana_variables(expr)}
        for i, (_, expr) in enumerate(e for p in DASHBOARDS for e in dashboard_expressions(p))
    ]
    rule_file = tmp_path / "dashboards.rules.yml"
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_metric_is_exported_by_the_api(scrape: str) -> None:
    exported = _exported_names(scrape) | _recorded_names() | PROMETHEUS_SYNTHESIZED
    missing = {
        f"{path.name} / {title}: {name}"
        for path in DASHBOARDS
        for title, expr in dashboard_expressions(path)
        for name in metric_names(substitute_grafana_variables(expr))
        if name not in exported
    }
    assert not missing, "\n".join(sorted(missing))


def test_every_loaded_rule_reads_exported_metrics(scrape: str) -> None:
    exported = _exported_names(scrape) | _recorded_names()
    missing = {
        f"{rule.alert or rule.record}: {name}"
        for rule in load_rules(LOADED_RULES)
        for name in metric_names(rule.expr)
        if name not in exported
    }
    assert not missing, "\n".join(sorted(missing))


def test_pending_rules_wait_for_metrics_the_api_does_not_export_yet(scrape: str) -> None:
    # Tripwire: once the API exports these, move the rule file into deploy/prometheus/rules/.
    exported = _exported_names(scrape)
    for rule in load_rules(PENDING_RULES):
        needed = metric_names(rule.expr) - _recorded_names()
        assert needed - exported, f"{rule.alert}: every metric it needs is exported now; load the rule"


def test_metric_name_parser_finds_names_not_functions_labels_or_durations() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (handler, le) (rate(http_request_duration_seconds_bucket{job=~"a",'
        'status="5xx"}[5m]))) / on (job) group_left max(up offset 1h) > bool 2 * nascar_dfs:x:rate5m'
    )
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "up", "nascar_dfs:x:rate5m"}
