"""The application context: every part a route, a dependency or the background worker uses,
built once, in dependency order, before the app serves (nothing is filled in afterwards)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy.engine import Engine

from api.core.config import Settings
from api.core.runtime import Clock, Lifecycle
from api.observability.health import HealthChecker
from api.observability.metrics import Metrics, dagster_snapshot
from api.orchestration.launcher import Launcher
from api.orchestration.race_catalogue import RaceCatalogue
from api.orchestration.reconciler import Reconciler
from api.orchestration.relay import OutboxRelay
from api.orchestration.webhook_dispatch import WebhookDispatcher
from api.orchestration.worker import Worker
from api.services.retention import forget_expired
from api.services.webhooks import WebhookSender


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    launcher: Launcher
    clock: Clock
    lifecycle: Lifecycle  # the only mutable part: set while the process shuts down
    health: HealthChecker
    metrics: Metrics
    races: RaceCatalogue
    worker: Worker


def build_context(settings: Settings, engine: Engine, launcher: Launcher, clock: Clock) -> AppContext:
    lifecycle = Lifecycle()
    health = HealthChecker(engine, launcher, settings, lifecycle)
    metrics = Metrics(
        engine, dagster_snapshot(launcher, settings), health.readiness, settings.metrics_cache_s
    )
    webhooks = WebhookSender(engine, settings, clock, metrics.webhooks)
    relay = OutboxRelay(engine, launcher, settings, clock, webhooks)
    worker = Worker(
        relay,
        WebhookDispatcher(relay, settings.webhook_concurrency, settings.worker_interval_s),
        Reconciler(engine, launcher, settings, clock, webhooks),
        partial(forget_expired, engine, settings),
        clock,
        settings.worker_interval_s,
    )
    return AppContext(
        settings=settings,
        engine=engine,
        launcher=launcher,
        clock=clock,
        lifecycle=lifecycle,
        health=health,
        metrics=metrics,
        races=RaceCatalogue(launcher, settings.data_dir),
        worker=worker,
    )
