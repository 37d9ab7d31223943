"""Webhooks (Standard Webhooks signing, retries, SSRF guard) and restart behaviour (api.md §3, §7)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from api.core.db import webhook_deliveries
from api.orchestration.launcher import LauncherError, RunState
from api.services.webhooks import UnsafeCallbackError, post_within

from ..conftest import OTHER_RACE, RACE, Api, Clock
from ..fakes import FakeLauncher
from ..helpers import assert_problem, body, fake_results, submit


class Receiver:
    """A local HTTP endpoint answering with a scripted list of status codes."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.calls: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["content-length"]))
                outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, data))
                self.send_response(outer.codes[min(len(outer.calls) - 1, len(outer.codes) - 1)])
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()


def _finish(api: Api, request_id: str) -> None:
    api.worker.run_once()
    api.launcher.succeed(api.launcher.only_run_for(request_id).run_id, fake_results(3))
    api.worker.run_once()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/x",
        "https://[::1]/x",
        "https://localhost/x",
    ],
)
def test_internal_callback_urls_are_rejected_at_submit(api: Api, url: str) -> None:
    problem = assert_problem(submit(api, api.key(), {**body(), "callback_url": url}), 422)
    assert "callback_url" in str(problem["errors"])


def test_hostname_resolving_to_a_private_address_is_refused_at_delivery() -> None:
    with pytest.raises(UnsafeCallbackError):
        post_within("https://localhost.:8443/x", b"{}", {}, 5.0, allow_private=False)


def plain_http_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers speak plain HTTP on loopback; the API only calls https URLs: rewrite here."""
    import api.services.webhooks as wh

    real_client = wh.httpx.AsyncClient

    class PlainClient(real_client):  # type: ignore[misc,valid-type]
        async def post(self, url, **kw):  # type: ignore[no-untyped-def]
            return await super().post(url.replace("https://", "http://"), **kw)

    monkeypatch.setattr(wh.httpx, "AsyncClient", PlainClient)


def webhook_secret(api: Api, headers: dict[str, str]) -> str:
    resp = api.client.post("/v1/webhook-secrets", headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["secret"]


def test_signed_webhook_is_retried_with_the_same_id(make_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver([500, 500, 200])
    # Real time: standardwebhooks' verify refuses timestamps more than 5 minutes from now.
    api: Api = make_api(webhook_allow_private=True, clock=Clock(time.time()))
    plain_http_to_loopback(monkeypatch)
    headers = api.key()
    secret = webhook_secret(api, headers)
    try:
        data = submit(api, headers, {**body(), "callback_url": receiver.url}).json()
        _finish(api, data["id"])
        for advance in (0, 400, 400):
            api.clock.advance(advance)
            api.worker.run_once()
    finally:
        receiver.close()
    assert len(receiver.calls) == 3
    ids = {h["webhook-id"] for h, _ in receiver.calls}
    assert len(ids) == 1
    stamps = [int(h["webhook-timestamp"]) for h, _ in receiver.calls]
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1]
    # The first attempt is verified as a receiver would (its timestamp is now); the later ones
    # carry later timestamps (the test clock ran ahead), so their signatures are recomputed.
    first_headers, raw = receiver.calls[0]
    payload = Webhook(secret).verify(raw, first_headers)
    last_headers, last_raw = receiver.calls[-1]
    at = datetime.fromtimestamp(int(last_headers["webhook-timestamp"]), tz=UTC)
    assert last_headers["webhook-signature"] == Webhook(secret).sign(
        last_headers["webhook-id"], at, last_raw.decode()
    )
    assert payload["type"] == "lineup_request.succeeded" and payload["data"]["id"] == data["id"]
    with api.ctx.engine.connect() as conn:
        (row,) = conn.execute(sa.select(webhook_deliveries)).all()
    assert row.state == "delivered" and row.attempts == 3


def test_restart_mid_run_neither_relaunches_nor_loses_the_request(make_api) -> None:  # type: ignore[no-untyped-def]
    launcher = FakeLauncher(races=[RACE, OTHER_RACE])
    first: Api = make_api(launcher=launcher)
    headers = first.key()
    x = submit(first, headers).json()["id"]
    first.worker.run_once()
    launcher.set_state(launcher.only_run_for(x).run_id, RunState.STARTED, "scenarios", 40.0)
    first.worker.run_once()
    second: Api = make_api(launcher=launcher, clock=first.clock)  # a new process on the same database
    launcher.succeed(launcher.only_run_for(x).run_id, fake_results(3))
    second.worker.run_once()
    assert second.client.get(f"/v1/lineup-requests/{x}", headers=headers).json()["status"] == "succeeded"
    assert len(launcher.launches) == 1


def test_crash_between_launch_and_bookkeeping_makes_one_run(api: Api) -> None:
    headers = api.key()
    x = submit(api, headers).json()["id"]
    api.launcher.crash_after_launch = True
    api.worker.run_once()  # run created, then the call "fails"
    api.clock.advance(120)
    api.worker.run_once()  # relay retries: finds the run by its request tag
    assert len(api.launcher.launches) == 1
    run = api.launcher.only_run_for(x)
    api.launcher.succeed(run.run_id, fake_results(3))
    api.worker.run_once()
    assert api.client.get(f"/v1/lineup-requests/{x}", headers=headers).json()["status"] == "succeeded"


def test_cancel_survives_a_restart_before_terminate(make_api) -> None:  # type: ignore[no-untyped-def]
    launcher = FakeLauncher(races=[RACE])
    first: Api = make_api(launcher=launcher)
    headers = first.key()
    x = submit(first, headers).json()["id"]
    first.worker.run_once()
    launcher.set_state(launcher.only_run_for(x).run_id, RunState.STARTED)
    assert first.client.post(f"/v1/lineup-requests/{x}/cancel", headers=headers).status_code == 202
    # "crash": the first app never ran its worker after the cancel
    second: Api = make_api(launcher=launcher, clock=first.clock)
    second.worker.run_once()
    assert launcher.terminations == [launcher.only_run_for(x).run_id]
    launcher.set_state(launcher.only_run_for(x).run_id, RunState.CANCELED)
    second.worker.run_once()
    assert second.client.get(f"/v1/lineup-requests/{x}", headers=headers).json()["status"] == "canceled"


def test_launch_that_keeps_failing_ends_failed_and_frees_the_slot(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(launch_max_attempts=2)
    api.launcher.fail_launch = LauncherError("dagster webserver unreachable")
    headers = api.key()
    x = submit(api, headers).json()["id"]
    for _ in range(3):
        api.worker.run_once()
        api.clock.advance(600)
    got = api.client.get(f"/v1/lineup-requests/{x}", headers=headers).json()
    assert got["status"] == "failed" and got["error"]["type"].endswith("launch-failed")
    assert "unreachable" not in str(got["error"])
