"""Copies each launched, unfinished re-optimization's Dagster state into its row (forward only) and
keeps the re-optimized DKEntries.csv once the run succeeded; part of the reconciler's pass, so a
status read never calls Dagster."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from api.core.db import reoptimizations
from api.core.runtime import Clock
from api.orchestration.launcher import STATUS_FOR_STATE, Launcher, RunState
from api.services import reoptimizations as store
from api.services.request_store import run_problem
from api.services.webhooks import WebhookSender

log = logging.getLogger("api.worker")


class ReoptimizationFollower:
    def __init__(
        self,
        engine: Engine,
        launcher: Launcher,
        clock: Clock,
        lost_after_s: float,
        sanitize: Callable[[str | None], str],
        webhooks: WebhookSender,
    ) -> None:
        self.engine = engine
        self.webhooks = webhooks
        self.launcher = launcher
        self.clock = clock
        self.lost_after_s = lost_after_s
        self.sanitize = sanitize  # a run failure's first line, without internals (reconciler.py)

    def follow(self) -> int:
        """One pass over every launched, unfinished re-optimization; returns how many changed."""
        c = reoptimizations.c
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    sa.select(reoptimizations).where(
                        c.status.not_in(sorted(store.FINISHED)), c.dagster_run_id.is_not(None)
                    )
                )
            )
        changed = 0
        for row in rows:
            try:
                changed += self._follow_one(row)
            except Exception as exc:  # reading Dagster failed: an outage, retried every pass
                log.warning("reconcile re-optimization %s failed: %s", row.id, exc)
        return changed

    def _follow_one(self, row: Row) -> int:
        now = self.clock()
        st = self.launcher.run_status(row.dagster_run_id)
        if st.state == RunState.NOT_FOUND:
            if now - (row.launched_at or now) <= self.lost_after_s:
                return 0
            lost = run_problem("run-lost", "the run disappeared from the orchestrator")
            values = {"status": "failed", "error_json": json.dumps(lost)}
        else:
            status = STATUS_FOR_STATE[st.state]
            if status in ("canceling", "canceled"):  # stopped from the Dagster UI: no result will come
                status = "failed"
            values = {"status": status, "dagster_run_id": st.run_id}
            if status == "succeeded":
                values["result_csv"] = self.launcher.reoptimized_entries(st.run_id)
            if status == "failed":
                failed = run_problem("run-failed", self.sanitize(st.error_message))
                values["error_json"] = json.dumps(failed)
        same_run = values.get("dagster_run_id", row.dagster_run_id) == row.dagster_run_id
        if values["status"] == row.status and same_run:
            return 0
        with self.engine.begin() as conn:
            return int(store.finish(conn, row, now, self.webhooks, **values))
