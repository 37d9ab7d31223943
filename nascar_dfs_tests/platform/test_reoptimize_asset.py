"""The re-optimization run in Dagster (in process, stand-in science): a finished request's
DKEntries.csv with a driver out comes back with him in no entry, ids and contests unchanged; a driver
sent to the rear re-simulates the race; inputs never stored are no partition."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.platform.io_manager import read_output
from nascar_dfs.platform.jobs import REOPTIMIZE_JOB
from nascar_dfs.platform.materializations import latest_materialization
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.reoptimizations import (
    REOPTIMIZATION,
    Changes,
    Reoptimization,
    ReoptimizationInputError,
    check_inputs,
    parse_entries,
    register_reoptimization,
)
from nascar_dfs_tests.platform.fakes import DRIVERS, FakeScience

RACE = "2024-cup-phoenix-2"
SPEC = ConstraintSpec(lineups=3, scenarios=100, objective="mean")
HEADER = "Entry ID,Contest Name,Contest ID,Entry Fee,D,D,D,D,D,D"


def _entries_csv(lineups: list[list[int]]) -> str:
    rows = [HEADER] + [
        f"{9100 + i},NASCAR Classic [$5],18800{i},$5," + ",".join(map(str, lineup))
        for i, lineup in enumerate(lineups)
    ]
    return "\n".join(rows) + "\n"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))[1:]


@pytest.fixture
def built(fake_defs, registered, storage_dir: Path) -> dg.DagsterInstance:
    request_lineups(fake_defs, registered, RACE, SPEC, storage_root=storage_dir)
    return registered


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, key: str) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(REOPTIMIZE_JOB)
    return job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)


def test_the_out_driver_is_in_no_entry_and_ids_and_contests_are_unchanged(
    fake_defs, built, storage_dir: Path, fake: FakeScience
) -> None:
    lineups = [[1001, 1002, 1003, 1004, 1005, 1006], [1001, 1002, 1003, 1004, 1005, 1007],
               [1002, 1003, 1004, 1005, 1006, 1008]]  # fmt: skip
    text = _entries_csv(lineups)
    request = Reoptimization(RACE, SPEC.key, text, Changes(out=(DRIVERS[0],)))
    key = register_reoptimization(built, storage_dir, request)
    simulated_before = len(fake.simulations)

    result = _run(fake_defs, built, key)

    assert result.success
    out_text = read_output(storage_dir, "reoptimized_entries", [key])
    rows = _rows(out_text)
    original = _rows(text)
    assert [r[:4] for r in rows] == [r[:4] for r in original]  # entry ids and contest columns
    for row in rows:
        ids = [int(c) for c in row[4:10]]
        assert 1001 not in ids and len(set(ids)) == 6
    assert rows[2][4:10] == original[2][4:10]  # the entry without the out driver is untouched
    assert len(fake.simulations) == simulated_before  # no new grid: the stored scenarios are used
    meta = latest_materialization(built, "reoptimized_entries", key)
    assert meta is not None and meta.value("entries_changed") == 2 and meta.value("resimulated") is False


def test_a_driver_sent_to_the_rear_re_simulates_the_race(fake_defs, built, storage_dir, fake) -> None:
    text = _entries_csv([[1001, 1002, 1003, 1004, 1005, 1006]])
    request = Reoptimization(RACE, SPEC.key, text, Changes(out=(DRIVERS[1],), to_rear=(DRIVERS[2],)))
    key = register_reoptimization(built, storage_dir, request)
    simulated_before = len(fake.simulations)

    assert _run(fake_defs, built, key).success

    assert len(fake.simulations) == simulated_before + 1
    meta = latest_materialization(built, "reoptimized_entries", key)
    assert meta is not None and meta.value("resimulated") is True
    assert 1002 not in [int(c) for c in _rows(read_output(storage_dir, "reoptimized_entries", [key]))[0][4:]]


def test_the_key_is_the_content_and_the_inputs_exist_before_the_partition(built, storage_dir) -> None:
    text = _entries_csv([[1001, 1002, 1003, 1004, 1005, 1006]])
    one = Reoptimization(RACE, SPEC.key, text, Changes(out=(DRIVERS[0],)))
    same = Reoptimization(RACE, SPEC.key, text, Changes(out=(DRIVERS[0],)))
    other = Reoptimization(RACE, SPEC.key, text, Changes(out=(DRIVERS[1],)))
    assert one.key == same.key != other.key
    key = register_reoptimization(built, storage_dir, one)
    assert built.get_dynamic_partitions(REOPTIMIZATION) == [key]
    assert (storage_dir / "reoptimizations" / f"{key}.csv").read_text() == text


def test_unknown_names_and_ids_are_each_named(fake) -> None:
    slate = fake.read_slate(Path("DKSalaries.csv"))
    entries = parse_entries(_entries_csv([[1001, 1002, 1003, 1004, 1005, 4242]]))
    with pytest.raises(ReoptimizationInputError) as caught:
        check_inputs(slate.players, entries, Changes(out=("Nobody Here",), to_rear=("Ghost Driver",)))
    problems = " | ".join(caught.value.problems)
    assert "4242" in problems and "Nobody Here" in problems and "Ghost Driver" in problems
    with pytest.raises(ReoptimizationInputError, match="header must start with"):
        parse_entries("Entry,Contest\n1,2\n")
