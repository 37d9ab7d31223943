"""The platform's own race calendar: upcoming races added by `nascar-dfs race add`, `PUT
/v1/races/{race_id}` or a NASCAR schedule feed, kept under the platform's storage
(<storage>/calendar/races.csv, in races.csv's columns) because the data folder may be read-only and
is never written.

When the history loads (`load_history`), the calendar is merged with the data folder's races.csv:
the data folder's rows keep their order and row numbers (a quarantine report still points at the
right row), a calendar race replaces the data folder's row of a race not run yet, and new races
are appended. A race already run (it has results) is never overridden by the calendar.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from nascar_dfs.core.names import name_key
from nascar_dfs.platform import science, versions
from nascar_dfs.platform.partitions import PartitionKeyError, validate_race_key
from nascar_dfs.platform.storage import atomic_write_text

CALENDAR_FILE = Path("calendar") / "races.csv"
COLUMNS: tuple[str, ...] = (
    "race_id", "series", "season", "race_num", "race_date", "event_type", "nascar_race_id", "track",
    "track_slug", "race_name", "laps", "n_drivers", "in_cup_results", "in_loop_data",
)  # fmt: skip
_RACE_ID = re.compile(
    r"^(?P<season>\d{4})-(?P<series>cup|xfinity|truck)-(?P<slug>[a-z0-9-]+)-(?P<ordinal>x?\d+)$"
)
MAX_LAPS = 2000


class RaceEntryError(ValueError):
    """An upcoming race that cannot be added; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class UnknownTrackError(RaceEntryError):
    """A track_slug that tracks.csv of the data folder does not know."""


@dataclass(frozen=True)
class UpcomingRace:
    race_id: str
    race_date: date
    track_slug: str
    laps: int
    name: str | None = None
    nascar_race_id: int | None = None


def calendar_path(storage_root: Path) -> Path:
    return storage_root / CALENDAR_FILE


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [dict(row) for row in csv.DictReader(fh)]


def _tracks(data_dir: Path) -> dict[str, str]:
    """track_slug -> track_name of the data folder's tracks.csv."""
    return {
        row["track_slug"]: row.get("track_name") or row["track_slug"]
        for row in _read_rows(data_dir / "tracks.csv")
    }


def _completed(data_dir: Path) -> set[str]:
    """Races of the data folder that have results (cup_results.csv)."""
    path = data_dir / "cup_results.csv"
    if not path.exists():
        return set()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return {row["race_id"] for row in csv.DictReader(fh) if row.get("race_id")}


def _closest_tracks(slug: str, known: Iterable[str]) -> list[str]:
    from rapidfuzz import process

    return [choice for choice, _score, _ in process.extract(slug, list(known), limit=3, score_cutoff=60)]


def check_race(data_dir: Path, race: UpcomingRace) -> dict[str, str]:
    """The calendar row of `race`, or RaceEntryError naming what is wrong with it."""
    try:
        validate_race_key(race.race_id)
    except PartitionKeyError as exc:
        raise RaceEntryError("race_id", str(exc)) from None
    parts = _RACE_ID.match(race.race_id)
    if parts is None:
        raise RaceEntryError(
            "race_id",
            f"race_id {race.race_id!r} is not {{season}}-{{series}}-{{track_slug}}-{{n}}, "
            "e.g. 2026-cup-phoenix-1",
        )
    tracks = _tracks(data_dir)
    if race.track_slug not in tracks:
        closest = _closest_tracks(race.track_slug, tracks)
        hint = f" (closest: {', '.join(closest)})" if closest else ""
        raise UnknownTrackError(
            "track_slug",
            f"unknown track_slug {race.track_slug!r}: not in tracks.csv of the data folder{hint}",
        )
    if parts["slug"] != race.track_slug:
        raise RaceEntryError(
            "track_slug", f"race_id {race.race_id} names track {parts['slug']!r}, not {race.track_slug!r}"
        )
    if int(parts["season"]) != race.race_date.year:
        raise RaceEntryError(
            "date",
            f"race_id {race.race_id} is of season {parts['season']}, not of {race.race_date.isoformat()}",
        )
    if not 0 < race.laps <= MAX_LAPS:
        raise RaceEntryError("laps", f"laps must be 1..{MAX_LAPS}, got {race.laps}")
    if race.race_id in _completed(data_dir):
        raise RaceEntryError(
            "race_id", f"race {race.race_id} has results in the data folder: it was run already"
        )
    return {
        "race_id": race.race_id,
        "series": parts["series"],
        "season": parts["season"],
        "race_num": "",  # numbered when merged, from the dates (numbered_rows)
        "race_date": race.race_date.isoformat(),
        "event_type": "exhibition" if parts["ordinal"].startswith("x") else "points",
        "nascar_race_id": "" if race.nascar_race_id is None else str(race.nascar_race_id),
        "track": tracks[race.track_slug],
        "track_slug": race.track_slug,
        "race_name": race.name or "",
        "laps": str(race.laps),
        "n_drivers": "",
        "in_cup_results": "False",
        "in_loop_data": "False",
    }


def add_races(storage_root: Path, data_dir: Path, races: Iterable[UpcomingRace]) -> list[str]:
    """Validate every race, then add (or update) them in one atomic write; returns their ids."""
    rows = [check_race(data_dir, race) for race in races]
    kept = {row["race_id"]: row for row in _read_rows(calendar_path(storage_root))}
    for row in rows:
        kept[row["race_id"]] = row
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in sorted(kept.values(), key=lambda r: (r["race_date"], r["race_id"])):
        writer.writerow({c: row.get(c, "") for c in COLUMNS})
    atomic_write_text(calendar_path(storage_root), out.getvalue())
    return [row["race_id"] for row in rows]


def upcoming_races(storage_root: Path) -> list[dict[str, str]]:
    """The calendar's races (races.csv columns, as text), in date order."""
    return _read_rows(calendar_path(storage_root))


def calendar_version(storage_root: Path) -> str:
    """Digest of the calendar ("" while it is empty): part of the race history's data version."""
    path = calendar_path(storage_root)
    return versions.digest(path.read_bytes().hex()) if path.exists() else ""


def merge_races(
    data_rows: list[dict[str, str]], calendar_rows: list[dict[str, str]], completed: set[str]
) -> list[dict[str, str]]:
    """races.csv rows with the calendar merged in (see the module docstring); calendar races get a
    race_num after the season's points races dated before them."""
    merged = [dict(r) for r in data_rows]
    position = {row["race_id"]: i for i, row in enumerate(merged)}
    for row in sorted(calendar_rows, key=lambda r: (r["race_date"], r["race_id"])):
        if row["race_id"] in completed:
            continue
        entry = {**row, "race_num": ""}
        if entry["event_type"] == "points":
            entry["race_num"] = str(_race_num(merged, entry, skip=row["race_id"]))
        if row["race_id"] in position:
            merged[position[row["race_id"]]] = {**merged[position[row["race_id"]]], **entry}
        else:
            position[row["race_id"]] = len(merged)
            merged.append(entry)
    return merged


def _race_num(rows: list[dict[str, str]], entry: Mapping[str, str], skip: str) -> int:
    season = [
        r for r in rows
        if r.get("season") == entry["season"] and r.get("event_type") == "points" and r["race_id"] != skip
    ]  # fmt: skip
    numbers = {int(r["race_num"]) for r in season if (r.get("race_num") or "").isdigit()}
    before = [
        int(r["race_num"])
        for r in season
        if (r.get("race_num") or "").isdigit() and r.get("race_date") and r["race_date"] < entry["race_date"]
    ]
    wanted = max(before, default=0) + 1
    return wanted if wanted not in numbers else max(numbers) + 1


def load_history(data_dir: Path, storage_root: Path | None) -> Any:
    """The data folder's history with the platform's calendar merged into its races.csv.

    The merged races.csv is written to a temporary folder beside links to the data folder's other
    files, so the data module's own loader validates it (the data folder itself is never written)."""
    calendar = upcoming_races(storage_root) if storage_root is not None else []
    if not calendar:
        return science.load_history(data_dir)
    data_rows = _read_rows(data_dir / "races.csv")
    header = list(dict.fromkeys([*(data_rows[0].keys() if data_rows else COLUMNS), *COLUMNS]))
    merged = merge_races(data_rows, calendar, _completed(data_dir))
    with tempfile.TemporaryDirectory(prefix="nascar-history-") as overlay:
        folder = Path(overlay)
        for item in data_dir.iterdir():
            if item.name != "races.csv":
                os.symlink(item.resolve(), folder / item.name)
        with (folder / "races.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            for row in merged:
                writer.writerow({c: row.get(c, "") for c in header})
        return science.load_history(folder)


def race_info(storage_root: Path, data_dir: Path, race_id: str) -> dict[str, str] | None:
    """The race as the merged calendar holds it (races.csv columns as text), or None."""
    data_rows = _read_rows(data_dir / "races.csv")
    merged = merge_races(data_rows, upcoming_races(storage_root), _completed(data_dir))
    for row in merged:
        if row["race_id"] == race_id:
            return row
    return None


@dataclass(frozen=True)
class ScheduledRace:
    race: UpcomingRace
    laps_from: str  # the data folder's race whose laps the schedule race takes (the feed has none)


SCHEDULE_RACE_RUN_TYPE = 3  # run_type of the race itself (1 practice, 2 qualifying)
CUP_SERIES_ID = 1


def schedule_races(data_dir: Path, feed: Any, series_id: int = CUP_SERIES_ID) -> list[ScheduledRace]:
    """The races of a NASCAR schedule feed (feed-samples/schedule-feed.json: one entry per session;
    run_type 3 is the race), as calendar races: the venue from tracks.csv by name, the ordinal
    counted in schedule order with the data folder's races of the season, the laps of the latest
    race at the venue in the data folder (the feed gives none; `laps_from` says which). Every
    problem of the feed is collected and raised together as one RaceEntryError."""
    if not isinstance(feed, list):
        raise RaceEntryError("schedule", "a schedule feed is a JSON list of sessions")
    names: dict[str, str] = {}
    for row in _read_rows(data_dir / "tracks.csv"):
        for name in [row.get("track_name") or "", *re.split(r"[;|]", row.get("other_names") or "")]:
            if name.strip():
                names.setdefault(name_key(name), row["track_slug"])
    data_rows = _read_rows(data_dir / "races.csv")
    taken = [
        (r.get("season", ""), r["track_slug"], r.get("race_date") or "", r["race_id"]) for r in data_rows
    ]
    latest: dict[str, dict[str, str]] = {}
    for row in data_rows:
        if row.get("event_type") == "points" and (row.get("laps") or "").isdigit():
            best = latest.get(row["track_slug"])
            key = (int(row["season"]), int(row["race_num"] or 0))
            if best is None or key >= (int(best["season"]), int(best["race_num"] or 0)):
                latest[row["track_slug"]] = row
    sessions = [
        s
        for s in feed
        if isinstance(s, dict)
        and s.get("run_type") == SCHEDULE_RACE_RUN_TYPE
        and s.get("series_id") == series_id
    ]
    problems: list[str] = []
    found: list[ScheduledRace] = []
    seen: set[int] = set()
    for session in sorted(sessions, key=lambda s: str(s.get("start_time", ""))):
        nascar_id = session.get("race_id")
        if nascar_id in seen:
            continue
        seen.add(nascar_id)
        track_name = str(session.get("track_name", ""))
        try:
            day = date.fromisoformat(str(session.get("start_time", ""))[:10])
        except ValueError:
            problems.append(f"race {nascar_id}: start_time {session.get('start_time')!r} is not a date")
            continue
        slug = names.get(name_key(track_name))
        if slug is None:
            closest = _closest_tracks(
                track_name, [r.get("track_name", "") for r in _read_rows(data_dir / "tracks.csv")]
            )
            hint = f" (closest: {', '.join(closest)})" if closest else ""
            problems.append(f"race {nascar_id}: track {track_name!r} is not in tracks.csv{hint}")
            continue
        if slug not in latest:
            problems.append(f"race {nascar_id}: no earlier race at {slug} to take the laps from")
            continue
        season = str(day.year)
        ordinal = 1 + sum(
            1 for s, t, d, _ in taken if s == season and t == slug and d and d < day.isoformat()
        )
        race_id = f"{season}-cup-{slug}-{ordinal}"
        taken.append((season, slug, day.isoformat(), race_id))
        source = latest[slug]
        found.append(
            ScheduledRace(
                UpcomingRace(
                    race_id,
                    day,
                    slug,
                    int(source["laps"]),
                    str(session.get("race_name") or "") or None,
                    int(nascar_id) if isinstance(nascar_id, int) else None,
                ),
                laps_from=source["race_id"],
            )
        )
    if problems:
        raise RaceEntryError("schedule", "; ".join(problems))
    if not found:
        raise RaceEntryError("schedule", f"the feed holds no race session (run_type 3) of series {series_id}")
    return found


def add_schedule(storage_root: Path, data_dir: Path, content: bytes) -> list[ScheduledRace]:
    """Add every Cup race of a NASCAR schedule feed (the JSON file's bytes) to the calendar in one
    write; the one entry point of `nascar-dfs race add --schedule` and the REST API. Registering
    the races' partitions is the caller's (each door reaches Dagster its own way)."""
    try:
        feed = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RaceEntryError("schedule", f"not a JSON document: {exc}") from exc
    scheduled = schedule_races(data_dir, feed)
    add_races(storage_root, data_dir, [s.race for s in scheduled])
    return scheduled
