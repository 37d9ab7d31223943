"""Cancel races on PostgreSQL (issue 19, item 3): a cancel racing a success never reverts the
finished request (409, as the contract says), and a cancel after a launch that timed out once
Dagster had created the run terminates that run.

The launcher is the in-memory fake (fakes.py): its `crash_after_launch` is a launch whose answer
was lost after the run was created, which a real Dagster cannot be made to do on demand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from api.core.db import lineup_requests, outbox
from api.orchestration.launcher import RunState
from api.services.request_store import finish, load

from ..conftest import Api
from ..helpers import submit
from ..services.test_postgres import pg_api, pg_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.postgres


def _waiting_on_a_lock(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
        )


def test_a_cancel_racing_a_success_never_reverts_it(pg_api: Callable[..., Api]) -> None:  # noqa: F811
    api = pg_api()
    headers = api.key()
    rid = submit(api, headers).json()["id"]
    api.worker.run_pass()  # launched
    engine = api.ctx.engine
    answer: list = []
    with engine.connect() as conn:
        tx = conn.begin()
        req = load(conn, rid)
        # The reconciler finishing the request, its transaction not committed yet.
        assert finish(conn, req, "succeeded", api.clock(), api.ctx.worker.relay.webhooks)
        cancel = threading.Thread(
            target=lambda: answer.append(
                api.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=headers)
            )
        )
        cancel.start()
        deadline = time.monotonic() + 60
        while not _waiting_on_a_lock(engine):  # the cancel waits on the request's row
            assert cancel.is_alive() and time.monotonic() < deadline, answer
            time.sleep(0.05)
        tx.commit()
    cancel.join()
    (resp,) = answer
    assert resp.status_code == 409, resp.text
    assert resp.json()["type"].endswith("/run-already-finished")
    got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
    assert got["status"] == "succeeded" and not got["cancel_requested"]
    with engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(sa.select(outbox).where(outbox.c.target == rid))]
    assert "terminate" not in kinds


def test_a_cancel_after_a_timed_out_launch_terminates_the_run_dagster_created(
    pg_api: Callable[..., Api],  # noqa: F811
) -> None:
    api = pg_api()
    headers = api.key()
    rid = submit(api, headers).json()["id"]
    api.launcher.crash_after_launch = True  # the run is created, the answer lost
    api.worker.run_pass()
    run = api.launcher.only_run_for(rid)
    with api.ctx.engine.connect() as conn:
        assert load(conn, rid).dagster_run_id is None  # the API does not know the run
    resp = api.client.post(f"/v1/lineup-requests/{rid}/cancel", headers=headers)
    assert resp.status_code == 202 and resp.json()["status"] == "canceling"
    api.worker.run_pass()
    assert api.launcher.terminations == [run.run_id]  # found by its request tag, and stopped
    got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
    assert got["status"] == "canceling"  # not canceled while the run may still be going
    api.launcher.set_state(run.run_id, RunState.CANCELED)
    api.clock.advance(60)  # the launch's retry is due too: it launches nothing
    api.worker.run_pass()
    got = api.client.get(f"/v1/lineup-requests/{rid}", headers=headers).json()
    assert got["status"] == "canceled"
    assert len(api.launcher.launches) == 1
    with api.ctx.engine.connect() as conn:
        row = conn.execute(sa.select(lineup_requests).where(lineup_requests.c.id == rid)).one()
    assert row.dagster_run_id == run.run_id
