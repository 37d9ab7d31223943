"""Webhook deliveries on workers of their own, apart from the relay's loop that launches, cancels
and calibrates (api/orchestration/relay.py), so a slow endpoint delays no run.

At most `webhook_concurrency` deliveries are in flight; rows are claimed only for free workers,
so no claimed row waits in a queue while its lease runs. Each attempt ends within its overall
deadline (api/services/webhooks.post_within).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from sqlalchemy.engine import Row

from api.orchestration.relay import WEBHOOK, OutboxRelay

log = logging.getLogger("api.webhooks")


class WebhookDispatcher:
    def __init__(self, relay: OutboxRelay, concurrency: int, interval_s: float) -> None:
        self.relay = relay
        self.concurrency = concurrency
        self.interval_s = interval_s
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="api-webhook")
        self._inflight: set[Future[int]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch(self) -> list[Future[int]]:
        """Claim due webhook rows for the free workers and start their deliveries."""
        with self._lock:
            self._inflight = {f for f in self._inflight if not f.done()}
            free = self.concurrency - len(self._inflight)
        rows = self.relay.claim((WEBHOOK,), free)
        started = [self._pool.submit(self._deliver, row) for row in rows]
        with self._lock:
            self._inflight.update(started)
        return started

    def run_once(self) -> int:
        """Deliver every due webhook now and wait for the attempts (tests, one-shot passes)."""
        done = 0
        while started := self.dispatch():
            wait(started)
            done += sum(f.result() for f in started)
        return done

    def _deliver(self, row: Row) -> int:
        try:
            return self.relay.process(row)
        finally:
            self._wake.set()  # a worker is free: claim the next row now

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._pool._shutdown:  # stopped before: a new pool (an executor cannot restart)
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="api-webhook")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="api-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        # In-flight attempts end within their own deadline; an unfinished row's lease lapses and
        # another relay (or this one after a restart) delivers it.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.dispatch()
            except Exception:  # the loop must survive a database outage
                log.exception("webhook dispatch failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
