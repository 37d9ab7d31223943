from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nascar_dfs.core.data.draftkings import (
    DKEntries,
    UndeclaredDebutantError,
    UnknownDriversError,
    closest_names,
    latest_teams,
    match_slate_drivers,
    read_dk_entries,
    read_dk_salaries,
    read_upload_csv,
    with_history_teams,
    write_dk_entries,
    write_upload_csv,
)
from nascar_dfs.core.data.entry_list import field_from_slate
from nascar_dfs.core.data.errors import DataValidationError

HEADER = "Position,Name + ID,Name,ID,Roster Position,Salary,Game Info,TeamAbbrev,AvgPointsPerGame"
GAME = "Cup Series Race 11/10/2024 03:00PM ET"


def _salary_rows(names: list[str], start_id: int = 40000000) -> list[str]:
    return [
        f"D,{name} ({start_id + i}),{name},{start_id + i},D,{11000 - 300 * i},{GAME},T{i % 5},{50 - i}.5"
        for i, name in enumerate(names)
    ]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bench_slate_reads_with_optional_columns(shared_data_dir: Path) -> None:
    slate = read_dk_salaries(shared_data_dir.parent / "bench" / "slate.csv")
    players = slate.players
    assert len(players) == 38
    assert players["salary"].dtype == "int64" and players["dk_id"].dtype == "int64"
    assert players["start"].notna().all() and sorted(players["start"]) == list(range(1, 39))
    # 44.1 percent in the file becomes a fraction
    first = players.iloc[0]
    assert first["ownership"] == pytest.approx(0.441) and first["name"] == "Driver 01"
    assert players["ownership"].between(0, 1).all()


def test_plain_dk_file_has_no_start_or_ownership(tmp_path: Path) -> None:
    slate = read_dk_salaries(
        _write(tmp_path / "DKSalaries.csv", [HEADER, *_salary_rows(["Kyle Larson", "Ty Gibbs"])])
    )
    assert slate.players["start"].isna().all() and slate.players["ownership"].isna().all()
    assert list(slate.players["salary"]) == [11000, 10700]
    assert slate.players["driver"].isna().all()


def test_salary_file_round_trips_through_pandas(tmp_path: Path, shared_data_dir: Path) -> None:
    original = read_dk_salaries(shared_data_dir.parent / "bench" / "slate.csv")
    copy = tmp_path / "copy.csv"
    pd.read_csv(shared_data_dir.parent / "bench" / "slate.csv").to_csv(copy, index=False)
    again = read_dk_salaries(copy)
    pd.testing.assert_frame_equal(original.players, again.players)


@pytest.mark.parametrize(
    ("edit", "row", "column"),
    [
        (lambda rows: [rows[0].replace(",Salary", ",Pay"), *rows[1:]], None, "Salary"),
        (lambda rows: [rows[0], rows[1], rows[2].replace(",10700,", ",lots,")], 3, "Salary"),
        (
            lambda rows: [
                rows[0],
                rows[1],
                rows[2].replace("(40000001),Ty Gibbs,40000001", "(40000000),Ty Gibbs,40000000"),
            ],
            3,
            "ID",
        ),
        (lambda rows: [rows[0], rows[1], rows[2].replace(",D,10700", ",FLEX,10700")], 3, "Roster Position"),
        (lambda rows: [rows[0], rows[1], rows[1].replace("40000000", "40000009")], 3, "Name"),
    ],
)
def test_broken_salary_files_name_row_and_column(tmp_path: Path, edit, row, column) -> None:
    rows = [HEADER, *_salary_rows(["Kyle Larson", "Ty Gibbs"])]
    path = _write(tmp_path / "DKSalaries.csv", edit(rows))
    with pytest.raises(DataValidationError) as caught:
        read_dk_salaries(path)
    assert (caught.value.file, caught.value.row, caught.value.column) == ("DKSalaries.csv", row, column)


def test_matching_uses_history_spelling(tmp_path: Path, shared_history) -> None:
    dk_names = ["Ricky Stenhouse Jr.", "Daniel Suárez", "John H. Nemechek", "Shane Van Gisbergen"]
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", [HEADER, *_salary_rows(dk_names)]))
    matched = match_slate_drivers(slate, shared_history.results["driver"].unique())
    assert list(matched.players["driver"]) == [
        "Ricky Stenhouse Jr", "Daniel Suarez", "John Hunter Nemechek", "Shane van Gisbergen",
    ]  # fmt: skip
    assert slate.players["driver"].isna().all()  # the input slate is not modified


def test_unknown_names_error_lists_every_one(tmp_path: Path, shared_history) -> None:
    names = ["Kyle Larson", "Nobody Atall", "Connor Zilisch", "Denny Hamlin"]
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", [HEADER, *_salary_rows(names)]))
    with pytest.raises(UnknownDriversError) as caught:
        match_slate_drivers(slate, shared_history.results["driver"].unique())
    assert caught.value.names == ("Nobody Atall", "Connor Zilisch")
    assert "Nobody Atall" in str(caught.value) and "Connor Zilisch" in str(caught.value)
    lenient = match_slate_drivers(slate, shared_history.results["driver"].unique(), allow_unknown=True)
    assert list(lenient.players["driver"].isna()) == [False, True, True, False]


def test_field_from_slate_uses_latest_teams_and_no_assumed_grid(tmp_path: Path, shared_history) -> None:
    names = ["Nobody Atall", "Kyle Larson", "Denny Hamlin"]
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", [HEADER, *_salary_rows(names)]))
    slate = match_slate_drivers(slate, shared_history.results["driver"].unique(), allow_unknown=True)
    field = field_from_slate(slate, shared_history, "2024-cup-phoenix-2")
    # no StartPos column: the grid is unknown (never salary order); recent starts go with the field
    assert field.drivers == ("Nobody Atall", "Kyle Larson", "Denny Hamlin")
    assert field.starts is None and not field.starts_known
    recent = field.recent_starts
    assert recent.shape == (3, 10) and np.isnan(recent[0]).all()  # the debutant has no start
    assert np.isfinite(recent[1]).all() and ((recent[1] > 0) & (recent[1] <= 1)).all()
    assert field.teams[0] == "T0" and field.manufacturers[0] == "unknown"
    assert (field.teams[1], field.manufacturers[1]) == ("Hendrick Motorsports", "Chevrolet")
    assert (field.teams[2], field.manufacturers[2]) == ("Joe Gibbs Racing", "Toyota")
    assert (field.track_type, field.laps) == ("short", 312)


def test_field_from_slate_follows_startpos(tmp_path: Path, shared_history) -> None:
    rows = [
        f"{HEADER},StartPos",
        *[f"{row},{s}" for row, s in zip(_salary_rows(["Kyle Larson", "Ty Gibbs"]), [2, 1], strict=True)],
    ]
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", rows))
    field = field_from_slate(slate, shared_history, "2024-cup-phoenix-2")
    assert field.drivers == ("Ty Gibbs", "Kyle Larson") and list(field.starts) == [1, 2]


def test_upload_csv_round_trip(tmp_path: Path) -> None:
    lineups = [[1, 2, 3, 4, 5, 6], [40000000, 40000001, 40000002, 40000003, 40000004, 40000009]]
    path = write_upload_csv(lineups, tmp_path / "upload.csv")
    assert path.read_text(encoding="utf-8").splitlines()[0] == "D,D,D,D,D,D"
    assert read_upload_csv(path) == lineups


def test_upload_csv_accepts_name_and_id_cells(tmp_path: Path) -> None:
    path = _write(tmp_path / "upload.csv", [
        "D,D,D,D,D,D,,Budget,FPPG",
        "Kyle Larson (11),Ty Gibbs (12),13,Daniel Suárez (14),A.J. Allmendinger (15),16,,49800,250.1",
    ])  # fmt: skip
    assert read_upload_csv(path) == [[11, 12, 13, 14, 15, 16]]


@pytest.mark.parametrize("lineup", [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 5, "x"]])
def test_invalid_lineup_is_rejected_and_nothing_written(tmp_path: Path, lineup) -> None:
    target = tmp_path / "upload.csv"
    with pytest.raises(ValueError, match="lineup 2"):
        write_upload_csv([[1, 2, 3, 4, 5, 6], lineup], target)
    assert not target.exists()


ENTRIES = [
    "Entry ID,Contest Name,Contest ID,Entry Fee,D,D,D,D,D,D,,Instructions",
    "4123456789,NASCAR $5 Double Up,170000001,$5,Kyle Larson (11),Ty Gibbs (12),13,14,15,16,,1. Locate",
    "4123456790,NASCAR $5 Double Up,170000001,$5,,,,,,,,2. Copy the ID",
    ",,,,,,,,,,,",
    ",,,,,,,,,,,Position,Name + ID,Name,ID,Roster Position,Salary",
    ",,,,,,,,,,,D,Kyle Larson (11),Kyle Larson,11,D,11000",
]


def test_dk_entries_ignore_trailing_instruction_columns_and_rows(tmp_path: Path) -> None:
    entries = read_dk_entries(_write(tmp_path / "DKEntries.csv", ENTRIES))
    assert [e.entry_id for e in entries.entries] == ["4123456789", "4123456790"]
    assert entries.entries[0].lineup == (11, 12, 13, 14, 15, 16)
    assert entries.entries[1].lineup is None
    assert entries.entries[0].entry_fee == "$5" and entries.entries[0].contest_id == "170000001"


def test_dk_entries_late_swap_round_trip(tmp_path: Path) -> None:
    entries = read_dk_entries(_write(tmp_path / "DKEntries.csv", ENTRIES))
    swapped = entries.with_lineups([[21, 22, 23, 24, 25, 26], [31, 32, 33, 34, 35, 36]])
    out = write_dk_entries(swapped, tmp_path / "DKEntries-upload.csv")
    again = read_dk_entries(out)
    assert isinstance(again, DKEntries)
    assert [e.lineup for e in again.entries] == [(21, 22, 23, 24, 25, 26), (31, 32, 33, 34, 35, 36)]
    assert [e.contest_name for e in again.entries] == ["NASCAR $5 Double Up"] * 2
    with pytest.raises(ValueError, match="2 entries"):
        entries.with_lineups([[1, 2, 3, 4, 5, 6]])


def test_dk_entries_with_bad_cell_names_row_and_column(tmp_path: Path) -> None:
    lines = [ENTRIES[0], ENTRIES[1].replace(",13,", ",Kyle Busch,")]
    with pytest.raises(DataValidationError) as caught:
        read_dk_entries(_write(tmp_path / "DKEntries.csv", lines))
    assert caught.value.row == 2 and "column 7" in str(caught.value.column)


def test_partly_filled_startpos_is_an_error(tmp_path: Path, shared_history) -> None:
    rows = _salary_rows(["Kyle Larson", "Ty Gibbs", "Denny Hamlin"])
    lines = [f"{HEADER},StartPos", f"{rows[0]},2", f"{rows[1]},", f"{rows[2]},1"]
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", lines))
    with pytest.raises(ValueError, match="Ty Gibbs"):
        field_from_slate(slate, shared_history, "2024-cup-phoenix-2")


def test_blank_team_abbrev_takes_the_history_teams(tmp_path: Path, shared_history) -> None:
    names = ["Kyle Larson", "William Byron", "Denny Hamlin", "Connor Zilisch"]
    rows = _salary_rows(names)
    rows[0] = rows[0].replace(",T0,", ",,")  # DraftKings leaves TeamAbbrev blank
    rows[3] = rows[3].replace(",T3,", ",,")
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", [HEADER, *rows]))
    assert slate.players["team"].iloc[0] == ""
    matched = match_slate_drivers(
        slate, shared_history.results["driver"].unique(), debutants=["Connor Zilisch"]
    )
    teamed = with_history_teams(matched, latest_teams(shared_history.results))
    teams = list(teamed.players["team"])
    # One naming for every team cap: Larson and Byron share Hendrick's cap, the debutant is alone.
    assert teams[0] == teams[1] == "Hendrick Motorsports" and teams[2] == "Joe Gibbs Racing"
    assert teams[3] == "Connor Zilisch (no team)"


def test_a_filled_team_abbrev_column_is_kept(tmp_path: Path, shared_history) -> None:
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", [HEADER, *_salary_rows(["Kyle Larson"])]))
    matched = match_slate_drivers(slate, shared_history.results["driver"].unique())
    assert list(with_history_teams(matched, latest_teams(shared_history.results)).players["team"]) == ["T0"]


def test_unknown_names_come_with_their_closest_history_names(tmp_path: Path, shared_history) -> None:
    names = ["Kyle Larsen", "Denny Hamlin", "Connor Zilisch"]
    slate = read_dk_salaries(_write(tmp_path / "DKSalaries.csv", [HEADER, *_salary_rows(names)]))
    known = shared_history.results["driver"].unique()
    with pytest.raises(UnknownDriversError) as caught:
        match_slate_drivers(slate, known)
    assert caught.value.suggestions["Kyle Larsen"][0] == "Kyle Larson"
    assert closest_names("Chase Eliot", known)[0] == "Chase Elliott"
    # Declared debutants pass; the typo still does not.
    with pytest.raises(UnknownDriversError) as caught:
        match_slate_drivers(slate, known, debutants=["Connor Zilisch"])
    assert caught.value.names == ("Kyle Larsen",)
    with pytest.raises(UndeclaredDebutantError, match="Conor Zilisch"):
        match_slate_drivers(slate, known, debutants=["Conor Zilisch"])


# --- read_dk_salary_rows: the slate's columns without pandas, the same values as read_dk_salaries ---

OWNERSHIP_HEADER = HEADER + ",StartPos,StdDev,Projected Ownership"


def _same_pool(path: Path) -> None:
    from nascar_dfs.core.data.draftkings import read_dk_salary_rows
    from nascar_dfs.core.optimizer.pool import pool_from_rows, pool_from_slate

    plain, framed = pool_from_rows(read_dk_salary_rows(path)), pool_from_slate(read_dk_salaries(path))
    assert plain.names == framed.names and plain.teams == framed.teams
    for field in ("dk_ids", "salaries", "projections"):
        values, expected = getattr(plain, field), getattr(framed, field)
        assert values.dtype == expected.dtype and values.tobytes() == expected.tobytes(), field
    if framed.ownership is None:
        assert plain.ownership is None
    else:
        assert plain.ownership is not None and plain.ownership.tobytes() == framed.ownership.tobytes()


def test_salary_rows_give_the_pool_of_the_packaged_and_bench_slates() -> None:
    from nascar_dfs.core.data.demo import DEMO_DIR
    from nascar_dfs_tests.conftest import BENCH_DATA

    _same_pool(Path(DEMO_DIR) / "DKSalaries.csv")
    _same_pool(BENCH_DATA / "slate.csv")


@pytest.mark.parametrize(
    "lines",
    [
        # plainly written: parsed without pandas
        [
            OWNERSHIP_HEADER,
            *(f"{r},{i + 1},12.25,{30 - i}.7" for i, r in enumerate(_salary_rows(["A B", "C D"]))),
        ],
        [HEADER, *_salary_rows(["A B", "C D", "E F"]), ""],
        # read by read_dk_salaries: a quoted cell, a blank ownership, 1e3, spaces around cells, CR LF
        [HEADER, '"D","A B (1)","A B",1,D,9000,g,T,20.5', "D,C D (2),C D,2,D,8000,g,T,19"],
        [OWNERSHIP_HEADER, *(f"{r},,,{'' if i else 10}" for i, r in enumerate(_salary_rows(["A B", "C D"])))],
        [HEADER, "D,A B (1),A B,1,D,1e3,g,T,20.5", "D,C D (2),C D,2,D, 8000 ,g,, 19.125 "],
        [HEADER + "\r", "D,A B (1),A B,1,D,9000,g,T,20.5\r", "D,C D (2),C D,2,D,8000,g,T,19.0000001\r"],
    ],
)
def test_salary_rows_give_the_pool_read_dk_salaries_gives(tmp_path: Path, lines: list[str]) -> None:
    _same_pool(_write(tmp_path / "DKSalaries.csv", lines))


@pytest.mark.parametrize(
    "row",
    [
        "D,C D (1),C D,1,D,8000,g,T,19",  # the first row's ID again
        "D,a b (2),a b,2,D,8000,g,T,19",  # the first row's driver again
        "D,C D (2),C D,2,D,0,g,T,19",
        "D,C D (2),C D,2,F,8000,g,T,19",
        "D,C D (2),C D,2,D,8000,g,T,",
        "D,C D (2),C D,2,D,8000,g,T,nan",
    ],
)
def test_salary_rows_refuse_what_read_dk_salaries_refuses(tmp_path: Path, row: str) -> None:
    from nascar_dfs.core.data.draftkings import read_dk_salary_rows

    path = _write(tmp_path / "DKSalaries.csv", [HEADER, "D,A B (1),A B,1,D,9000,g,T,20.5", row])
    with pytest.raises(DataValidationError) as expected:
        read_dk_salaries(path)
    with pytest.raises(DataValidationError) as got:
        read_dk_salary_rows(path)
    assert str(got.value) == str(expected.value)
