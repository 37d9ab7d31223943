"""A request's results are the ones its own run built: another run of the same race x spec that
materializes other lineups afterwards, or between two steps of the first run, changes neither the
first run's lineups nor its upload CSV, and the two always agree. Real Dagster runs in process (the
science is the stand-in of fakes.py, whose `first_lineup` knob makes a rebuild pick other lineups)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.config import Settings
from api.orchestration.dagster_launcher import DagsterLauncher
from api.orchestration.launcher import LauncherError
from api.services.keys import create_key
from nascar_dfs.core.data.demo import DEMO_DIR
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform import content_store, reads
from nascar_dfs.platform.codecs import TextCodec
from nascar_dfs.platform.jobs import LINEUP_JOB
from nascar_dfs.platform.plan import AssetGraph, request_lineups
from nascar_dfs.platform.slate_store import save_slate
from nascar_dfs.platform.tags import PARENT_RUN_ID
from nascar_dfs.platform.tags import PARTITION as PARTITION_TAG
from nascar_dfs_tests.platform.fakes import UPCOMING, FakeScience

SPEC = ConstraintSpec(lineups=3, scenarios=100)
PARTITION = f"{UPCOMING}|{SPEC.key}"
DEMO_SLATE = (DEMO_DIR / "DKSalaries.csv").read_bytes()


@pytest.fixture
def stored_here(storage_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's storage root (what the API reads) is the one the runs write to."""
    monkeypatch.setenv("NASCAR_DFS_STORAGE", str(storage_dir))
    return storage_dir


def _rebuild(defs: dg.Definitions, instance: dg.DagsterInstance, *assets: str, **tags: str) -> str:
    """One run of the lineup job over the partition, as a UI rebuild or another request makes it."""
    result = defs.resolve_job_def(LINEUP_JOB).execute_in_process(
        instance=instance,
        partition_key=PARTITION,
        asset_selection=[dg.AssetKey(a) for a in assets],
        tags=tags,
    )
    assert result.success
    return result.run_id


def _ids(built: reads.BuiltResults) -> list[frozenset[int]]:
    return [frozenset(lu.dk_ids) for lu in built.lineups.lineups]


def _csv_ids(text: str) -> list[frozenset[int]]:
    header, *rows = text.strip().splitlines()
    assert header.split(",")[:6] == ["D"] * 6
    return [frozenset(int(cell) for cell in row.split(",")[:6]) for row in rows]


def _first_request(defs: dg.Definitions, instance: dg.DagsterInstance, root: Path) -> str:
    _, runs = request_lineups(defs, instance, UPCOMING, SPEC, storage_root=root)
    return runs[-1].run_id  # the lineup run (the first is the race's calibration)


def test_a_rebuild_after_the_run_changes_neither_its_lineups_nor_its_csv(
    fake: FakeScience, fake_defs: dg.Definitions, registered: dg.DagsterInstance, stored_here: Path
) -> None:
    first = _first_request(fake_defs, registered, stored_here)
    before = reads.built_results(registered, UPCOMING, SPEC.key, first)

    fake.first_lineup = 5  # the second build picks other lineups (as a changed model would)
    second = _rebuild(fake_defs, registered, "lineups", "dk_upload_csv")

    after = reads.built_results(registered, UPCOMING, SPEC.key, first)
    other = reads.built_results(registered, UPCOMING, SPEC.key, second)
    assert _ids(other) != _ids(before)  # the rebuild did produce other lineups
    assert (after.run_id, _ids(after), after.upload_csv) == (first, _ids(before), before.upload_csv)
    assert _csv_ids(after.upload_csv) == _ids(after)
    assert _csv_ids(other.upload_csv) == _ids(other) and other.run_id == second
    # The partition's usual files (the UI's, the CLI's) are the newest build.
    assert [frozenset(lu.dk_ids) for lu in reads.stored_lineups(UPCOMING, SPEC.key).lineups] == _ids(other)
    assert reads.built_results(registered, UPCOMING, SPEC.key, None).run_id == second


def test_a_rebuild_between_two_steps_of_a_run_does_not_reach_its_csv(
    fake: FakeScience, fake_defs: dg.Definitions, registered: dg.DagsterInstance, stored_here: Path
) -> None:
    """The first run stores its lineups, another run rebuilds the partition, then the first run's
    retry writes the CSV: from the first run's lineups, not the newest file."""
    _first_request(fake_defs, registered, stored_here)
    fake.first_lineup = 10
    interrupted = _rebuild(fake_defs, registered, "lineups")
    fake.first_lineup = 20
    _rebuild(fake_defs, registered, "lineups", "dk_upload_csv")
    retry = _rebuild(fake_defs, registered, "dk_upload_csv", **{PARENT_RUN_ID: interrupted})

    built = reads.built_results(registered, UPCOMING, SPEC.key, retry)
    assert built.run_id == retry
    assert _csv_ids(built.upload_csv) == _ids(built)
    fake.first_lineup = 10
    expected = fake.portfolio(fake.read_slate(Path("x")), SPEC, None)  # type: ignore[arg-type]
    assert _ids(built) == [frozenset(lu.dk_ids) for lu in expected.lineups]


def test_the_api_stores_the_results_of_the_request_s_own_run(
    fake: FakeScience, fake_defs: dg.Definitions, registered: dg.DagsterInstance, stored_here: Path
) -> None:
    """What the API's reconciler copies into its own tables (DagsterLauncher.results) after another
    request's run of the same partition already finished."""
    launcher = DagsterLauncher(Settings(database_url="sqlite://", dagster_url="http://dagster.test"))
    launcher._instance = registered
    first = _first_request(fake_defs, registered, stored_here)
    fake.first_lineup = 5
    second = _rebuild(fake_defs, registered, "scenario_set", "lineups", "dk_upload_csv")

    mine, theirs = launcher.results(first), launcher.results(second)
    assert mine.lineups != theirs.lineups
    for results in (mine, theirs):
        ids = [frozenset(d["dk_id"] for d in lineup) for lineup in results.lineups]
        assert _csv_ids(results.upload_csv) == ids
    fake.first_lineup = 0
    expected = fake.portfolio(fake.read_slate(Path("x")), SPEC, None)  # type: ignore[arg-type]
    assert [frozenset(d["dk_id"] for d in lineup) for lineup in mine.lineups] == [
        frozenset(lu.dk_ids) for lu in expected.lineups
    ]


def test_a_run_that_rebuilt_no_result_gets_the_ones_it_was_planned_on(
    fake: FakeScience, fake_defs: dg.Definitions, registered: dg.DagsterInstance, stored_here: Path
) -> None:
    """A run that only refreshed the scenarios (its plan reused the lineups): its results are the
    build current when it was submitted, not one another run made after it."""
    first = _first_request(fake_defs, registered, stored_here)
    reusing = _rebuild(fake_defs, registered, "scenario_set")
    fake.first_lineup = 5
    _rebuild(fake_defs, registered, "lineups", "dk_upload_csv")

    built = reads.built_results(registered, UPCOMING, SPEC.key, reusing)
    assert built.run_id == first
    assert _ids(built) == _ids(reads.built_results(registered, UPCOMING, SPEC.key, first))


def test_a_run_without_results_of_its_own_is_a_launcher_error_naming_it(
    fake_defs: dg.Definitions, registered: dg.DagsterInstance, stored_here: Path
) -> None:
    launcher = DagsterLauncher(Settings(database_url="sqlite://", dagster_url="http://dagster.test"))
    launcher._instance = registered
    run = dg.DagsterRun(job_name=LINEUP_JOB, run_id=uuid.uuid4().hex, tags={"dagster/partition": PARTITION})
    registered.add_run(run)
    with pytest.raises(LauncherError, match=r"dk_upload_csv .* was never materialized"):
        launcher.results(run.run_id)


def test_builds_are_kept_by_content_for_the_retention_then_removed(tmp_path: Path) -> None:
    codec, parts = TextCodec(), [UPCOMING, SPEC.key]
    now = time.time()
    old = content_store.write_build(tmp_path, "dk_upload_csv", parts, codec, "D\n1\n", now=now)
    os.utime(old.path, (now - 10 * 3600, now - 10 * 3600))
    again = content_store.write_build(tmp_path, "dk_upload_csv", parts, codec, "D\n2\n", now=now)
    assert content_store.read_build(tmp_path, "dk_upload_csv", parts, old.digest, codec) == "D\n1\n"
    same = content_store.write_build(tmp_path, "dk_upload_csv", parts, codec, "D\n2\n", now=now)
    assert same == again  # identical builds share one file

    newest = content_store.write_build(
        tmp_path, "dk_upload_csv", parts, codec, "D\n3\n", retention_hours=5, now=now
    )
    with pytest.raises(FileNotFoundError, match="no longer stored"):
        content_store.read_build(tmp_path, "dk_upload_csv", parts, old.digest, codec)
    assert content_store.read_build(tmp_path, "dk_upload_csv", parts, again.digest, codec) == "D\n2\n"
    shared = tmp_path / "dk_upload_csv" / UPCOMING / f"{SPEC.key}.csv"
    assert shared.read_text() == "D\n3\n" and shared.samefile(newest.path)
    assert sorted(p.name for p in newest.path.parent.iterdir()) == sorted(
        [f"{again.digest}.csv", f"{newest.digest}.csv"]
    )
    newest.path.write_text("D\n4\n")  # altered after it was written
    with pytest.raises(content_store.ContentMismatchError):
        content_store.read_build(tmp_path, "dk_upload_csv", parts, newest.digest, codec)


class InProcessLauncher(DagsterLauncher):
    """The real launcher (plan, tags, status, results) with the webserver's part done here: the
    asset graph from the definitions, partitions added to the instance, each run executed in process
    when it is launched (so a test decides which run finishes when)."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        super().__init__(Settings(database_url="sqlite://", dagster_url="http://dagster.test"))
        self._instance = instance
        self.defs = defs

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        assert "assetNodes" in query, query  # the only query left once launches and partitions are here
        graph = AssetGraph.from_definitions(self.defs)
        nodes = [
            {
                "assetKey": {"path": asset.split("/")},
                "dependencyKeys": [{"path": p.split("/")} for p in sorted(graph.parents[asset])],
                "opVersion": graph.code_versions[asset],
                "jobNames": [job for job, assets in graph.job_assets.items() if asset in assets],
            }
            for asset in graph.parents
        ]
        return {"assetNodes": nodes}

    def _add_partition(self, name: str, key: str) -> None:
        if not self.instance.has_dynamic_partition(name, key):
            self.instance.add_dynamic_partitions(name, [key])

    def _launch_run(self, job: str, assets: tuple[str, ...], tags: dict[str, str]) -> str:
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance,
            partition_key=tags[PARTITION_TAG],
            asset_selection=[dg.AssetKey(a) for a in assets],
            tags={k: v for k, v in tags.items() if not k.startswith(PARTITION_TAG)},
            raise_on_error=False,
        )
        return result.run_id


def test_through_the_api_each_request_gets_its_own_run_s_lineups_and_csv(
    fake: FakeScience,
    fake_defs: dg.Definitions,
    registered: dg.DagsterInstance,
    stored_here: Path,
    tmp_path: Path,
) -> None:
    """Alice's run finishes; before the API stores her results, Bob's request of the same race x
    spec (after a new model) rebuilds the partition with other lineups. Each gets their own run's
    lineups and CSV over HTTP, and each JSON matches its CSV."""
    save_slate(stored_here / "slates", UPCOMING, DEMO_SLATE)  # what the slate upload stores
    request_lineups(fake_defs, registered, UPCOMING, ConstraintSpec(lineups=2), storage_root=stored_here)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        background_worker=False,
        webhook_secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    app = create_app(settings, launcher=InProcessLauncher(fake_defs, registered))
    with TestClient(app, raise_server_exceptions=False) as client:
        ctx = app.state.ctx
        keys = {who: create_key(ctx.engine, who, "user", time.time()).secret_key for who in ("alice", "bob")}

        def submit(who: str) -> str:
            response = client.post(
                "/v1/lineup-requests",
                json={"race_id": UPCOMING, "spec": {"lineups": 3, "scenarios": 100}},
                headers={"Authorization": f"Bearer {keys[who]}", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 202, response.text
            return response.json()["id"]

        alice = submit("alice")
        ctx.worker.relay.relay()  # her lineup run runs to success; its results are not stored yet
        calibration = fake_defs.resolve_job_def("calibration_job")
        assert calibration.execute_in_process(
            instance=registered, partition_key=UPCOMING, asset_selection=[dg.AssetKey("calibrated_model")]
        ).success  # a new model: the next request of the partition rebuilds it
        fake.first_lineup = 5
        bob = submit("bob")
        ctx.worker.relay.relay()
        ctx.worker.reconciler.reconcile()

        got: dict[str, list[frozenset[int]]] = {}
        spec_keys: set[str] = set()
        for who, request_id in (("alice", alice), ("bob", bob)):
            auth = {"Authorization": f"Bearer {keys[who]}"}
            status = client.get(f"/v1/lineup-requests/{request_id}", headers=auth).json()
            assert status["status"] == "succeeded", status
            spec_keys.add(status["spec_key"])
            lineups = client.get(f"/v1/lineup-requests/{request_id}/lineups", headers=auth).json()
            csv_text = client.get(f"/v1/lineup-requests/{request_id}/dk-upload.csv", headers=auth).text
            ids = [frozenset(d["dk_id"] for d in lu["drivers"]) for lu in lineups["lineups"]]
            assert _csv_ids(csv_text) == ids
            got[who] = ids
    assert len(spec_keys) == 1 and got["alice"] != got["bob"]  # one partition, two builds
    slate = fake.read_slate(Path("x"))
    for who, first in (("alice", 0), ("bob", 5)):
        fake.first_lineup = first
        built = fake.portfolio(slate, SPEC, None)  # type: ignore[arg-type]
        assert got[who] == [frozenset(lu.dk_ids) for lu in built.lineups], who
