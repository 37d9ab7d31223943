"""The API's background thread: the outbox relay (launches, cancels, calibrations), then the
reconciler, then (once a minute) retention housekeeping, every `worker_interval_s` or as soon as a
route wakes it; and the webhook deliveries on workers of their own
(api/orchestration/webhook_dispatch.py), so no endpoint delays a run.

These are the only calls to a launcher outside the probes: no HTTP request waits on Dagster.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from api.core.runtime import Clock
from api.orchestration.reconciler import Reconciler
from api.orchestration.relay import OutboxRelay
from api.orchestration.webhook_dispatch import WebhookDispatcher

log = logging.getLogger("api.worker")
HOUSEKEEPING_EVERY_S = 60.0


class Worker:
    def __init__(
        self,
        relay: OutboxRelay,
        webhooks: WebhookDispatcher,
        reconciler: Reconciler,
        housekeeping: Callable[[float], None],
        clock: Clock,
        interval_s: float,
    ) -> None:
        self.relay = relay
        self.webhooks = webhooks
        self.reconciler = reconciler
        self.housekeeping = housekeeping  # called with the current time
        self.clock = clock
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_housekeeping = float("-inf")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="api-worker", daemon=True)
        self._thread.start()
        self.webhooks.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.webhooks.stop(timeout)

    def wake(self) -> None:
        """Launch soon rather than at the next pass (a submit, a cancel, a recalibration)."""
        self._wake.set()
        self.webhooks.wake()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pass()
            except Exception:  # the loop must survive a DB or Dagster outage
                log.exception("worker pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def run_once(self) -> None:
        """One pass, then every due webhook attempt, waited for (a one-shot pass, as tests make;
        in the background the webhook workers deliver on their own)."""
        self.run_pass()
        self.webhooks.run_once()

    def run_pass(self) -> None:
        """One pass of the background loop: relay, reconcile, housekeeping (no webhook)."""
        self.relay.relay()
        self.reconciler.reconcile()
        now = self.clock()
        if now - self._last_housekeeping >= HOUSEKEEPING_EVERY_S:
            self._last_housekeeping = now
            self.housekeeping(now)
