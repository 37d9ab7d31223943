"""The outbox relay: claims outbox rows (launch, terminate, webhook, calibrate) with a lease, so
several API replicas can run it, and does each after the transaction that staged it committed.

Before launching it looks the run up by its request tag, so a crash between "run created" and
"row marked done" never makes a second run.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from api.core.config import Settings
from api.core.db import lineup_requests, outbox, reoptimizations
from api.core.runtime import Clock
from api.models import TERMINAL
from api.orchestration.launcher import Launcher, LaunchRequest, ReoptimizationLaunch
from api.orchestration.reconciler import sanitize_error
from api.services import reoptimizations as reopt_store
from api.services.request_store import finish, load, run_problem
from api.services.webhooks import WebhookSender

log = logging.getLogger("api.worker")
LEASE_S = 60.0
# Rows claimed at once: each is re-leased before its side effect, but a small batch keeps the
# rows this relay holds and has not started on few, so a replica that dies strands few.
BATCH = 5
# Batches per pass: the reconciler runs after the relay, and must not wait on a long backlog.
BATCHES_PER_PASS = 20
WEBHOOK = "webhook"
# Launches, cancels and calibrations: the relay's loop. Webhooks go through their own workers
# (api/orchestration/webhook_dispatch.py), so a slow endpoint never delays a run.
RUN_KINDS = ("launch", "terminate", "calibrate", "reoptimize")


class LostLease(Exception):
    """Another relay took the row over (this one's lease lapsed): do nothing more with it."""


def _backoff_s(attempts: int) -> float:
    return float(min(300, 2**attempts))


def relay_holder() -> str:
    """This relay's name in `outbox.claimed_by`: host, process and a nonce (a pid is reused)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        launcher: Launcher,
        settings: Settings,
        clock: Clock,
        webhooks: WebhookSender,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.launcher = launcher
        self.settings = settings
        self.clock = clock
        self.webhooks = webhooks
        self.holder = holder or relay_holder()
        # A webhook row stays leased for longer than its delivery's overall deadline.
        self.webhook_lease_s = max(LEASE_S, 2 * settings.webhook_timeout_s + 10)
        self.handlers: dict[str, Callable[[Row], None]] = {
            "launch": self._launch,
            "terminate": self._terminate,
            WEBHOOK: self._webhook,
            "calibrate": self._calibrate,
            "reoptimize": self._reoptimize,
        }

    def relay(self, kinds: tuple[str, ...] = RUN_KINDS) -> int:
        """Do every due outbox row of these kinds once, a small batch at a time; a failed one is
        retried later with a backoff."""
        done = 0
        for _ in range(BATCHES_PER_PASS):
            rows = self.claim(kinds, BATCH)
            if not rows:
                break
            done += sum(self.process(row) for row in rows)
        return done

    def process(self, row: Row) -> int:
        """One claimed row: its side effect only while this relay still holds it; 1 if done."""
        handler = self.handlers.get(row.kind)
        try:
            if not self._renew(row):
                raise LostLease()
            if handler is None:
                raise ValueError(f"unknown outbox kind {row.kind!r}")
            handler(row)
        except LostLease:
            log.info("outbox %s %s: taken over by another relay", row.kind, row.target)
            return 0
        except Exception as exc:
            log.warning("outbox %s %s failed: %s", row.kind, row.target, exc)
            self._retry_later(row, exc)
            return 0
        with self.engine.begin() as conn:
            self.finish_claimed(conn, row.id)  # a webhook attempt finished its row itself
        return 1

    def claim(self, kinds: tuple[str, ...], limit: int) -> list[Row]:
        """Lease up to `limit` due rows of these kinds to this relay. On PostgreSQL the rows are
        selected `FOR UPDATE SKIP LOCKED`, so replicas claiming at once take different rows
        (on SQLite every transaction holds the one write lock: claims are serial anyway)."""
        if limit <= 0:
            return []
        now = self.clock()
        o = outbox.c
        free = sa.or_(o.claimed_until.is_(None), o.claimed_until < now)
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(
                    sa.select(o.id)
                    .where(o.done_at.is_(None), o.available_at <= now, free, o.kind.in_(kinds))
                    .order_by(o.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not ids:
                return []
            lease = sa.case((o.kind == WEBHOOK, now + self.webhook_lease_s), else_=now + LEASE_S)
            conn.execute(
                sa.update(outbox)
                .where(o.id.in_(ids), o.done_at.is_(None), free)
                .values(claimed_until=lease, claimed_by=self.holder)
            )
            return list(
                conn.execute(
                    sa.select(outbox).where(o.id.in_(ids), o.claimed_by == self.holder).order_by(o.id)
                )
            )

    def _mine(self, outbox_id: int) -> sa.ColumnElement[bool]:
        o = outbox.c
        return sa.and_(o.id == outbox_id, o.claimed_by == self.holder, o.done_at.is_(None))

    def _renew(self, row: Row) -> bool:
        """Whether this relay still holds the row, extending its lease if so: checked right
        before each side effect (a row of a batch may wait while the ones before it run)."""
        lease = self.webhook_lease_s if row.kind == WEBHOOK else LEASE_S
        with self.engine.begin() as conn:
            got = conn.execute(
                sa.update(outbox).where(self._mine(row.id)).values(claimed_until=self.clock() + lease)
            )
            return got.rowcount == 1

    def finish_claimed(self, conn: Connection, outbox_id: int) -> bool:
        """Mark the row done if this relay still holds it (in the caller's transaction)."""
        got = conn.execute(sa.update(outbox).where(self._mine(outbox_id)).values(done_at=self.clock()))
        return got.rowcount == 1

    def _retry_later(self, row: Row, exc: Exception) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        with self.engine.begin() as conn:
            limit = (
                self.settings.launch_max_attempts
                if row.kind == "launch"
                else self.settings.followup_max_attempts
            )
            give_up = attempts >= limit
            got = conn.execute(
                sa.update(outbox)
                .where(self._mine(row.id))
                .values(
                    attempts=attempts,
                    claimed_until=None,
                    claimed_by=None,
                    last_error=str(exc)[:500],
                    available_at=now + _backoff_s(attempts),
                    done_at=now if give_up else None,
                )
            )
            if got.rowcount != 1:
                return  # another relay holds the row now: its outcome is the one that counts
            if give_up:
                log.error("outbox %s %s gave up after %s attempts: %s", row.kind, row.target, attempts, exc)
            if give_up and row.kind == "reoptimize":
                job = reopt_store.load(conn, row.target)
                if job is not None and job.status not in reopt_store.FINISHED:
                    detail = "the run could not be launched; submit again later"
                    error = run_problem("launch-failed", detail, 503)
                    reopt_store.finish(
                        conn, job, now, self.webhooks, status="failed", error_json=json.dumps(error)
                    )
            req = load(conn, row.target) if give_up and row.kind in ("launch", "terminate") else None
            if req is not None and req.status not in TERMINAL:
                if row.kind == "launch":
                    error = run_problem(
                        "launch-failed", "the run could not be launched; submit again later", 503
                    )
                else:
                    cause = sanitize_error(f"{type(exc).__name__}: {exc}")
                    error = run_problem("cancel-failed", f"the run could not be stopped: {cause}", 503)
                finish(conn, req, "failed", self.clock(), self.webhooks, error=error)

    # --- outbox handlers -------------------------------------------------------------------
    def _launch(self, row: Row) -> None:
        with self.engine.connect() as conn:
            req = load(conn, row.target)
        if req is None or req.dagster_run_id is not None or req.status in TERMINAL:
            return
        run_id = self.launcher.find_run(req.id)
        if req.cancel_requested:
            self._cancel_unlaunched(req.id, run_id)
            return
        if run_id is None:
            run_id = self.launcher.launch(
                LaunchRequest(
                    request_id=req.id,
                    race_id=req.race_id,
                    spec_key=req.spec_key,
                    spec_json=req.spec_json,
                    owner=req.owner,
                    http_request_id=req.http_request_id,
                )
            )
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(lineup_requests)
                .where(lineup_requests.c.id == req.id)
                .values(dagster_run_id=run_id, root_run_id=run_id, launched_at=self.clock())
            )
            now = load(conn, req.id)
        log.info("launched run for request", extra={"lineup_request_id": req.id, "dagster_run_id": run_id})
        if now is not None and (now.cancel_requested or now.status == "canceled"):
            # Canceled while the launch was on the wire (the cancel found no run to stop).
            self.launcher.terminate(run_id)

    def _terminate(self, row: Row) -> None:
        with self.engine.connect() as conn:
            req = load(conn, row.target)
        if req is None or req.status in TERMINAL:
            return
        if req.dagster_run_id is None:
            self._cancel_unlaunched(req.id, self.launcher.find_run(req.id))
            return
        self.launcher.terminate(req.dagster_run_id)

    def _cancel_unlaunched(self, request_id: str, run_id: str | None) -> None:
        """Cancel a request with no run recorded. A launch that timed out after Dagster created
        the run left it unrecorded: found by the request's tag, it is recorded and terminated (the
        reconciler ends the request canceled once Dagster has); with no run, nothing to stop."""
        with self.engine.begin() as conn:
            req = load(conn, request_id)
            if req is None or req.status in TERMINAL:
                return
            if run_id is None:
                finish(conn, req, "canceled", self.clock(), self.webhooks)
                return
            conn.execute(
                sa.update(lineup_requests)
                .where(lineup_requests.c.id == req.id, lineup_requests.c.dagster_run_id.is_(None))
                .values(dagster_run_id=run_id, root_run_id=run_id, launched_at=self.clock())
            )
        log.info("terminating the run of a timed-out launch", extra={"lineup_request_id": request_id})
        self.launcher.terminate(run_id)

    def _webhook(self, row: Row) -> None:
        def still_mine(conn: Connection) -> None:
            # The attempt's outcome (and the next attempt it schedules) is written in the same
            # transaction that finishes this row, only if this relay still holds it: a replica
            # whose lease lapsed cannot schedule a second chain of attempts.
            if not self.finish_claimed(conn, row.id):
                raise LostLease()

        self.webhooks.deliver(row.target, still_mine)

    def _calibrate(self, row: Row) -> None:
        race_id, _, owner = row.target.partition("|")
        self.launcher.launch_calibration(race_id, owner)

    def _reoptimize(self, row: Row) -> None:
        """Launch a re-optimization's run once: a run already made for it (found by its tag after a
        crash between launch and record) is recorded, never launched twice."""
        with self.engine.connect() as conn:
            job = reopt_store.load(conn, row.target)
        if job is None or job.dagster_run_id is not None or job.status in reopt_store.FINISHED:
            return
        run_id = self.launcher.find_reoptimization_run(job.id)
        if run_id is None:
            run_id = self.launcher.launch_reoptimization(
                ReoptimizationLaunch(
                    reoptimization_id=job.id,
                    race_id=job.race_id,
                    spec_key=job.spec_key,
                    entries_csv=job.entries_csv,
                    changes=json.loads(job.changes_json),
                    owner=job.owner,
                )
            )
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(reoptimizations)
                .where(reoptimizations.c.id == job.id, reoptimizations.c.dagster_run_id.is_(None))
                .values(dagster_run_id=run_id, launched_at=self.clock())
            )
        log.info("launched re-optimization run", extra={"dagster_run_id": run_id})
