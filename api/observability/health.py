"""Readiness and detailed health (application/health+json): time-boxed, cached, concurrent checks.

Readiness fails only on what this process needs to serve requests: its own database and the
Dagster instance storage. Neo4j and the daemon heartbeat are reported as `warn`, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.core.config import Settings
from api.core.runtime import Lifecycle
from api.orchestration.launcher import Launcher
from nascar_dfs.graph import graph_health

log = logging.getLogger("api.health")
HEALTH_MEDIA_TYPE = "application/health+json"


@dataclass(frozen=True)
class CheckResult:
    name: str  # "{component}:{measurement}"
    component_type: str
    status: str  # pass | warn | fail
    observed_value: float | None
    observed_unit: str
    output: str | None
    fatal: bool  # whether a failure makes the process unready

    def as_json(self, when: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "componentType": self.component_type,
            "status": self.status,
            "observedValue": self.observed_value,
            "observedUnit": self.observed_unit,
            "time": when,
        }
        if self.output:
            out["output"] = self.output
        return out


class HealthChecker:
    def __init__(self, engine: Engine, launcher: Launcher, settings: Settings, lifecycle: Lifecycle) -> None:
        self.engine = engine
        self.launcher = launcher
        self.settings = settings
        self.lifecycle = lifecycle
        self._lock = threading.Lock()
        self._cached: tuple[float, list[CheckResult]] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.db_checks = 0  # counted so tests can see the cache at work

    def open(self) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def results(self) -> list[CheckResult]:
        """Cached for `health_cache_s`; one refresh at a time (others wait and reuse it)."""
        with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.settings.health_cache_s:
                return self._cached[1]
            results = self._run_all()
            self._cached = (time.monotonic(), results)
            return results

    def _run_all(self) -> list[CheckResult]:
        checks: list[tuple[str, str, bool, Callable[[], str | None]]] = [
            ("database:responseTime", "datastore", True, self._check_db),
            ("dagster-storage:responseTime", "datastore", True, self.launcher.ping),
            ("dagster-daemon:heartbeat", "system", False, self._check_daemon),
            ("neo4j:responseTime", "datastore", False, self._check_neo4j),
        ]
        timeout = self.settings.health_check_timeout_s
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")
        pool = self._pool
        futures = [(name, kind, fatal, pool.submit(_timed, fn)) for name, kind, fatal, fn in checks]
        deadline = time.monotonic() + timeout
        out = []
        for name, kind, fatal, future in futures:
            try:
                elapsed_ms, output = future.result(timeout=max(0.0, deadline - time.monotonic()))
                status = "warn" if output else "pass"
                out.append(CheckResult(name, kind, status, elapsed_ms, "ms", output, fatal))
            except FutureTimeout:
                out.append(
                    CheckResult(
                        name,
                        kind,
                        "fail" if fatal else "warn",
                        None,
                        "ms",
                        f"no answer within {timeout} s",
                        fatal,
                    )
                )
            except Exception as exc:
                log.warning("health check %s failed: %s", name, exc)
                out.append(
                    CheckResult(name, kind, "fail" if fatal else "warn", None, "ms", _short(exc), fatal)
                )
        return out

    def _check_db(self) -> str | None:
        self.db_checks += 1
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None

    def _check_daemon(self) -> str | None:
        age = self.launcher.daemon_heartbeat_age()
        if age is None:
            return "no daemon heartbeat"
        if age > self.settings.daemon_heartbeat_max_age_s:
            return f"daemon heartbeat {age:.0f} s old"
        return None

    def _check_neo4j(self) -> str | None:
        # The platform's graph probe: `pass` without NEO4J_URI (the embedded graph has no server
        # to lose); bounded by the same time-box as every other check.
        health = graph_health(timeout_s=self.settings.health_check_timeout_s)
        return None if health.status == "pass" else health.detail

    def overall(self, results: list[CheckResult]) -> str:
        if self.lifecycle.shutting_down or any(r.status == "fail" and r.fatal for r in results):
            return "fail"
        return "warn" if any(r.status != "pass" for r in results) else "pass"

    def readiness(self) -> dict[str, bool]:
        """Per dependency, whether its (cached, time-boxed) check passed (for dfs_dependency_up)."""
        return {r.name.split(":")[0]: r.status == "pass" for r in self.results()}

    def detail(self) -> tuple[str, dict[str, list[dict[str, Any]]]]:
        results = self.results()
        when = datetime.now(tz=UTC).isoformat()
        return self.overall(results), {r.name: [r.as_json(when)] for r in results}


def _timed(fn: Callable[[], str | None]) -> tuple[float, str | None]:
    started = time.perf_counter()
    output = fn()
    return round((time.perf_counter() - started) * 1000, 3), output


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
