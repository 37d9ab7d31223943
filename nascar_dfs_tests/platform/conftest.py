from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform import codecs, io_manager, science
from nascar_dfs.platform.io_manager import NascarIOManager
from nascar_dfs.platform.partitions import register_races
from nascar_dfs.platform.resources import CheckSettings, FileStorage, NascarData
from nascar_dfs_tests.platform.fakes import COMPLETED, RACES, FakeScience, write_calendar

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

SCIENCE_FUNCTIONS = (
    "demo_data_dir", "load_history", "read_slate", "match_slate", "slate_field",
    "fit", "simulate", "portfolio", "score_finish", "score_candidates", "simulate_forecaster",
)  # fmt: skip


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    # In-memory storage: the platform logic under test is the same, without SQLite's fsyncs.
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_calendar(folder, RACES, COMPLETED, {})
    return folder


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> FakeScience:
    stand_in = FakeScience(data_dir=data_dir)
    for name in SCIENCE_FUNCTIONS:
        monkeypatch.setattr(science, name, getattr(stand_in, name))
    # The stand-in model has no save/load of its own.
    monkeypatch.setitem(io_manager.CODECS, "calibrated_model", codecs.PickleCodec())
    return stand_in


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    return tmp_path / "storage"


def make_defs(storage_dir: Path, data_dir: Path, **check_settings: float) -> dg.Definitions:
    storage = FileStorage(base_path=str(storage_dir))
    return build_definitions(
        {
            "storage": storage,
            "io_manager": NascarIOManager(storage=storage),
            "nascar_data": NascarData(data_dir=str(data_dir)),
            "check_settings": CheckSettings(**check_settings),
        }
    )


@pytest.fixture
def fake_defs(fake: FakeScience, storage_dir: Path, data_dir: Path) -> dg.Definitions:
    return make_defs(storage_dir, data_dir)


@pytest.fixture
def registered(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    register_races(instance, RACES)
    return instance


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Beta APIs are used on purpose (data versions, multi-to-single mapping); see definitions.py.
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("ignore::dagster.BetaWarning"))
        item.add_marker(pytest.mark.filterwarnings("ignore::dagster.PreviewWarning"))


@pytest.fixture
def sqlite_instance() -> Iterator[dg.DagsterInstance]:
    """A real (SQLite, temporary DAGSTER_HOME) instance, for contexts that need an instance ref."""
    with dg.instance_for_test() as inst:
        yield inst
