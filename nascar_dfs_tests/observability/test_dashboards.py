"""The Grafana dashboards: well-formed, templated on the Prometheus data source, valid PromQL, and
every metric a dashboard panel or alert rule reads is exported by a running API."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.core.config import Settings
from api.orchestration.launcher import RunMetrics
from api.services.keys import create_key
from nascar_dfs.platform.slate_store import save_slate, slates_dir
from nascar_dfs_tests.api.conftest import DEMO_SLATE, OTHER_RACE, RACE, Clock
from nascar_dfs_tests.api.fakes import FakeLauncher
from nascar_dfs_tests.api.helpers import body, fake_results

from .conftest import DagsterWithPartitions
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


class LauncherOnDagster(FakeLauncher):
    """Lineup requests are driven by the test (the request-table metrics need finished runs in
    seconds), while the Dagster-side metrics read the real instance."""

    def __init__(self, instance: Any, races: list[str]) -> None:
        super().__init__(races=races)
        self._instance = instance

    @property
    def instance(self) -> Any:
        return self._instance


@pytest.fixture(scope="module")
def scrape(
    tmp_path_factory: pytest.TempPathFactory, dagster_with_partitions: DagsterWithPartitions
) -> Iterator[str]:
    """/metrics of an API that served reads, an idempotent replay, and one finished run, on a
    Dagster instance with a materialized calibration, scenario set and lineups partition."""
    tmp = tmp_path_factory.mktemp("observability-api")
    # The API's own storage root, holding the slates a lineup request needs (409 slate-missing
    # otherwise), whatever earlier tests left in the environment.
    env = pytest.MonkeyPatch()
    env.setenv("NASCAR_DFS_STORAGE", str(tmp / "storage"))
    for race in (RACE, OTHER_RACE):
        save_slate(slates_dir(tmp / "storage"), race, DEMO_SLATE)
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'api.db'}",
        background_worker=False,
        data_dir=dagster_with_partitions.data_dir,
        webhook_secret="whsec_" + "0123456789abcdefghijABCDEFGHIJ01",
    )
    launcher = LauncherOnDagster(dagster_with_partitions.instance, races=[RACE, OTHER_RACE])
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
        worker = ctx.worker
        worker.run_once()
        run = launcher.only_run_for(request_id)
        clock.advance(40)
        launcher.succeed(run.run_id, fake_results(3), RunMetrics("views", 1000, 230, 0.41))
        worker.run_once()
        resp = client.get("/metrics")
        assert resp.status_code == 200
        yield resp.text
    env.undo()


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
        # read from Dagster: queue depth and outcomes by kind, phases, readiness per dependency
        "dfs_dagster_runs",
        "dfs_dagster_runs_finished_total",
        "dfs_dagster_oldest_queued_run_age_seconds",
        "dfs_run_phase_duration_seconds",
        "dfs_dependency_up",
    ):
        assert metric in operations, metric
    for metric in (
        "nascar_dfs:calibration_crps:mean6h",
        "dfs_mcmc_kernel_rejections_total",
        # read from Dagster: CRPS per race against the baseline, divergences, model age per
        # upcoming race, rejection rate per scenario set
        "dfs_calibration_model_crps",
        "dfs_calibration_baseline_crps",
        "dfs_calibration_divergences",
        "dfs_calibration_last_success_timestamp_seconds",
        "dfs_race_start_timestamp_seconds",
        "dfs_scenario_set_rejection_rate",
    ):
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


# Labelled counters whose children appear once the event happened; the scrape saw no rate limit
# and no webhook delivery.
ONLY_AFTER_EVENTS = {"dfs_rate_limited_total", "dfs_webhook_deliveries_total"}


def test_every_dashboard_metric_has_samples_not_just_a_help_line(scrape: str) -> None:
    sampled = set(_samples(scrape)) | _recorded_names() | PROMETHEUS_SYNTHESIZED | ONLY_AFTER_EVENTS
    empty = {
        f"{path.name} / {title}: {name}"
        for path in DASHBOARDS
        for title, expr in dashboard_expressions(path)
        for name in metric_names(substitute_grafana_variables(expr))
        if name not in sampled
    }
    assert not empty, "\n".join(sorted(empty))


def test_every_loaded_rule_reads_metrics_with_samples(scrape: str) -> None:
    sampled = set(_samples(scrape)) | _recorded_names() | ONLY_AFTER_EVENTS
    missing = {
        f"{rule.alert or rule.record}: {name}"
        for rule in load_rules(LOADED_RULES)
        for name in metric_names(rule.expr)
        if name not in sampled
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


def _samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def test_dagster_domain_series_have_values_read_from_the_instance(
    scrape: str, dagster_with_partitions: DagsterWithPartitions
) -> None:
    d = dagster_with_partitions
    samples = _samples(scrape)

    def value(name: str, **labels: str) -> float:
        found = [v for got, v in samples.get(name, []) if labels.items() <= got.items()]
        assert len(found) == 1, f"{name}{labels}: {samples.get(name)}"
        return found[0]

    # The scored race's model: CRPS against the baseline, as the stand-in science scored it.
    assert value("dfs_calibration_model_crps", race_id=d.scored) == 5.0
    assert value("dfs_calibration_baseline_crps", race_id=d.scored) == 6.0
    assert value("dfs_calibration_divergences", race_id=d.upcoming) == 0
    # `spec` is the set's recency rank, not the user's spec key (bounded label values).
    assert value("dfs_scenario_set_rejection_rate", race_id=d.upcoming, spec="1") == 0.12
    assert value("dfs_scenario_set_checked_timestamp_seconds", race_id=d.upcoming, spec="1") > 0
    # The upcoming race: its start (race day, UTC) and its fresh calibration.
    start = datetime(d.race_day.year, d.race_day.month, d.race_day.day, tzinfo=UTC).timestamp()
    assert value("dfs_race_start_timestamp_seconds", race_id=d.upcoming) == start
    assert len(samples["dfs_race_start_timestamp_seconds"]) == 1  # completed races are not upcoming
    fitted = value("dfs_calibration_last_success_timestamp_seconds", race_id=d.upcoming)
    assert 0 < time.time() - fitted < 3600
    # Run storage: the chain's calibration and lineup runs, plus the scored race's calibration.
    assert value("dfs_dagster_runs_finished_total", state="success", kind="calibration") == 2
    assert value("dfs_dagster_runs_finished_total", state="success", kind="lineups") == 1
    assert value("dfs_dagster_runs", state="queued", kind="lineups") == 1
    assert value("dfs_dagster_runs", state="queued", kind="calibration") == 0
    assert 0 <= value("dfs_dagster_oldest_queued_run_age_seconds", kind="lineups") < 3600
    phases = (("calibration", "calibration"), ("lineups", "scenarios"), ("lineups", "optimization"))
    for kind, phase in phases:
        assert value("dfs_run_phase_duration_seconds", kind=kind, phase=phase, quantile="0.95") > 0
    assert value("dfs_dependency_up", dependency="dagster-storage") == 1
    assert value("dfs_dependency_up", dependency="database") == 1
