"""`POST /v1/lineup-requests/{id}/reoptimize` in process: a succeeded request's DKEntries.csv with a
driver out comes back re-optimized by a real Dagster run of `reoptimized_entries` (in this process,
on an ephemeral instance, with the platform tests' stand-in science: the lineup request itself is
driven by the fake launcher, and the in-process launcher below stands in for the webserver hop only;
the real webserver + daemon + science run in test_reoptimize_e2e.py). Bad files, unknown names,
another owner's request and a request not succeeded are problems naming what is wrong."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from api.core.db import lineup_requests
from api.orchestration.launcher import ReoptimizationLaunch, RunState
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import science
from nascar_dfs.platform.failures import step_failure_message
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.jobs import REOPTIMIZE_JOB
from nascar_dfs.platform.partitions import register_races
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.reoptimizations import Changes, Reoptimization, register_reoptimization
from nascar_dfs.platform.storage import resolve_base_path
from nascar_dfs_tests.platform.conftest import SCIENCE_FUNCTIONS, make_defs
from nascar_dfs_tests.platform.fakes import DRIVERS, RACES, FakeScience, write_calendar

from ..conftest import RACE, Api, Clock
from ..fakes import FakeLauncher
from ..helpers import assert_problem, body, fake_results, submit
from ..orchestration.test_webhooks_restart import Receiver, plain_http_to_loopback, webhook_secret

HEADER = "Entry ID,Contest Name,Contest ID,Entry Fee,D,D,D,D,D,D"
LINEUPS = [[1001, 1002, 1003, 1004, 1005, 1006], [1001, 1003, 1004, 1005, 1006, 1007],
           [1002, 1003, 1004, 1005, 1006, 1008]]  # fmt: skip


def entries_csv(lineups: list[list[int]] = LINEUPS) -> str:
    rows = [HEADER] + [
        f"{4_100_000 + i},NASCAR Cup $5 Classic,18{i}77,$5," + ",".join(map(str, lu))
        for i, lu in enumerate(lineups)
    ]
    return "\n".join(rows) + "\n"


class InProcessDagster(FakeLauncher):
    """The fake launcher, except that a re-optimization is a real run of the platform's job in this
    process (inputs stored, partition added, `reoptimize_job` executed), read back as Dagster left it."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, storage: Path) -> None:
        super().__init__(races=[RACE])
        self.defs, self.instance, self.storage = defs, instance, storage

    def launch_reoptimization(self, request: ReoptimizationLaunch) -> str:
        run_id = super().launch_reoptimization(request)
        inputs = Reoptimization(
            request.race_id, request.spec_key, request.entries_csv, Changes.from_dict(request.changes)
        )
        key = register_reoptimization(self.instance, self.storage, inputs)
        job = self.defs.resolve_job_def(REOPTIMIZE_JOB)
        result = job.execute_in_process(instance=self.instance, partition_key=key, raise_on_error=False)
        if result.success:
            self.runs[run_id].entries_csv = read_output(self.storage, "reoptimized_entries", [key])
            self.set_state(run_id, RunState.SUCCESS)
        else:
            self.set_state(
                run_id, RunState.FAILURE, error_message=step_failure_message(self.instance, result.run_id)
            )
        return run_id


@pytest.fixture
def stack(make_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Api, FakeScience]]:
    yield from _stack(make_api, tmp_path, monkeypatch)


@pytest.fixture
def hooked_stack(
    make_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, FakeScience]]:
    """The stack with webhooks to a loopback receiver, on real time (standardwebhooks' verify refuses
    a timestamp more than 5 minutes from now)."""
    plain_http_to_loopback(monkeypatch)
    yield from _stack(make_api, tmp_path, monkeypatch, webhook_allow_private=True, clock=Clock(time.time()))


def _stack(
    make_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **api_settings
) -> Iterator[tuple[Api, FakeScience]]:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    write_calendar(data_dir, RACES, RACES[:4], {})
    fake = FakeScience(data_dir=data_dir)
    for name in SCIENCE_FUNCTIONS:
        monkeypatch.setattr(science, name, getattr(fake, name))
    from nascar_dfs.platform import codecs, io_manager

    monkeypatch.setitem(io_manager.CODECS, "calibrated_model", codecs.PickleCodec())
    storage = resolve_base_path(None)  # NASCAR_DFS_STORAGE, set by make_api
    defs = make_defs(storage, data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        register_races(instance, [RACE])
        launcher = InProcessDagster(defs, instance, storage)
        api = make_api(launcher=launcher, **api_settings)
        api.built = lambda spec: request_lineups(defs, instance, RACE, spec, storage_root=storage)  # type: ignore[attr-defined]
        yield api, fake


def succeeded_request(api: Api, headers: dict[str, str], callback_url: str | None = None) -> dict:
    """A lineup request driven to succeeded, its lineups built by the platform in this process."""
    created = submit(api, headers, {**body(), "callback_url": callback_url} if callback_url else None).json()
    api.worker.run_once()
    with api.ctx.engine.connect() as conn:
        spec_json = conn.execute(
            sa.select(lineup_requests.c.spec_json).where(lineup_requests.c.id == created["id"])
        ).scalar_one()
    api.built(ConstraintSpec.model_validate_json(spec_json))  # type: ignore[attr-defined]
    run = api.launcher.only_run_for(created["id"])
    api.launcher.succeed(run.run_id, fake_results(3))
    api.worker.run_once()
    assert (
        api.client.get(f"/v1/lineup-requests/{created['id']}", headers=headers).json()["status"]
        == "succeeded"
    )
    return created


def post(api: Api, headers: dict[str, str], request_id: str, payload: dict, key: str | None = None):
    return api.client.post(
        f"/v1/lineup-requests/{request_id}/reoptimize",
        json=payload,
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def test_a_driver_out_is_re_optimized_by_a_dagster_run_and_served_as_dk_entries(stack) -> None:
    api, _ = stack
    alice = api.key("alice")
    created = succeeded_request(api, alice)
    payload = {"entries_csv": entries_csv(), "out": [DRIVERS[0]]}
    key = uuid.uuid4().hex

    accepted = post(api, alice, created["id"], payload, key)

    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["status"] == "queued" and job["entries"] == 3
    assert accepted.headers["Location"] == f"/v1/lineup-requests/{created['id']}/reoptimizations/{job['id']}"
    assert int(accepted.headers["Retry-After"]) >= 1
    early = api.client.get(f"{accepted.headers['Location']}/dk-entries.csv", headers=alice)
    assert_problem(early, 409)
    api.worker.run_once()  # the relay launches the run, the reconciler reads it
    done = api.client.get(accepted.headers["Location"], headers=alice).json()
    assert done["status"] == "succeeded", done
    csv_resp = api.client.get(done["result"]["dk_entries_csv"], headers=alice)
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_resp.text)))
    original = list(csv.reader(io.StringIO(entries_csv())))
    assert rows[0] == original[0]
    assert [r[:4] for r in rows[1:]] == [r[:4] for r in original[1:]]  # ids and contest columns
    for row in rows[1:]:
        ids = [int(c) for c in row[4:10]]
        assert 1001 not in ids and len(set(ids)) == 6 and set(ids) <= set(range(1001, 1011))
    # The same key and body replays the job, never a second run.
    again = post(api, alice, created["id"], payload, key)
    assert again.status_code == 202 and again.json()["id"] == job["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.launcher.reoptimizations) == 1
    reused = post(api, alice, created["id"], {**payload, "out": [DRIVERS[1]]}, key)
    assert assert_problem(reused, 422)["type"].endswith("idempotency-key-reused")


def test_bad_input_is_a_problem_naming_it(stack) -> None:
    api, _ = stack
    alice = api.key("alice")
    created = succeeded_request(api, alice)

    unknown = post(api, alice, created["id"], {"entries_csv": entries_csv(), "out": ["Nobody Atall"]})
    assert "Nobody Atall" in assert_problem(unknown, 422)["detail"]
    foreign = entries_csv([[1001, 1002, 1003, 1004, 1005, 777]])
    bad_id = post(api, alice, created["id"], {"entries_csv": foreign, "out": [DRIVERS[0]]})
    problem = assert_problem(bad_id, 422)
    assert "777" in problem["detail"] and "4100000" in problem["detail"]
    not_csv = post(api, alice, created["id"], {"entries_csv": "Entry,Contest\n1,2\n", "out": [DRIVERS[0]]})
    assert "header must start with Entry ID" in assert_problem(not_csv, 422)["detail"]
    nothing = post(api, alice, created["id"], {"entries_csv": entries_csv()})
    assert "no driver out" in assert_problem(nothing, 422)["detail"]
    url = f"/v1/lineup-requests/{created['id']}/reoptimize"
    no_key = api.client.post(url, json={"entries_csv": entries_csv(), "out": [DRIVERS[0]]}, headers=alice)
    assert no_key.status_code in (400, 422)
    assert api.launcher.reoptimizations == []  # nothing was launched


def test_another_owners_request_is_404_and_an_unfinished_one_409(stack) -> None:
    api, _ = stack
    alice, bob = api.key("alice"), api.key("bob")
    created = succeeded_request(api, alice)
    payload = {"entries_csv": entries_csv(), "out": [DRIVERS[0]]}

    assert_problem(post(api, bob, created["id"], payload), 404)
    job = post(api, alice, created["id"], payload)
    assert job.status_code == 202
    assert_problem(api.client.get(job.headers["Location"], headers=bob), 404)
    pending = submit(api, alice).json()
    problem = assert_problem(post(api, alice, pending["id"], payload), 409)
    assert problem["type"].endswith("run-not-finished") and "queued" in problem["detail"]


def test_a_finished_re_optimization_is_a_signed_webhook_to_the_requests_callback(hooked_stack) -> None:
    api, _ = hooked_stack
    alice = api.key("alice")
    secret = webhook_secret(api, alice)
    receiver = Receiver([200])
    try:
        created = succeeded_request(api, alice, callback_url=receiver.url)
        api.worker.run_once()  # the request's own webhook
        job = post(api, alice, created["id"], {"entries_csv": entries_csv(), "out": [DRIVERS[0]]}).json()
        api.worker.run_once()  # launch and follow: succeeded, its webhook staged
        api.worker.run_once()  # delivered
    finally:
        receiver.close()
    events = [Webhook(secret).verify(raw, headers) for headers, raw in receiver.calls]
    assert [e["type"] for e in events] == ["lineup_request.succeeded", "reoptimization.succeeded"]
    data = events[1]["data"]
    assert data["id"] == job["id"] and data["request_id"] == created["id"]
    csv_url = data["links"]["dk_entries_csv"]
    assert csv_url.endswith(f"/v1/lineup-requests/{created['id']}/reoptimizations/{job['id']}/dk-entries.csv")
    served = api.client.get(csv_url[csv_url.index("/v1/") :], headers=alice)
    assert served.status_code == 200 and served.text.startswith("Entry ID")
    assert json.loads(receiver.calls[1][1])["data"]["status"] == "succeeded"
