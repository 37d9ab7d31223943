"""Keys, specs and stored files: what another process reads back."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.runs import SqliteRunStorage

from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.platform.codecs import ScenarioSetCodec
from nascar_dfs.platform.instance import POSTGRES_YAML, prepare_dagster_home
from nascar_dfs.platform.partitions import (
    PartitionKeyError,
    register_races,
    split_race_spec_key,
    validate_race_key,
    validate_spec_key,
)
from nascar_dfs.platform.spec_store import UnknownSpecError, load_spec, register_spec_partition
from nascar_dfs.platform.versions import scenario_seed


@pytest.mark.parametrize("key", ["2024-cup-phoenix-2", "a", "2026-cup-chicago-street-1"])
def test_race_keys_of_the_shared_layout_are_accepted(key):
    assert validate_race_key(key) == key


@pytest.mark.parametrize("key", ["", "2024|cup", "a/b", "A-b", "a,b", "x" * 65, "2024 cup"])
def test_race_keys_that_would_break_paths_or_multi_keys_are_refused(key):
    with pytest.raises(PartitionKeyError):
        validate_race_key(key)


@pytest.mark.parametrize(
    "key", ["0123456789ABCDEF", "0123456789abcde", "0123456789abcdefa", "../../etc/pass"]
)
def test_spec_keys_must_be_16_lowercase_hex(key):
    with pytest.raises(PartitionKeyError):
        validate_spec_key(key)


def test_a_registered_spec_is_recovered_from_its_partition_key(instance, tmp_path):
    spec = ConstraintSpec(lineups=5, locks=["Kyle Larson"], scenarios=500)

    key = register_spec_partition(instance, tmp_path, spec)

    assert key == spec.key and instance.has_dynamic_partition("spec", key)
    assert load_spec(tmp_path, key) == spec
    assert register_spec_partition(instance, tmp_path, spec) == key  # idempotent


def test_an_unregistered_or_altered_spec_file_is_an_error(tmp_path):
    spec = ConstraintSpec(lineups=5)
    with pytest.raises(UnknownSpecError, match="never registered"):
        load_spec(tmp_path, spec.key)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / f"{spec.key}.json").write_text(ConstraintSpec(lineups=6).canonical_json())
    with pytest.raises(UnknownSpecError, match="altered"):
        load_spec(tmp_path, spec.key)


def test_multi_partition_keys_split_back_into_race_and_spec():
    key = dg.MultiPartitionKey({"race": "2024-cup-phoenix-2", "spec": "0123456789abcdef"})
    assert split_race_spec_key(key) == ("2024-cup-phoenix-2", "0123456789abcdef")
    assert split_race_spec_key(str(key)) == ("2024-cup-phoenix-2", "0123456789abcdef")


def test_registering_races_adds_only_the_missing_ones(instance):
    assert register_races(instance, ["2024-cup-dover-1", "2024-cup-atlanta-1"]) == [
        "2024-cup-atlanta-1",
        "2024-cup-dover-1",
    ]
    assert register_races(instance, ["2024-cup-dover-1"]) == []


def test_scenario_seed_is_stable_and_depends_on_race_spec_and_model():
    seed = scenario_seed("r", "0123456789abcdef", "m1")
    assert seed == scenario_seed("r", "0123456789abcdef", "m1")
    others = {
        scenario_seed("r2", "0123456789abcdef", "m1"),
        scenario_seed("r", "0123456789abcdee", "m1"),
        scenario_seed("r", "0123456789abcdef", "m2"),
    }
    assert len(others | {seed}) == 4


def test_scenario_set_file_round_trips_every_field(tmp_path):
    rng = np.random.default_rng(1)
    n, d = 4, 3
    original = ScenarioSet(
        race_id="r", drivers=("A", "B", "C"), starts=np.array([1, 2, 3]),
        finish=np.array([[1, 2, 3]] * n, dtype=np.int16), dnf=np.zeros((n, d), bool),
        laps_completed=np.full((n, d), 100, np.int32), laps_led=np.array([[100, 0, 0]] * n, np.int32),
        fastest_laps=np.array([[50, 30, 10]] * n, np.int32), green_laps=np.full(n, 90, np.int32),
        dk_points=rng.random((n, d)).astype(np.float32), seed=7, draws=5, rejection_rate=0.2,
    )  # fmt: skip
    path = tmp_path / "s.npz"

    ScenarioSetCodec().write(original, path)
    back = ScenarioSetCodec().read(path)

    assert (back.race_id, back.drivers, back.seed, back.draws, back.rejection_rate) == (
        "r",
        ("A", "B", "C"),
        7,
        5,
        0.2,
    )
    np.testing.assert_array_equal(back.dk_points, original.dk_points)
    assert back.finish.dtype == np.int16
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temp file left behind


def test_instance_home_is_sqlite_by_default_and_postgres_when_the_env_says_so(tmp_path):
    sqlite_home = prepare_dagster_home({}, cwd=tmp_path)
    assert sqlite_home == tmp_path / "var" / "dagster_home"
    # The embedded default: SQLite files under the instance folder itself.
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(sqlite_home))) as instance:
        assert isinstance(instance.run_storage, SqliteRunStorage)
    assert (sqlite_home / "history" / "runs.db").is_file()

    pg_env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "u",
              "DAGSTER_PG_PASSWORD": "p", "DAGSTER_PG_DB": "d"}  # fmt: skip
    pg_home = prepare_dagster_home(pg_env, cwd=tmp_path)
    assert pg_home == tmp_path / "var" / "dagster_home_pg"
    assert (pg_home / "dagster.yaml").read_text() == POSTGRES_YAML.read_text()

    with pytest.raises(ValueError, match="DAGSTER_PG_PASSWORD"):
        prepare_dagster_home({"DAGSTER_PG_HOST": "h"}, cwd=tmp_path)
