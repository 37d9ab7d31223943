"""Outbox relay and reconciler: the only code that talks to Dagster, outside HTTP requests.

Relay: claims outbox rows (launch, terminate, webhook, calibrate) with a lease, so several API
replicas can run it; before launching it looks the run up by its request tag, so a crash between
"run created" and "row marked done" never makes a second run.
Reconciler: copies each unfinished request's Dagster state into the API's table (forward only),
stores results and run metrics once succeeded, fails requests whose run never starts or vanished.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from api.context import AppContext
from api.core.db import (
    idempotency_keys,
    insert_ignoring_conflict,
    lineup_contests,
    lineup_request_runs,
    lineup_requests,
    lineup_results,
    outbox,
    run_metrics,
)
from api.models import TERMINAL
from api.orchestration.launcher import STATUS_FOR_STATE, LaunchRequest, RunState
from api.services import ratelimit, webhooks
from api.services.request_store import advance, run_problem

log = logging.getLogger("api.worker")
LEASE_S = 60.0
BATCH = 50
HOUSEKEEPING_EVERY_S = 60.0


def _backoff_s(attempts: int) -> float:
    return float(min(300, 2**attempts))


# Dagster run ids (UUIDs) in a failure message: internal, never shown to users (api.md).
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


class Worker:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_housekeeping = float("-inf")
        self.handlers: dict[str, Callable[[Row], None]] = {
            "launch": self._launch,
            "terminate": self._terminate,
            "webhook": self._webhook,
            "calibrate": self._calibrate,
        }

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="api-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the loop must survive a DB or Dagster outage
                log.exception("worker pass failed")
            self._wake.wait(self.ctx.settings.worker_interval_s)
            self._wake.clear()

    def run_once(self) -> None:
        self.relay()
        self.reconcile()
        self.housekeeping()

    def housekeeping(self) -> None:
        """Forget idempotency keys past retention and stale rate-limit counters (once a minute)."""
        now = self.ctx.clock()
        if now - self._last_housekeeping < HOUSEKEEPING_EVERY_S:
            return
        self._last_housekeeping = now
        settings = self.ctx.settings
        policies = [
            ratelimit.Policy("submit", settings.submit_per_minute, 60),
            ratelimit.Policy("submit-daily", settings.submit_per_day, 86400),
            ratelimit.Policy("read", settings.read_per_minute, 60),
            ratelimit.Policy("auth-failures", settings.auth_failures_per_minute, 60),
        ]
        with self.ctx.engine.begin() as conn:
            conn.execute(
                sa.delete(idempotency_keys).where(
                    idempotency_keys.c.created_at < now - settings.idempotency_retention_s
                )
            )
            ratelimit.prune(conn, policies, now)

    # --- relay ------------------------------------------------------------------------------
    def relay(self) -> int:
        done = 0
        for row in self._claim():
            handler = self.handlers.get(row.kind)
            try:
                if handler is None:
                    raise ValueError(f"unknown outbox kind {row.kind!r}")
                handler(row)
                self._finish(row.id)
                done += 1
            except Exception as exc:
                log.warning("outbox %s %s failed: %s", row.kind, row.target, exc)
                self._retry_later(row, exc)
        return done

    def _claim(self) -> list[Row]:
        now = self.ctx.clock()
        o = outbox.c
        free = sa.or_(o.claimed_until.is_(None), o.claimed_until < now)
        with self.ctx.engine.begin() as conn:
            ids = list(
                conn.execute(
                    sa.select(o.id)
                    .where(o.done_at.is_(None), o.available_at <= now, free)
                    .order_by(o.id)
                    .limit(BATCH)
                ).scalars()
            )
            claimed = []
            for ident in ids:
                got = conn.execute(
                    sa.update(outbox)
                    .where(o.id == ident, o.done_at.is_(None), free)
                    .values(claimed_until=now + LEASE_S)
                )
                if got.rowcount == 1:
                    claimed.append(ident)
            return (
                list(conn.execute(sa.select(outbox).where(o.id.in_(claimed)).order_by(o.id)))
                if claimed
                else []
            )

    def _finish(self, outbox_id: int) -> None:
        with self.ctx.engine.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.id == outbox_id).values(done_at=self.ctx.clock()))

    def _retry_later(self, row: Row, exc: Exception) -> None:
        now = self.ctx.clock()
        attempts = row.attempts + 1
        with self.ctx.engine.begin() as conn:
            give_up = row.kind == "launch" and attempts >= self.ctx.settings.launch_max_attempts
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == row.id)
                .values(
                    attempts=attempts,
                    claimed_until=None,
                    last_error=str(exc)[:500],
                    available_at=now + _backoff_s(attempts),
                    done_at=now if give_up else None,
                )
            )
            if give_up:
                req = self._request(conn, row.target)
                if req is not None and req.status not in TERMINAL:
                    self._finish_request(
                        conn,
                        req,
                        "failed",
                        error=run_problem(
                            "launch-failed", "the run could not be launched; submit again later", 503
                        ),
                    )

    # --- outbox handlers -------------------------------------------------------------------
    def _launch(self, row: Row) -> None:
        with self.ctx.engine.connect() as conn:
            req = self._request(conn, row.target)
        if req is None or req.dagster_run_id is not None or req.status in TERMINAL:
            return
        if req.cancel_requested:
            with self.ctx.engine.begin() as conn:
                self._finish_request(conn, self._request(conn, req.id), "canceled")
            return
        launcher = self.ctx.launcher
        run_id = launcher.find_run(req.id)
        if run_id is None:
            run_id = launcher.launch(
                LaunchRequest(
                    request_id=req.id,
                    race_id=req.race_id,
                    spec_key=req.spec_key,
                    spec_json=req.spec_json,
                    owner=req.owner,
                    http_request_id=req.http_request_id,
                    max_runtime_s=self.ctx.settings.run_max_runtime_s,
                )
            )
        with self.ctx.engine.begin() as conn:
            conn.execute(
                sa.update(lineup_requests)
                .where(lineup_requests.c.id == req.id)
                .values(dagster_run_id=run_id, root_run_id=run_id, launched_at=self.ctx.clock())
            )
        log.info("launched run for request", extra={"lineup_request_id": req.id, "dagster_run_id": run_id})

    def _terminate(self, row: Row) -> None:
        with self.ctx.engine.begin() as conn:
            req = self._request(conn, row.target)
            if req is None or req.status in TERMINAL:
                return
            if req.dagster_run_id is None:
                # Never launched: nothing to stop; the launch handler will skip it.
                self._finish_request(conn, req, "canceled")
                return
        self.ctx.launcher.terminate(req.dagster_run_id)

    def _webhook(self, row: Row) -> None:
        webhooks.deliver(self.ctx, row.target)

    def _calibrate(self, row: Row) -> None:
        race_id, _, owner = row.target.partition("|")
        self.ctx.launcher.launch_calibration(race_id, owner)

    # --- reconciler ------------------------------------------------------------------------
    def reconcile(self) -> int:
        c = lineup_requests.c
        with self.ctx.engine.connect() as conn:
            rows = list(
                conn.execute(
                    sa.select(lineup_requests).where(
                        c.status.not_in(sorted(TERMINAL)), c.root_run_id.is_not(None)
                    )
                )
            )
        changed = 0
        for req in rows:
            try:
                changed += self._reconcile_one(req)
            except Exception as exc:
                log.warning("reconcile %s failed: %s", req.id, exc)
        return changed

    def _reconcile_one(self, req: Row) -> int:
        now = self.ctx.clock()
        st = self.ctx.launcher.run_status(req.root_run_id)
        settings = self.ctx.settings
        if st.state == RunState.NOT_FOUND:
            if now - (req.launched_at or now) > settings.run_lost_timeout_s:
                with self.ctx.engine.begin() as conn:
                    return int(
                        self._finish_request(
                            conn,
                            req,
                            "failed",
                            error=run_problem("run-lost", "the run disappeared from the orchestrator"),
                        )
                    )
            return 0
        self._record_history(req)
        status = STATUS_FOR_STATE[st.state]
        # Start timeout: measured from when this run was first seen STARTING (a QUEUED run may wait
        # its turn under Dagster's concurrency limits for as long as it takes).
        starting = st.state in (RunState.STARTING, RunState.NOT_STARTED)
        same_run = st.run_id == req.dagster_run_id
        starting_since = req.status_seen_at if (starting and same_run) else None
        if starting_since is not None and now - starting_since > settings.run_start_timeout_s:
            self.ctx.launcher.terminate(st.run_id)
            with self.ctx.engine.begin() as conn:
                return int(
                    self._finish_request(
                        conn,
                        req,
                        "failed",
                        error=run_problem(
                            "run-start-timeout",
                            f"the run did not start within {settings.run_start_timeout_s} s",
                        ),
                    )
                )
        if req.cancel_requested and status in ("queued", "running"):
            status = "canceling"
        values: dict[str, object] = {
            "dagster_run_id": st.run_id,
            "status_seen_at": (starting_since or now) if starting else None,
        }
        if st.phase is not None:
            values.update(
                progress_phase=st.phase, progress_percent=max(req.progress_percent or 0.0, st.percent)
            )
        if status == "running" and req.started_at is None:
            values["started_at"] = now
        if status == "succeeded":
            self._store_results(req, st.run_id)
        if status == "failed":
            values["error_json"] = json.dumps(run_problem("run-failed", sanitize_error(st.error_message)))
        with self.ctx.engine.begin() as conn:
            if status in TERMINAL:
                return int(self._finish_request(conn, req, status, **values))
            if status == req.status and all(getattr(req, k) == v for k, v in values.items()):
                return 0
            return int(advance(conn, req, now, status=status, **values))

    def _record_history(self, req: Row) -> None:
        """Copy the request's runs, retries included, into lineup_request_runs (the request's
        history); read after the status, so a terminal request's history is at least as new."""
        try:
            attempts = self.ctx.launcher.run_history(req.id)
        except Exception as exc:  # the history is a courtesy; it must not stall the status
            log.warning("run history of %s not read: %s", req.id, exc)
            return
        r = lineup_request_runs.c
        with self.ctx.engine.begin() as conn:
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

    def _store_results(self, req: Row, run_id: str) -> None:
        results = self.ctx.launcher.results(run_id)
        metrics = self.ctx.launcher.run_metrics(run_id)
        now = self.ctx.clock()
        with self.ctx.engine.begin() as conn:
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

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _request(conn: Connection, request_id: str) -> Row | None:
        return conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == request_id)).first()

    def _finish_request(
        self, conn: Connection, req: Row, status: str, error: dict | None = None, **values: object
    ) -> bool:
        if error is not None:
            values["error_json"] = json.dumps(error)
        if status == "succeeded":
            values.update(progress_phase="optimization", progress_percent=100.0)
        moved = advance(conn, req, self.ctx.clock(), status=status, **values)
        if moved:
            if req.callback_url:
                webhooks.enqueue_delivery(conn, self.ctx, req, status)
            log.info("request finished", extra={"lineup_request_id": req.id, "status": status})
        return moved
