"""Two relays on one PostgreSQL database (two API replicas): each outbox row's side effect is done
by one of them, a relay whose lease lapsed neither finishes nor reschedules a row another took
over, and a webhook attempt schedules one follow-up (issue 19, item 2).

The launcher is the in-memory fake (fakes.py), slowed down so claims overlap: what is under test
is the claim protocol on the real database; test_replicas.py (reliability) runs the same on real
Dagster with a replica killed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from api.core.db import outbox, webhook_deliveries
from api.orchestration.launcher import LaunchRequest
from api.orchestration.relay import LEASE_S, OutboxRelay
from api.services.webhooks import WebhookSender

from ..conftest import OTHER_RACE, RACE, Api, Clock
from ..fakes import FakeLauncher
from ..helpers import body, fake_results, submit
from ..services.test_postgres import pg_api, pg_url  # noqa: F401 (fixtures)
from .test_webhooks_restart import Receiver, plain_http_to_loopback, webhook_secret

pytestmark = pytest.mark.postgres


class SlowLauncher(FakeLauncher):
    """Launching takes a while, as a Dagster launch over GraphQL does: two relays that claimed the
    same row would both find no run and both launch."""

    def launch(self, request: LaunchRequest) -> str:
        time.sleep(0.05)
        return super().launch(request)


def _other_relay(api: Api) -> OutboxRelay:
    """A second replica's relay on the same database (its own webhook sender and lease name)."""
    ctx = api.ctx
    webhooks = WebhookSender(ctx.engine, ctx.settings, ctx.clock, ctx.metrics.webhooks)
    return OutboxRelay(ctx.engine, ctx.launcher, ctx.settings, ctx.clock, webhooks)


def test_two_relays_launch_each_request_once(pg_api: Callable[..., Api]) -> None:  # noqa: F811
    launcher = SlowLauncher(races=[RACE, OTHER_RACE])
    api = pg_api(launcher=launcher, active_runs_per_key=100, submit_per_minute=1000)
    headers = api.key()
    ids = [submit(api, headers, body(), key=f"replicas-{i:03d}").json()["id"] for i in range(30)]
    relays = [api.worker.relay, _other_relay(api)]
    done: list[int] = []
    threads = [threading.Thread(target=lambda r=r: done.append(r.relay())) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    launched = Counter(r.request_id for r in launcher.launches)
    assert sorted(launched) == sorted(ids) and set(launched.values()) == {1}, launched
    assert sum(done) == 30 and all(n > 0 for n in done), done  # both relays took a share
    with api.ctx.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(outbox.c.done_at.is_(None))).scalar_one() == 0


def test_a_relay_whose_lease_lapsed_does_not_undo_the_one_that_took_over(
    pg_api: Callable[..., Api],  # noqa: F811
) -> None:
    api = pg_api()
    rid = submit(api, api.key()).json()["id"]
    slow, fast = api.worker.relay, _other_relay(api)
    (row,) = slow.claim(("launch",), 5)
    api.clock.advance(LEASE_S + 1)  # the first relay stalls past its lease
    (again,) = fast.claim(("launch",), 5)
    assert again.id == row.id and again.claimed_by == fast.holder
    assert slow.process(row) == 0  # re-checked before the launch: not its row any more
    assert api.launcher.launches == []
    assert fast.process(again) == 1
    assert [r.request_id for r in api.launcher.launches] == [rid]
    with api.ctx.engine.connect() as conn:
        (done,) = conn.execute(sa.select(outbox).where(outbox.c.id == row.id)).all()
    assert done.done_at is not None and done.claimed_by == fast.holder


def test_a_webhook_attempt_schedules_one_follow_up(
    pg_api: Callable[..., Api],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint fails; both relays made an attempt on the same row (the first stalled past its
    lease mid-delivery): the retry chain continues once, from the relay that held the row."""
    plain_http_to_loopback(monkeypatch)
    receiver = Receiver([500])
    api = pg_api(webhook_allow_private=True, clock=Clock(time.time()))
    headers = api.key()
    webhook_secret(api, headers)
    rid = submit(api, headers, {**body(), "callback_url": receiver.url}).json()["id"]
    api.worker.run_pass()
    api.launcher.succeed(api.launcher.only_run_for(rid).run_id, fake_results(3))
    api.worker.run_pass()  # succeeded: the webhook is staged, not delivered yet
    slow, fast = api.worker.relay, _other_relay(api)
    try:
        (row,) = slow.claim(("webhook",), 5)
        real_deliver = slow.webhooks.deliver

        def stalled(msg_id: str, claim):  # type: ignore[no-untyped-def]
            # The other relay takes the row over while this one's attempt is on the wire.
            api.clock.advance(slow.webhook_lease_s + 1)
            (taken,) = fast.claim(("webhook",), 5)
            assert fast.process(taken) == 1
            real_deliver(msg_id, claim)

        monkeypatch.setattr(slow.webhooks, "deliver", stalled)
        assert slow.process(row) == 0
    finally:
        receiver.close()
    assert len(receiver.calls) == 2  # both attempts reached the endpoint (at least once)...
    with api.ctx.engine.connect() as conn:
        (delivery,) = conn.execute(sa.select(webhook_deliveries)).all()
        pending = conn.execute(
            sa.select(outbox).where(outbox.c.kind == "webhook", outbox.c.done_at.is_(None))
        ).all()
    # ...but one was recorded, and it scheduled one next attempt.
    assert delivery.state == "pending" and delivery.attempts == 1
    assert len(pending) == 1 and pending[0].target == delivery.id
