"""Where an upcoming race's starting grid comes from: an uploaded lineup, the slate's StartPos, or
nowhere (then it is unknown and simulated, never salary order); a broken StartPos names its cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from nascar_dfs.core.data.draftkings import match_slate_drivers, read_dk_salaries
from nascar_dfs.core.data.entry_list import field_from_slate
from nascar_dfs.core.data.errors import DataValidationError

HEADER = "Position,Name + ID,Name,ID,Roster Position,Salary,Game Info,TeamAbbrev,AvgPointsPerGame"
GAME = "Cup Series Race 11/10/2024 03:00PM ET"
NAMES = ["Kyle Larson", "Ty Gibbs", "Denny Hamlin"]
RACE = "2024-cup-phoenix-2"


def _slate(folder: Path, starts: list[str] | None = None):
    header = HEADER + (",StartPos" if starts is not None else "")
    rows = [
        f"D,{name} ({40000000 + i}),{name},{40000000 + i},D,{11000 - 300 * i},{GAME},T{i},{50 - i}.5"
        + (f",{starts[i]}" if starts is not None else "")
        for i, name in enumerate(NAMES)
    ]
    path = folder / "DKSalaries.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return read_dk_salaries(path)


def test_an_uploaded_lineup_sets_the_grid(tmp_path: Path, shared_history) -> None:
    slate = match_slate_drivers(_slate(tmp_path), shared_history.results["driver"].unique())
    field = field_from_slate(
        slate, shared_history, RACE, starts={"ty gibbs": 1, "Denny Hamlin": 2, "Kyle Larson": 3}
    )
    assert field.drivers == ("Ty Gibbs", "Denny Hamlin", "Kyle Larson") and list(field.starts) == [1, 2, 3]


def test_a_lineup_of_the_whole_race_keeps_its_order_over_the_slates_drivers(
    tmp_path: Path, shared_history
) -> None:
    """The lineup lists every car; the slate here holds three: they keep its order, as 1..3."""
    slate = match_slate_drivers(_slate(tmp_path), shared_history.results["driver"].unique())
    starts = {"Ty Gibbs": 4, "Chase Elliott": 1, "Denny Hamlin": 9, "Kyle Larson": 17}
    field = field_from_slate(slate, shared_history, RACE, starts=starts)
    assert field.drivers == ("Ty Gibbs", "Denny Hamlin", "Kyle Larson") and list(field.starts) == [1, 2, 3]


def test_a_lineup_missing_a_driver_is_refused(tmp_path: Path, shared_history) -> None:
    slate = _slate(tmp_path)
    with pytest.raises(ValueError, match="no position for 1 driver"):
        field_from_slate(slate, shared_history, RACE, starts={"Ty Gibbs": 1, "Kyle Larson": 2})


def test_without_any_grid_none_is_assumed(tmp_path: Path, shared_history) -> None:
    field = field_from_slate(_slate(tmp_path), shared_history, RACE)
    assert field.starts is None and field.drivers == tuple(NAMES)  # the slate's order, no invented grid
    assert field.recent_starts.shape == (3, 10)


@pytest.mark.parametrize(
    ("starts", "row", "fragment"), [(["2", "", "1"], 3, "empty for 1"), (["1", "5", "2"], 3, "1..3")]
)
def test_a_broken_startpos_names_file_row_and_column(tmp_path, shared_history, starts, row, fragment) -> None:
    with pytest.raises(DataValidationError) as caught:
        field_from_slate(_slate(tmp_path, starts), shared_history, RACE)
    assert (caught.value.file, caught.value.row, caught.value.column) == ("DKSalaries.csv", row, "StartPos")
    assert fragment in str(caught.value) and str(tmp_path) not in str(caught.value)
