"""Prometheus metrics: HTTP metrics by route template, domain metrics read from the API's tables
at scrape time (so every replica reports the same shared totals and a restart loses none), and
domain metrics read from Dagster (api/observability/dagster_metrics.py).

Several worker processes (uvicorn --workers N) each count their own requests; with
PROMETHEUS_MULTIPROC_DIR set (an empty folder, wiped before the server starts) the counters are
kept in files there and every scrape, whichever worker answers it, adds up all workers' counts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, cast

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection, Engine

from api.core.config import Settings
from api.core.db import lineup_requests, run_metrics
from api.models import TERMINAL
from api.observability.dagster_metrics import CachedSnapshot, DagsterCollector, DagsterReader
from api.orchestration.launcher import Launcher

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Bracket the 30-60 s a calibration takes, up to the 900 s a lineup run may last (its dagster/max_runtime,
# LINEUPS_MAX_SECONDS in nascar_dfs/platform/tags.py).
RUN_BUCKETS = (1.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 900.0)


def _histogram(
    conn: Connection,
    name: str,
    doc: str,
    seconds: sa.ColumnElement,
    where: sa.ColumnElement,
) -> HistogramMetricFamily:
    """A histogram computed in SQL over every finished request (monotonic: rows only get added)."""
    cols = [sa.func.sum(sa.case((seconds <= le, 1), else_=0)) for le in RUN_BUCKETS]
    row = conn.execute(sa.select(*cols, sa.func.count(), sa.func.sum(seconds)).where(where)).one()
    total = int(row[-2] or 0)
    buckets = [(str(le), int(n or 0)) for le, n in zip(RUN_BUCKETS, row[: len(RUN_BUCKETS)], strict=True)]
    family = HistogramMetricFamily(name, doc)
    family.add_metric([], [*buckets, ("+Inf", total)], sum_value=float(row[-1] or 0.0))
    return family


class DomainCollector(Collector):
    """Counts of lineup requests and the runs' model-quality numbers, from SQL, computed at most
    every `ttl_s` (the aggregates scan the request table; concurrent scrapes share one run)."""

    def __init__(self, engine: Engine, ttl_s: float = 0.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.refreshes = 0  # counted so tests can see the cache at work
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.ttl_s:
                self._cached = (now, list(self._compute()))
                self.refreshes += 1
            families = self._cached[1]
        yield from families

    def _compute(self) -> Iterator[Metric]:
        c = lineup_requests.c
        with self.engine.connect() as conn:
            by_status = dict(conn.execute(sa.select(c.status, sa.func.count()).group_by(c.status)).all())
            kernels = conn.execute(
                sa.select(
                    run_metrics.c.kernel,
                    sa.func.sum(run_metrics.c.proposals),
                    sa.func.sum(run_metrics.c.rejections),
                ).group_by(run_metrics.c.kernel)
            ).all()
            crps = conn.execute(
                sa.select(sa.func.count(run_metrics.c.crps), sa.func.sum(run_metrics.c.crps))
            ).one()
            queue_wait = _histogram(
                conn,
                "dfs_run_queue_wait_seconds",
                "Submit to first seen running",
                c.started_at - c.created_at,
                c.started_at.is_not(None),
            )
            duration = _histogram(
                conn,
                "dfs_run_duration_seconds",
                "Submit to succeeded",
                c.finished_at - c.created_at,
                c.status == "succeeded",
            )
        yield queue_wait
        yield duration
        submitted = CounterMetricFamily("dfs_lineup_requests_submitted", "Lineup requests accepted")
        submitted.add_metric([], sum(by_status.values()))
        yield submitted
        finished = CounterMetricFamily(
            "dfs_lineup_requests_finished", "Lineup requests finished", labels=["outcome"]
        )
        for outcome in sorted(TERMINAL):
            finished.add_metric([outcome], by_status.get(outcome, 0))
        yield finished
        active = GaugeMetricFamily("dfs_active_runs", "Lineup requests not finished yet")
        active.add_metric([], sum(n for s, n in by_status.items() if s not in TERMINAL))
        yield active
        proposals = CounterMetricFamily(
            "dfs_mcmc_kernel_proposals", "Scenario-kernel proposals of finished runs", labels=["kernel"]
        )
        rejections = CounterMetricFamily(
            "dfs_mcmc_kernel_rejections", "Scenario-kernel rejections of finished runs", labels=["kernel"]
        )
        for kernel, n_prop, n_rej in kernels:
            proposals.add_metric([kernel], n_prop or 0)
            rejections.add_metric([kernel], n_rej or 0)
        yield proposals
        yield rejections
        summary = SummaryMetricFamily("dfs_calibration_crps", "Calibration CRPS recorded by runs")
        summary.add_metric([], count_value=crps[0] or 0, sum_value=crps[1] or 0.0)
        yield summary


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(
        self,
        engine: Engine,
        dagster: CachedSnapshot | None,
        readiness: Callable[[], dict[str, bool]],
        cache_s: float = 0.0,
    ) -> None:
        # `registry` is what /metrics exposes. In multiprocess mode the counters live in the
        # shared files and are read back through the MultiProcessCollector, so the instruments
        # go to a registry of their own that is never exposed (else they would count twice).
        self.registry = CollectorRegistry(auto_describe=False)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        if self.multiprocess:
            multiprocess.MultiProcessCollector(self.registry)
            instruments = CollectorRegistry(auto_describe=False)
        else:
            instruments = self.registry
        self.dagster = dagster
        self.http_requests = Counter(
            "http_requests", "HTTP requests", ["handler", "method", "status"], registry=instruments
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ["handler", "method"],
            buckets=DURATION_BUCKETS,
            registry=instruments,
        )
        self.idempotency = Counter(
            "dfs_idempotency_outcomes", "Idempotency-Key outcomes", ["outcome"], registry=instruments
        )
        self.rate_limited = Counter(
            "dfs_rate_limited", "Requests refused by a rate limit", ["policy"], registry=instruments
        )
        self.webhooks = Counter(
            "dfs_webhook_deliveries", "Webhook delivery attempts", ["outcome"], registry=instruments
        )
        self.domain = DomainCollector(engine, cache_s)
        self.registry.register(self.domain)
        self.registry.register(DagsterCollector(dagster, readiness))

    def close(self) -> None:
        """Stop the Dagster reader's thread, so a hung storage read cannot hold up shutdown."""
        if self.dagster is not None:
            self.dagster.close()

    def observe_http(self, handler: str, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(handler=handler, method=method, status=f"{status // 100}xx").inc()
        self.http_duration.labels(handler=handler, method=method).observe(seconds)


class _OnDagster(Protocol):
    @property
    def instance(self) -> Any: ...


def dagster_snapshot(launcher: Launcher, settings: Settings) -> CachedSnapshot | None:
    """The cached reader of Dagster-side domain metrics; None for a launcher that has no Dagster
    instance behind it (it has no runs or materializations to read)."""
    # Looked up on the type: reading the property would open the instance here, at build time.
    if not isinstance(getattr(type(launcher), "instance", None), property):
        return None
    backed = cast(_OnDagster, launcher)
    reader = DagsterReader(lambda: backed.instance, _data_dir(settings.data_dir))
    return CachedSnapshot(reader, settings.metrics_cache_s, settings.metrics_dagster_timeout_s)


def _data_dir(configured: Path | None) -> Callable[[], Path | None]:
    """The race calendar the Dagster code location reads: the API's data_dir, else the platform's
    default (NASCAR_DFS_DATA_DIR or the packaged demo data)."""

    def find() -> Path | None:
        if configured is not None:
            return configured
        from nascar_dfs.platform.reads import data_dir

        try:
            return data_dir()
        except FileNotFoundError:
            return None

    return find
