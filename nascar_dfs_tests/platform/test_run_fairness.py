"""Fairness between owners (issue 19, item 9): every instance configuration the platform ships
limits one owner's runs (the `nascar/owner` tag of nascar_dfs/platform/tags.py, per unique value)
to fewer than the instance's run slots, so one user cannot hold the machine; checked with
Dagster's own queue logic (the counter its run coordinator uses to dequeue) on each file."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._utils.tags import TagConcurrencyLimitsCounter

from api.core.config import Settings
from nascar_dfs.platform.tags import OWNER, REQUEST_ID

REPO = Path(__file__).resolve().parents[2]
INSTANCES = ["dagster.yaml", "deploy/postgres/dagster.yaml", "deploy/k8s/dagster.yaml"]


def _run(owner: str, n: int, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    tags = {OWNER: owner, REQUEST_ID: f"{owner}-{n}", "nascar/kind": "lineups"}
    return dg.DagsterRun(job_name="lineup_job", run_id=f"{owner}-{n}", tags=tags, status=status)


@pytest.mark.parametrize("path", INSTANCES)
def test_one_owner_cannot_take_every_run_slot(path: str) -> None:
    runs = yaml.safe_load((REPO / path).read_text())["concurrency"]["runs"]
    slots, limits = runs["max_concurrent_runs"], runs["tag_concurrency_limits"]
    (owner_limit,) = [
        lim["limit"]
        for lim in limits
        if lim["key"] == OWNER and lim.get("value") == {"applyLimitPerUniqueValue": True}
    ]
    assert 1 <= owner_limit < slots
    # alice holds her share; her next run waits in the queue, bob's starts.
    started = [_run("alice", i, dg.DagsterRunStatus.STARTED) for i in range(owner_limit)]
    counter = TagConcurrencyLimitsCounter(limits, started)
    assert counter.is_blocked(_run("alice", 99, dg.DagsterRunStatus.NOT_STARTED))
    assert not counter.is_blocked(_run("bob", 0, dg.DagsterRunStatus.NOT_STARTED))


def test_the_active_run_cap_is_below_the_local_run_slots() -> None:
    """A key's unfinished requests (the API's cap) fit in fewer slots than the instance has."""
    runs = yaml.safe_load((REPO / "dagster.yaml").read_text())["concurrency"]["runs"]
    owner_limit = next(lim["limit"] for lim in runs["tag_concurrency_limits"] if lim["key"] == OWNER)
    assert min(Settings().active_runs_per_key, owner_limit) < runs["max_concurrent_runs"]
