"""Small data folders in the real shared layout for tests that break them: three real races of every
shared file, copied to a temp folder (the shared folder itself is read-only and never copied whole)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SMALL_RACES = ("2021-cup-talladega-2", "2022-cup-bristol-dirt-1", "2024-cup-phoenix-2")
FILES = ("races.csv", "cup_results.csv", "loop_data.csv", "tracks.csv", "track_configurations.csv")


def small_real_folder(shared: Path, out: Path, races: tuple[str, ...] = SMALL_RACES) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        table = pd.read_csv(shared / name, dtype=str, keep_default_na=False)
        if "race_id" in table.columns:
            table = table[table["race_id"].isin(races)]
        table.to_csv(out / name, index=False)
    return out


def set_result(folder: Path, race: str, nth: int, column: str, value: str) -> int:
    """Set one cell of the race's nth row of cup_results.csv; returns its spreadsheet row."""
    results = pd.read_csv(folder / "cup_results.csv", dtype=str, keep_default_na=False)
    position = int(np.flatnonzero(results["race_id"] == race)[nth])
    results.loc[results.index[position], column] = value
    results.to_csv(folder / "cup_results.csv", index=False)
    return position + 2


def result_cell(folder: Path, race: str, nth: int, column: str) -> str:
    results = pd.read_csv(folder / "cup_results.csv", dtype=str, keep_default_na=False)
    return str(results.loc[results["race_id"] == race, column].iloc[nth])
