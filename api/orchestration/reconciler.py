"""The reconciler: copies each unfinished request's Dagster state into the API's tables (forward
only), stores results and run metrics once succeeded, and fails requests whose run vanished.
A status read never calls Dagster; this is what keeps the tables current.

It keeps no timer of its own on runs: whether a run that does not start has failed is Dagster's
call (run monitoring's start timeout, `dagster/max_runtime`), and the request mirrors it.
"""

from __future__ import annotations

import json
import logging
import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from api.core.config import Settings
from api.core.db import (
    insert_ignoring_conflict,
    lineup_contests,
    lineup_request_runs,
    lineup_requests,
    lineup_results,
    run_metrics,
)
from api.core.runtime import Clock
from api.models import TERMINAL
from api.orchestration.launcher import STATUS_FOR_STATE, Launcher, RunState, RunStatus
from api.orchestration.reoptimizations import ReoptimizationFollower
from api.services.request_store import advance, finish, run_problem
from api.services.webhooks import WebhookSender

log = logging.getLogger("api.worker")

# Dagster run ids (UUIDs) in a failure message: internal, never shown to users (docs/api.md).
START_TIMEOUT = "START_TIMEOUT"  # Dagster's failure reason for a run monitoring failed before it started
_RUN_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{32}\b")


def sanitize_error(message: str | None) -> str:
    """First line of a run failure, without file paths, hosts or run ids: no internals reach users."""
    if not message:
        return "the run failed"
    first = message.strip().splitlines()[0] if message.strip() else "the run failed"
    first = re.sub(r"^(\w+\.)+(\w+):\s*", "", first)  # dagster._core...Failure: -> the message itself
    first = re.sub(r"(/[\w.-]+)+", "<path>", first)
    first = re.sub(r"\b[\w-]+(\.[\w-]+)+:\d+\b", "<host>", first)
    first = _RUN_ID.sub("<run>", first)
    return first[:300]


def _failure_slug(status: RunStatus) -> str:
    """The problem type of a failed run: Dagster's run monitoring gave up on its start, or it failed."""
    return "run-start-timeout" if status.failure_reason == START_TIMEOUT else "run-failed"


class Reconciler:
    def __init__(
        self, engine: Engine, launcher: Launcher, settings: Settings, clock: Clock, webhooks: WebhookSender
    ) -> None:
        self.engine = engine
        self.launcher = launcher
        self.settings = settings
        self.clock = clock
        self.webhooks = webhooks
        self.reoptimizations = ReoptimizationFollower(
            engine, launcher, clock, settings.run_lost_timeout_s, sanitize_error, webhooks
        )

    def reconcile(self) -> int:
        """One pass over every launched, unfinished request; returns how many changed."""
        c = lineup_requests.c
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    sa.select(lineup_requests).where(
                        c.status.not_in(sorted(TERMINAL)), c.root_run_id.is_not(None)
                    )
                )
            )
        changed = 0
        now = self.clock()
        for req in rows:
            if req.followup_after is not None and req.followup_after > now:
                continue  # backing off after a failed follow-up
            try:
                changed += self._reconcile_one(req)
            except Exception as exc:  # reading Dagster failed: an outage, retried every pass
                log.warning("reconcile %s failed: %s", req.id, exc)
        return changed + self.reoptimizations.follow()

    def _followup_failed(self, req: Row, exc: Exception) -> int:
        """The run's state was read, what follows it (results, history, the status write) was not:
        retried with backoff, then the request ends failed with the root cause, which frees its
        active-run slot."""
        attempts = (req.followup_attempts or 0) + 1
        cause = sanitize_error(f"{type(exc).__name__}: {exc}")
        log.warning("follow-up of %s failed (attempt %s): %s", req.id, attempts, cause)
        if attempts >= self.settings.followup_max_attempts:
            detail = f"the run ended but its results could not be stored after {attempts} attempts: {cause}"
            return self._fail(req, "results-unavailable", detail)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(lineup_requests)
                .where(lineup_requests.c.id == req.id)
                .values(followup_attempts=attempts, followup_after=self.clock() + min(300.0, 2.0**attempts))
            )
        return 0

    def _fail(self, req: Row, slug: str, detail: str) -> int:
        with self.engine.begin() as conn:
            return int(
                finish(conn, req, "failed", self.clock(), self.webhooks, error=run_problem(slug, detail))
            )

    def _reconcile_one(self, req: Row) -> int:
        st = self.launcher.run_status(req.root_run_id)
        try:
            return self._follow(req, st)
        except Exception as exc:
            return self._followup_failed(req, exc)

    def _follow(self, req: Row, st: RunStatus) -> int:
        now = self.clock()
        settings = self.settings
        if st.state == RunState.NOT_FOUND:
            if now - (req.launched_at or now) > settings.run_lost_timeout_s:
                return self._fail(req, "run-lost", "the run disappeared from the orchestrator")
            return 0
        self._record_history(req)
        status = STATUS_FOR_STATE[st.state]
        if req.cancel_requested and status in ("queued", "running"):
            status = "canceling"
        values: dict[str, object] = {"dagster_run_id": st.run_id}
        if req.followup_attempts:
            values.update(followup_attempts=0, followup_after=None)
        if st.phase is not None:
            values.update(
                progress_phase=st.phase, progress_percent=max(req.progress_percent or 0.0, st.percent)
            )
        if status == "running" and req.started_at is None:
            values["started_at"] = now
        if status == "succeeded":
            values["warnings_json"] = json.dumps(self._store_results(req, st.run_id))
        if status == "failed":
            values["error_json"] = json.dumps(
                run_problem(_failure_slug(st), sanitize_error(st.error_message))
            )
        with self.engine.begin() as conn:
            if status in TERMINAL:
                return int(finish(conn, req, status, self.clock(), self.webhooks, **values))
            if status == req.status and all(getattr(req, k) == v for k, v in values.items()):
                return 0
            return int(advance(conn, req, now, status=status, **values))

    def _record_history(self, req: Row) -> None:
        """Copy the request's runs, retries included, into lineup_request_runs (the request's
        history); read after the status, so a terminal request's history is at least as new."""
        try:
            attempts = self.launcher.run_history(req.id)
        except Exception as exc:  # the history is a courtesy; it must not stall the status
            log.warning("run history of %s not read: %s", req.id, exc)
            return
        r = lineup_request_runs.c
        with self.engine.begin() as conn:
            known = {
                row.run_id: row
                for row in conn.execute(sa.select(lineup_request_runs).where(r.request_id == req.id))
            }
            for a in attempts:
                status = STATUS_FOR_STATE.get(a.state)
                if status is None:
                    continue
                values = {
                    "step": a.step,
                    "attempt": a.attempt,
                    "retry_of": a.retry_of,
                    "status": status,
                    "created_at": a.created_at,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "failure": sanitize_error(a.failure) if a.failure else None,
                }
                old = known.get(a.run_id)
                if old is None:
                    conn.execute(
                        insert_ignoring_conflict(conn, lineup_request_runs).values(
                            run_id=a.run_id, request_id=req.id, **values
                        )
                    )
                elif any(getattr(old, k) != v for k, v in values.items()):
                    conn.execute(sa.update(lineup_request_runs).where(r.run_id == a.run_id).values(**values))

    def _store_results(self, req: Row, run_id: str) -> list[dict[str, str]]:
        """Keep the run's results once; returns its warnings (for the request's resource)."""
        results = self.launcher.results(run_id)
        metrics = self.launcher.run_metrics(run_id)
        now = self.clock()
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(lineup_results.c.request_id).where(lineup_results.c.request_id == req.id)
            ).first()
            if exists is None:
                conn.execute(
                    sa.insert(lineup_results).values(
                        request_id=req.id,
                        lineups_json=json.dumps(results.lineups),
                        upload_csv=results.upload_csv,
                        created_at=now,
                    )
                )
                if results.contest is not None:
                    conn.execute(
                        sa.insert(lineup_contests).values(
                            request_id=req.id, report_json=json.dumps(results.contest), created_at=now
                        )
                    )
            if (
                metrics is not None
                and conn.execute(
                    sa.select(run_metrics.c.run_id).where(run_metrics.c.run_id == run_id)
                ).first()
                is None
            ):
                conn.execute(
                    sa.insert(run_metrics).values(
                        run_id=run_id,
                        request_id=req.id,
                        kernel=metrics.kernel,
                        proposals=metrics.proposals,
                        rejections=metrics.rejections,
                        crps=metrics.crps,
                        recorded_at=now,
                    )
                )
        return results.warnings
