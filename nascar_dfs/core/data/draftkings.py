"""DraftKings NASCAR Classic files: DKSalaries.csv in, upload CSV and DKEntries.csv out.

Formats: shared DRAFTKINGS.md. Every reader validates at the edge and names file/row/column on error;
every writer replaces its file atomically.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.files import atomic_write_rows
from nascar_dfs.core.data.tables import first_bad_position, read_table, sheet_row
from nascar_dfs.core.names import name_key

# pandas is imported inside the functions that use it: `nascar-dfs optimize` needs only the slate's
# columns (read_dk_salary_rows) and the upload writer, and importing pandas was a quarter of its run.
if TYPE_CHECKING:
    import pandas as pd

ROSTER_SIZE = 6
ROSTER_POSITION = "D"
UPLOAD_HEADER: tuple[str, ...] = (ROSTER_POSITION,) * ROSTER_SIZE
ENTRY_COLUMNS: tuple[str, ...] = ("Entry ID", "Contest Name", "Contest ID", "Entry Fee")
SALARY_REQUIRED = {
    "Name": "str",
    "ID": "int",
    "Roster Position": "str",
    "Salary": "int",
    "TeamAbbrev": "optional_str",  # blank in real NASCAR slates: teams then come from the history
    "AvgPointsPerGame": "float",
}
SALARY_OPTIONAL = {
    "StartPos": "nullable_int",
    "Projected Ownership": "nullable_float",
    "StdDev": "nullable_float",
}
PLAYER_COLUMNS: tuple[str, ...] = (
    "name", "driver", "dk_id", "salary", "team", "avg_points", "start", "ownership", "std_dev",
)  # fmt: skip

_CELL_WITH_ID = re.compile(r"^\s*(?:(?P<name>.*?)\s*\(\s*(?P<paren>\d+)\s*\)|(?P<bare>\d+))\s*$")


SUGGESTIONS = 3  # closest history names offered for an unmatched slate name
_SUGGESTION_CUTOFF = 60.0  # rapidfuzz WRatio (0-100) below which a history name is no suggestion


class UnknownDriversError(ValueError):
    """Slate names with no match in the history; `names` lists every one of them and `suggestions`
    the closest history names of each (possibly none)."""

    def __init__(self, names: Sequence[str], source: str, suggestions: Mapping[str, Sequence[str]]) -> None:
        self.names = tuple(names)
        self.suggestions = {name: list(suggestions.get(name, ())) for name in self.names}
        listed = "; ".join(
            f"{name} (closest: {', '.join(self.suggestions[name]) or 'none'})" for name in self.names
        )
        super().__init__(f"{len(self.names)} driver(s) of slate {source} are not in the history: {listed}")


def closest_names(name: str, known: Iterable[str], limit: int = SUGGESTIONS) -> list[str]:
    """The history names closest to `name`, best first (compared on their matching keys)."""
    from rapidfuzz import fuzz, process, utils

    candidates = {str(k): name_key(str(k)) for k in known}
    found = process.extract(
        name_key(name),
        candidates,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=limit,
        score_cutoff=_SUGGESTION_CUTOFF,
    )
    return [choice_key for _key, _score, choice_key in found]


@dataclass(frozen=True)
class Slate:
    """One DraftKings slate.

    `players` columns: name (DK spelling), driver (history spelling once matched, else None), dk_id,
    salary (int), team (TeamAbbrev), avg_points (float), start (nullable Int64, from StartPos),
    ownership (nullable float fraction 0-1, from "Projected Ownership" percent), std_dev (nullable float).
    """

    players: pd.DataFrame
    source: str

    @property
    def dk_ids(self) -> np.ndarray:
        return self.players["dk_id"].to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class DKEntry:
    """One row of DKEntries.csv; `lineup` is None for an entry not filled yet."""

    entry_id: str
    contest_name: str
    contest_id: str
    entry_fee: str
    lineup: tuple[int, ...] | None


@dataclass(frozen=True)
class DKEntries:
    entries: tuple[DKEntry, ...]
    source: str

    def with_lineups(self, lineups: Sequence[Sequence[int]]) -> DKEntries:
        """The same entries with `lineups` filled in order (late swap); one lineup per entry."""
        if len(lineups) != len(self.entries):
            raise ValueError(f"{len(lineups)} lineups for {len(self.entries)} entries of {self.source}")
        filled = tuple(
            replace(entry, lineup=_checked_lineup(lineup, position))
            for position, (entry, lineup) in enumerate(zip(self.entries, lineups, strict=True))
        )
        return replace(self, entries=filled)


def read_dk_salaries(path: Path | str) -> Slate:
    """Read DKSalaries.csv (plus optional StartPos / Projected Ownership / StdDev columns)."""
    import pandas as pd

    file = Path(path)
    table = read_table(file, SALARY_REQUIRED, SALARY_OPTIONAL)
    if table.empty:
        raise DataValidationError(file.name, None, None, "the slate has no players")
    _require_roster_position(table, file.name)
    _reject_duplicate(table["ID"], file.name, "ID", "DraftKings ID {} appears twice")
    _reject_duplicate(table["Name"].map(name_key), file.name, "Name", "driver {} appears twice")
    _require_positive(table["Salary"], file.name, "Salary")
    _require_positive(table["ID"], file.name, "ID")
    start = table["StartPos"] if "StartPos" in table else pd.Series(pd.NA, index=table.index, dtype="Int64")
    ownership = _ownership_fraction(table, file.name)
    players = pd.DataFrame(
        {
            "name": table["Name"].astype(str),
            "driver": pd.Series([None] * len(table), index=table.index, dtype=object),
            "dk_id": table["ID"].astype("int64"),
            "salary": table["Salary"].astype("int64"),
            "team": table["TeamAbbrev"].fillna("").astype(str),
            "avg_points": table["AvgPointsPerGame"].astype("float64"),
            "start": start.astype("Int64"),
            "ownership": ownership,
            "std_dev": table["StdDev"] if "StdDev" in table else pd.Series(np.nan, index=table.index),
        }
    )
    return Slate(players=players.reset_index(drop=True), source=str(file))


@dataclass(frozen=True)
class SlateRows:
    """The slate columns a build needs, as plain tuples in file order (what `Slate.players` holds in
    its name, dk_id, salary, team, avg_points and ownership columns; ownership is None unless every
    driver has one)."""

    names: tuple[str, ...]
    dk_ids: tuple[int, ...]
    salaries: tuple[int, ...]
    teams: tuple[str, ...]
    avg_points: tuple[float, ...]
    ownership: tuple[float, ...] | None
    source: str


def read_dk_salary_rows(path: Path | str) -> SlateRows:
    """The values `read_dk_salaries` reads, without pandas, for a caller that needs only the columns
    (`nascar-dfs optimize`: importing pandas took 0.4 s of its 1.5 s).

    Only a plainly written file is parsed here: no quotes or carriage returns, no blank cells in
    typed columns, integers of digits, decimals of at most 9 + 6 digits (both parsers round those
    alike), no duplicates, every row as wide as the header. Anything else, including every file
    `read_dk_salaries` refuses, is read by `read_dk_salaries` itself, so errors stay its own.
    """
    file = Path(path)
    plain = _plain_salary_rows(file)
    if plain is not None:
        return plain
    players = read_dk_salaries(file).players
    ownership = players["ownership"]
    return SlateRows(
        names=tuple(str(n) for n in players["name"]),
        dk_ids=tuple(int(i) for i in players["dk_id"]),
        salaries=tuple(int(s) for s in players["salary"]),
        teams=tuple(str(t) for t in players["team"]),
        avg_points=tuple(float(p) for p in players["avg_points"]),
        ownership=tuple(float(o) for o in ownership) if ownership.notna().all() else None,
        source=str(file),
    )


_PLAIN_INT = re.compile(r"[0-9]{1,15}")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,6})?")


def _blank_or(cells: list[str], at: dict[str, int], column: str, pattern: re.Pattern[str]) -> bool:
    """An optional column's cell is absent, blank or plainly written."""
    return column not in at or cells[at[column]] == "" or pattern.fullmatch(cells[at[column]]) is not None


def _plain_salary_rows(file: Path) -> SlateRows | None:
    """The slate's columns when the file is plainly written (see read_dk_salary_rows), else None."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    if '"' in text or "\r" in text:
        return None
    lines = [line for line in text.split("\n") if line]  # pandas skips empty lines too
    if len(lines) < 2 or any(not line.strip() for line in lines):
        return None
    header = lines[0].split(",")
    if len(set(header)) != len(header) or "" in header or any(c not in header for c in SALARY_REQUIRED):
        return None
    at = {column: i for i, column in enumerate(header)}
    names, ids, salaries, teams, points, ownership = [], [], [], [], [], []
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(header):
            return None
        name, roster = cells[at["Name"]], cells[at["Roster Position"]]
        dk_id, salary = cells[at["ID"]], cells[at["Salary"]]
        average = cells[at["AvgPointsPerGame"]]
        if not name or roster != ROSTER_POSITION or not _PLAIN_DECIMAL.fullmatch(average):
            return None
        if not (_PLAIN_INT.fullmatch(dk_id) and _PLAIN_INT.fullmatch(salary)):
            return None
        if int(dk_id) == 0 or int(salary) == 0:  # refused as not positive
            return None
        if not _blank_or(cells, at, "StartPos", _PLAIN_INT):
            return None
        if not _blank_or(cells, at, "StdDev", _PLAIN_DECIMAL):
            return None
        if "Projected Ownership" in at:
            percent = cells[at["Projected Ownership"]]
            if not _PLAIN_DECIMAL.fullmatch(percent) or not 0.0 <= float(percent) <= 100.0:
                return None
            ownership.append(float(percent) / 100.0)
        names.append(name)
        ids.append(int(dk_id))
        salaries.append(int(salary))
        teams.append(cells[at["TeamAbbrev"]])
        points.append(float(average))
    if len(set(ids)) != len(ids) or len({name_key(n) for n in names}) != len(names):
        return None
    return SlateRows(
        names=tuple(names),
        dk_ids=tuple(ids),
        salaries=tuple(salaries),
        teams=tuple(teams),
        avg_points=tuple(points),
        ownership=tuple(ownership) if "Projected Ownership" in at else None,
        source=str(file),
    )


class UndeclaredDebutantError(ValueError):
    """Names declared as debutants that are not in the slate (a typo would silently declare none)."""


def match_slate_drivers(
    slate: Slate, known_drivers: Iterable[str], allow_unknown: bool = False, debutants: Iterable[str] = ()
) -> Slate:
    """Fill `players.driver` with the history spelling of each DK name (matched by `name_key`).

    Raises UnknownDriversError listing every unmatched name with its closest history names, except
    the names declared in `debutants` (drivers of their first Cup race); with `allow_unknown` no
    name is refused. Unmatched drivers keep driver None. A declared debutant the slate does not
    hold raises UndeclaredDebutantError.
    """
    known = [str(d) for d in known_drivers]
    spelling: dict[str, str] = {}
    for driver in known:
        spelling.setdefault(name_key(driver), driver)  # first spelling met wins (shared rule)
    keys = slate.players["name"].map(name_key)
    declared = {name_key(str(d)): str(d) for d in debutants if str(d).strip()}
    slate_keys = set(keys)
    absent = sorted(name for key, name in declared.items() if key not in slate_keys)
    if absent:
        raise UndeclaredDebutantError(
            f"declared new driver(s) not in slate {slate.source}: {', '.join(absent)}"
        )
    matched = keys.map(spelling)
    unknown = slate.players.loc[matched.isna() & ~keys.isin(set(declared)), "name"].tolist()
    if unknown and not allow_unknown:
        raise UnknownDriversError(unknown, slate.source, {n: closest_names(n, known) for n in unknown})
    players = slate.players.copy()
    players["driver"] = matched.astype(object).where(matched.notna(), None)
    return replace(slate, players=players)


def latest_teams(results: pd.DataFrame) -> dict[str, str]:
    """History driver -> team of their most recent result row (results: driver, season, race_num, team)."""
    if results.empty:
        return {}
    rows = results.loc[:, ["driver", "season", "race_num", "team"]].sort_values(
        ["season", "race_num"], kind="stable", na_position="first"
    )
    rows = rows[rows["team"].notna() & (rows["team"].astype(str).str.strip() != "")]
    return dict(zip(rows["driver"].astype(str), rows["team"].astype(str), strict=True))


def with_history_teams(slate: Slate, teams: Mapping[str, str]) -> Slate:
    """Team caps need one naming of teams: when any TeamAbbrev is blank, every matched driver takes
    the team of their latest history result (`teams`, see latest_teams); a driver without one keeps
    their TeamAbbrev, or, blank, a team of their own (so no cap ever groups unrelated drivers).
    A slate whose TeamAbbrev is filled everywhere is returned as it is."""
    players = slate.players
    if (players["team"].astype(str).str.strip() != "").all():
        return slate
    filled = [teams.get(str(driver)) if isinstance(driver, str) else None for driver in players["driver"]]
    own = [
        str(team).strip() or f"{name} (no team)"
        for team, name in zip(players["team"], players["name"], strict=True)
    ]
    players = players.copy()
    players["team"] = [h if h else o for h, o in zip(filled, own, strict=True)]
    return replace(slate, players=players)


def write_upload_csv(lineups: Sequence[Sequence[int]], path: Path | str) -> Path:
    """DraftKings bulk-upload CSV: header D,D,D,D,D,D and one row of bare DK ids per lineup."""
    if len(lineups) == 0:
        raise ValueError("no lineups to write")
    rows = [_checked_lineup(lineup, position) for position, lineup in enumerate(lineups)]
    return atomic_write_rows(path, UPLOAD_HEADER, rows)


def read_upload_csv(path: Path | str) -> list[list[int]]:
    """Lineups of an upload CSV: bare-id or `Name (ID)` cells; extra columns (Budget, FPPG) are ignored."""
    file = Path(path)
    header, body = _read_csv_rows(file)
    if tuple(cell.strip() for cell in header[:ROSTER_SIZE]) != UPLOAD_HEADER:
        raise DataValidationError(file.name, 1, None, f"header must start with {','.join(UPLOAD_HEADER)}")
    lineups: list[list[int]] = []
    for position, row in enumerate(body):
        if not any(cell.strip() for cell in row):
            continue
        lineup = _lineup_from_cells(row[:ROSTER_SIZE], file.name, sheet_row(position), first_column=0)
        if lineup is None:
            raise DataValidationError(
                file.name, sheet_row(position), ROSTER_POSITION, "the lineup is incomplete"
            )
        lineups.append(lineup)
    if not lineups:
        raise DataValidationError(file.name, None, None, "the file holds no lineups")
    return lineups


def read_dk_entries(path: Path | str) -> DKEntries:
    """Read DKEntries.csv: Entry ID, Contest Name, Contest ID, Entry Fee, then six D cells.

    DraftKings appends instructions and the player list to the right of (and below) the entries;
    only the first ten columns of rows with an Entry ID are read.
    """
    file = Path(path)
    header, body = _read_csv_rows(file)
    expected = (*ENTRY_COLUMNS, *UPLOAD_HEADER)
    found = tuple(cell.strip() for cell in header[: len(expected)])
    if found != expected:
        raise DataValidationError(
            file.name, 1, None, f"header must start with {','.join(expected)}, got {found}"
        )
    entries: list[DKEntry] = []
    for position, row in enumerate(body):
        cells = [cell.strip() for cell in row[: len(expected)]] + [""] * max(0, len(expected) - len(row))
        if not cells[0]:
            continue  # instruction/player-list rows below the entries
        if not cells[0].isdigit():
            raise DataValidationError(
                file.name, sheet_row(position), "Entry ID", f"{cells[0]!r} is not an entry id"
            )
        lineup = _lineup_from_cells(
            cells[len(ENTRY_COLUMNS) :], file.name, sheet_row(position), len(ENTRY_COLUMNS)
        )
        entries.append(
            DKEntry(cells[0], cells[1], cells[2], cells[3], None if lineup is None else tuple(lineup))
        )
    if not entries:
        raise DataValidationError(file.name, None, "Entry ID", "the file holds no entries")
    import pandas as pd

    _reject_duplicate(
        pd.Series([e.entry_id for e in entries]), file.name, "Entry ID", "entry {} appears twice"
    )
    return DKEntries(entries=tuple(entries), source=str(file))


def write_dk_entries(entries: DKEntries, path: Path | str) -> Path:
    """DKEntries.csv layout with bare ids (empty D cells for unfilled entries), ready to upload."""
    rows = [
        [e.entry_id, e.contest_name, e.contest_id, e.entry_fee, *(e.lineup or ("",) * ROSTER_SIZE)]
        for e in entries.entries
    ]
    return atomic_write_rows(path, (*ENTRY_COLUMNS, *UPLOAD_HEADER), rows)


def _checked_lineup(lineup: Sequence[int], position: int) -> tuple[int, ...]:
    try:
        ids = tuple(int(dk_id) for dk_id in lineup)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"lineup {position + 1} holds a non-integer DraftKings id: {list(lineup)}") from exc
    if len(ids) != ROSTER_SIZE or len(set(ids)) != ROSTER_SIZE:
        raise ValueError(
            f"lineup {position + 1} must hold {ROSTER_SIZE} distinct DraftKings ids, got {list(ids)}"
        )
    if any(dk_id <= 0 for dk_id in ids):
        raise ValueError(f"lineup {position + 1} holds a non-positive DraftKings id: {list(ids)}")
    return ids


def _lineup_from_cells(cells: Sequence[str], file: str, row: int, first_column: int) -> list[int] | None:
    """Six ids from `Name (ID)` or bare-id cells; None when all six are empty (unfilled entry)."""
    cells = [cell.strip() for cell in cells] + [""] * max(0, ROSTER_SIZE - len(cells))
    if not any(cells):
        return None
    ids: list[int] = []
    for slot, cell in enumerate(cells[:ROSTER_SIZE]):
        match = _CELL_WITH_ID.match(cell)
        column = f"{ROSTER_POSITION} (column {first_column + slot + 1})"
        if match is None:
            raise DataValidationError(
                file, row, column, f"{cell!r} is neither a DraftKings id nor 'Name (ID)'"
            )
        ids.append(int(match.group("paren") or match.group("bare")))
    if len(set(ids)) != ROSTER_SIZE:
        raise DataValidationError(file, row, ROSTER_POSITION, f"a driver appears twice in the lineup {ids}")
    return ids


def _read_csv_rows(file: Path) -> tuple[list[str], list[list[str]]]:
    if not file.is_file():
        raise DataValidationError(file.name, None, None, f"file not found at {file}")
    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            rows = list(csv.reader(stream))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataValidationError(file.name, None, None, f"not a readable UTF-8 CSV file: {exc}") from exc
    if not rows:
        raise DataValidationError(file.name, None, None, "the file is empty")
    return rows[0], rows[1:]


def _require_roster_position(table: pd.DataFrame, file: str) -> None:
    position = first_bad_position(table["Roster Position"].str.strip() != ROSTER_POSITION)
    if position is not None:
        raise DataValidationError(
            file, sheet_row(position), "Roster Position",
            f"{table['Roster Position'].iloc[position]!r} is not {ROSTER_POSITION!r} (NASCAR Classic slate?)",
        )  # fmt: skip


def _reject_duplicate(values: pd.Series, file: str, column: str, template: str) -> None:
    position = first_bad_position(values.duplicated(keep="first"))
    if position is not None:
        raise DataValidationError(
            file, sheet_row(position), column, template.format(repr(values.iloc[position]))
        )


def _require_positive(values: pd.Series, file: str, column: str) -> None:
    position = first_bad_position(values <= 0)
    if position is not None:
        raise DataValidationError(
            file, sheet_row(position), column, f"{values.iloc[position]} is not positive"
        )


def _ownership_fraction(table: pd.DataFrame, file: str) -> pd.Series:
    """Projected Ownership is published in percent (0-100); the slate carries fractions (0-1)."""
    import pandas as pd

    if "Projected Ownership" not in table:
        return pd.Series(np.nan, index=table.index, dtype="float64")
    percent = table["Projected Ownership"]
    position = first_bad_position(((percent < 0) | (percent > 100)).fillna(False))
    if position is not None:
        raise DataValidationError(
            file,
            sheet_row(position),
            "Projected Ownership",
            f"{percent.iloc[position]} is outside 0-100 percent",
        )
    return percent / 100.0
