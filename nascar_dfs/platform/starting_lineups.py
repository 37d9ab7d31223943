"""A race's starting lineup, uploaded once qualifying is run: `driver,start` CSV or NASCAR's weekend
feed JSON (weekend_race[0].results[].starting_position), kept under the platform's storage as
<storage>/starting_lineups/<race>.csv (driver,start; the history's spelling of each driver).

It is the start of every driver of the race's scenario sets (in place of the slate's StartPos), so
storing one makes the race's scenario sets and lineups stale: the scenario set records the
`starts_version` it was built with and the plan rebuilds it when the race's version differs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nascar_dfs.core.names import name_key
from nascar_dfs.platform import versions
from nascar_dfs.platform.partitions import validate_race_key
from nascar_dfs.platform.storage import atomic_write_text

FOLDER = "starting_lineups"
CSV_FILE = "starting-lineup.csv"
FEED_FILE = "weekend-feed.json"


@dataclass(frozen=True)
class LineupProblem:
    row: int | None  # spreadsheet row of the CSV (header = 1) or index of the feed's results (1-based)
    column: str | None
    message: str


class StartingLineupError(ValueError):
    """Every problem of an uploaded starting lineup, each with its row and column."""

    def __init__(self, file: str, problems: list[LineupProblem]) -> None:
        self.file = file
        self.problems = problems
        listed = "; ".join(
            (f"row {p.row}, column {p.column}: " if p.row is not None else "") + p.message for p in problems
        )
        super().__init__(f"{file}: {listed}")


def lineup_path(storage_root: Path, race: str) -> Path:
    return storage_root / FOLDER / f"{validate_race_key(race)}.csv"


def parse_csv(content: bytes) -> list[tuple[int, str, str]]:
    """(row, driver, start text) of a `driver,start` CSV."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StartingLineupError(CSV_FILE, [LineupProblem(None, None, f"not UTF-8 text: {exc}")]) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _records(reader)
    except csv.Error as exc:  # e.g. a NUL byte, or a field beyond the csv module's size limit
        problem = LineupProblem(reader.line_num, None, f"not a CSV: {exc}")
        raise StartingLineupError(CSV_FILE, [problem]) from exc


def _records(reader: csv.DictReader) -> list[tuple[int, str, str]]:
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "driver" not in columns or "start" not in columns:
        raise StartingLineupError(
            CSV_FILE,
            [LineupProblem(1, None, f"the header must name driver and start, got {reader.fieldnames}")],
        )
    rows = []
    for index, raw in enumerate(reader):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        rows.append((index + 2, row.get("driver", ""), row.get("start", "")))
    return rows


def parse_weekend_feed(content: bytes) -> list[tuple[int, str, str]]:
    """(result index, driver, starting_position) of a NASCAR weekend feed."""
    try:
        feed = json.loads(content)
        results = feed["weekend_race"][0]["results"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise StartingLineupError(
            FEED_FILE, [LineupProblem(None, None, f"not a weekend feed with weekend_race[0].results: {exc}")]
        ) from exc
    if not results:
        raise StartingLineupError(FEED_FILE, [LineupProblem(None, None, "weekend_race[0].results is empty")])
    return [
        (i + 1, str(r.get("driver_fullname") or ""), str(r.get("starting_position") or ""))
        for i, r in enumerate(results)
    ]


def validate(file: str, rows: list[tuple[int, str, str]], known_drivers: Iterable[str]) -> dict[str, int]:
    """driver (history spelling) -> start; StartingLineupError listing every bad row: an unknown
    driver, a driver twice, a start that is not an integer, a start twice, starts that are not 1..n."""
    spelling: dict[str, str] = {}
    for driver in known_drivers:
        spelling.setdefault(name_key(str(driver)), str(driver))
    problems: list[LineupProblem] = []
    found: dict[str, int] = {}
    start_rows: dict[int, int] = {}
    n = len(rows)
    if n == 0:
        raise StartingLineupError(file, [LineupProblem(None, None, "the starting lineup holds no driver")])
    for row, driver, start in rows:
        name = spelling.get(name_key(driver)) if driver else None
        if not driver:
            problems.append(LineupProblem(row, "driver", "is empty"))
        elif name is None:
            problems.append(
                LineupProblem(row, "driver", f"{driver!r} is neither in the history nor in the slate")
            )
        elif name in found:
            problems.append(LineupProblem(row, "driver", f"{driver!r} appears twice"))
        try:
            value = int(start)
        except ValueError:
            problems.append(LineupProblem(row, "start", f"{start!r} is not an integer"))
            continue
        if not 1 <= value <= n:
            problems.append(LineupProblem(row, "start", f"{value} is outside 1..{n} ({n} drivers)"))
        elif value in start_rows:
            problems.append(
                LineupProblem(row, "start", f"start {value} is also given in row {start_rows[value]}")
            )
        else:
            start_rows[value] = row
        if name is not None and name not in found:
            found[name] = value
    if problems:
        raise StartingLineupError(file, problems)
    return found


def save_starting_lineup(storage_root: Path, race: str, starts: Mapping[str, int]) -> str:
    """Store the lineup (start order); returns its version."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("driver", "start"))
    for driver, start in sorted(starts.items(), key=lambda item: item[1]):
        writer.writerow((driver, start))
    atomic_write_text(lineup_path(storage_root, race), out.getvalue())
    return versions.digest(out.getvalue())


def starting_lineup(storage_root: Path, race: str) -> dict[str, int] | None:
    """driver (history spelling) -> starting position of the race's stored lineup; None without one."""
    path = lineup_path(storage_root, race)
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["driver"]: int(row["start"]) for row in csv.DictReader(fh)}


def starts_version(storage_root: Path, race: str) -> str | None:
    """Version of the race's stored lineup (None without one), recorded by its scenario sets."""
    path = lineup_path(storage_root, race)
    return versions.digest(path.read_text(encoding="utf-8")) if path.exists() else None
