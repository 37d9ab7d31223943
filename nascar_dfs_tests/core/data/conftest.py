from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nascar_dfs.core.data.history import RaceHistory, load_history

SMALL_RACES = ("2021-cup-talladega-2", "2022-cup-bristol-dirt-1", "2024-cup-phoenix-2")
FILES = ("races.csv", "cup_results.csv", "loop_data.csv", "tracks.csv", "track_configurations.csv")


@pytest.fixture(scope="session")
def shared_history(shared_data_dir: Path) -> RaceHistory:
    return load_history(shared_data_dir)


@pytest.fixture(scope="session")
def small_tables(shared_data_dir: Path) -> dict[str, pd.DataFrame]:
    """Three real races of each shared file, as text (read once per session)."""
    tables = {}
    for name in FILES:
        table = pd.read_csv(shared_data_dir / name, dtype=str, keep_default_na=False)
        if "race_id" in table.columns:
            table = table[table["race_id"].isin(SMALL_RACES)]
        tables[name] = table
    return tables


@pytest.fixture
def small_data_dir(small_tables: dict[str, pd.DataFrame], tmp_path: Path) -> Path:
    """Three real races in the shared layout, written to tmp_path so a test may break them."""
    out = tmp_path / "data"
    out.mkdir()
    for name, table in small_tables.items():
        table.to_csv(out / name, index=False)
    return out
