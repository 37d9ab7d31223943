"""The outbox relay: claims outbox rows (launch, terminate, webhook, calibrate) with a lease, so
several API replicas can run it, and does each after the transaction that staged it committed.

Before launching it looks the run up by its request tag, so a crash between "run created" and
"row marked done" never makes a second run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from api.core.config import Settings
from api.core.db import lineup_requests, outbox
from api.core.runtime import Clock
from api.models import TERMINAL
from api.orchestration.launcher import Launcher, LaunchRequest
from api.services.request_store import finish, load, run_problem
from api.services.webhooks import WebhookSender

log = logging.getLogger("api.worker")
LEASE_S = 60.0
BATCH = 50


def _backoff_s(attempts: int) -> float:
    return float(min(300, 2**attempts))


class OutboxRelay:
    def __init__(
        self, engine: Engine, launcher: Launcher, settings: Settings, clock: Clock, webhooks: WebhookSender
    ) -> None:
        self.engine = engine
        self.launcher = launcher
        self.settings = settings
        self.clock = clock
        self.webhooks = webhooks
        self.handlers: dict[str, Callable[[Row], None]] = {
            "launch": self._launch,
            "terminate": self._terminate,
            "webhook": self._webhook,
            "calibrate": self._calibrate,
        }

    def relay(self) -> int:
        """Do every due outbox row once; a failed one is retried later with a backoff."""
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
        now = self.clock()
        o = outbox.c
        free = sa.or_(o.claimed_until.is_(None), o.claimed_until < now)
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.id == outbox_id).values(done_at=self.clock()))

    def _retry_later(self, row: Row, exc: Exception) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        with self.engine.begin() as conn:
            give_up = row.kind == "launch" and attempts >= self.settings.launch_max_attempts
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
                req = load(conn, row.target)
                if req is not None and req.status not in TERMINAL:
                    finish(
                        conn,
                        req,
                        "failed",
                        self.clock(),
                        self.webhooks,
                        error=run_problem(
                            "launch-failed", "the run could not be launched; submit again later", 503
                        ),
                    )

    # --- outbox handlers -------------------------------------------------------------------
    def _launch(self, row: Row) -> None:
        with self.engine.connect() as conn:
            req = load(conn, row.target)
        if req is None or req.dagster_run_id is not None or req.status in TERMINAL:
            return
        if req.cancel_requested:
            with self.engine.begin() as conn:
                finish(conn, load(conn, req.id), "canceled", self.clock(), self.webhooks)
            return
        run_id = self.launcher.find_run(req.id)
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
        log.info("launched run for request", extra={"lineup_request_id": req.id, "dagster_run_id": run_id})

    def _terminate(self, row: Row) -> None:
        with self.engine.begin() as conn:
            req = load(conn, row.target)
            if req is None or req.status in TERMINAL:
                return
            if req.dagster_run_id is None:
                # Never launched: nothing to stop; the launch handler will skip it.
                finish(conn, req, "canceled", self.clock(), self.webhooks)
                return
        self.launcher.terminate(req.dagster_run_id)

    def _webhook(self, row: Row) -> None:
        self.webhooks.deliver(row.target)

    def _calibrate(self, row: Row) -> None:
        race_id, _, owner = row.target.partition("|")
        self.launcher.launch_calibration(race_id, owner)
