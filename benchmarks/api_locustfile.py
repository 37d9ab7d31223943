"""Locust users for benchmarks/api_load.py (run by it; usable alone with `locust -f`).

Each user submits a lineup request, polls it, asks for its lineups (a 409 `run-not-finished` is
the documented answer while the run is queued, so it counts as a success), lists its requests,
and starts again. The API key comes from NASCAR_DFS_LOAD_KEY. Expected refusals are classified
as the API's contract does: 409 on results before the run finished and 429 from a rate limit are not
failures; any other non-2xx or transport error is.
"""

from __future__ import annotations

import os
import uuid

from locust import HttpUser, between, task

RACE = os.environ.get("NASCAR_DFS_LOAD_RACE", "2024-cup-phoenix-2")
POLLS = int(os.environ.get("NASCAR_DFS_LOAD_POLLS", "4"))


class LineupUser(HttpUser):
    wait_time = between(0.05, 0.15)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['NASCAR_DFS_LOAD_KEY']}"

    def _expect(self, name: str, method: str, url: str, ok: tuple[int, ...], **kwargs):  # type: ignore[no-untyped-def]
        with self.client.request(method, url, name=name, catch_response=True, **kwargs) as resp:
            if resp.status_code in ok:
                resp.success()
            else:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")
            return resp

    @task
    def submit_then_poll(self) -> None:
        resp = self._expect(
            "POST /v1/lineup-requests",
            "POST",
            "/v1/lineup-requests",
            (202, 429),
            json={"race_id": RACE, "spec": {"lineups": 20, "max_exposure": 0.6}},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        location = resp.headers.get("location") if resp.status_code == 202 else None
        if location is None:
            return
        for _ in range(POLLS):
            self._expect("GET /v1/lineup-requests/{id}", "GET", location, (200, 429))
        self._expect("GET /v1/lineup-requests/{id}/lineups", "GET", f"{location}/lineups", (200, 409, 429))
        self._expect("GET /v1/lineup-requests", "GET", "/v1/lineup-requests?limit=20", (200, 429))
