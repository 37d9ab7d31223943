"""NASCAR weekend feed -> one races.csv row and cup_results.csv rows; appending a race to a data folder.

The weekend feed (`weekend_race[0]` with `results[]`) carries finish, start, laps, laps led, status,
make and team; it has no fastest laps, which come from the loop-stats feed (`fast_laps` per
`driver_id`) or the live feed (`fastest_laps_run`) when the caller passes one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.files import atomic_write_frame
from nascar_dfs.core.data.history import (
    CONFIGS_FILE,
    LOOP_FILE,
    RACES_FILE,
    RESULTS_FILE,
    TRACKS_FILE,
    load_history,
)
from nascar_dfs.core.names import name_key, normalize_name

FEED_SOURCE = "nascar_feed"
SERIES = "cup"
# NASCAR's car_make spellings -> the manufacturer names of cup_results.csv
_MAKES = {"chevrolet": "Chevrolet", "chv": "Chevrolet", "ford": "Ford", "frd": "Ford",
          "toyota": "Toyota", "tyt": "Toyota", "dodge": "Dodge"}  # fmt: skip
_REQUIRED_RACE_KEYS = ("race_id", "race_season", "race_name", "track_name", "race_date", "results")
_REQUIRED_RESULT_KEYS = (
    "finishing_position", "starting_position", "car_number", "driver_fullname", "car_make",
    "team_name", "laps_completed", "laps_led", "finishing_status",
)  # fmt: skip

TrackSlugSource = str | Mapping[int, str] | Callable[[Mapping[str, Any]], str]


class FeedError(ValueError):
    """The feed document lacks what a race row needs; the message names the missing piece."""


def parse_weekend_feed(
    doc: Mapping[str, Any] | Path | str,
    track_slug: TrackSlugSource,
    ordinal: int | Callable[[str, int], int],
    *,
    race_num: int | None = None,
    event_type: str = "points",
    fastest_laps: Mapping[int, int] | None = None,
    known_drivers: Iterable[str] = (),
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One races.csv row and the cup_results.csv rows of the weekend feed's race.

    `track_slug`: the slug itself, a mapping NASCAR track_id -> slug, or a function of the race dict.
    `ordinal`: the race's number among points races at that slug in its season, or a function
    (slug, season) -> ordinal; race_id = {season}-cup-{slug}-{ordinal} (x{ordinal} for exhibitions).
    `fastest_laps`: NASCAR driver_id -> fastest laps (see `fastest_laps_from_loopstats`); else None.
    `known_drivers`: history spellings, so a feed spelling such as "Shane Van Gisbergen" joins the
    driver the history already knows; other names get `normalize_name`.
    """
    race = _weekend_race(_as_document(doc))
    season = int(race["race_season"])
    slug = _resolve_slug(track_slug, race)
    number = ordinal(slug, season) if callable(ordinal) else int(ordinal)
    race_id = f"{season}-{SERIES}-{slug}-{'x' if event_type == 'exhibition' else ''}{number}"
    results = _result_rows(race, race_id, slug, race_num, fastest_laps, known_drivers)
    race_row = {
        "race_id": race_id, "series": SERIES, "season": season, "race_num": race_num,
        "race_date": str(race["race_date"])[:10], "event_type": event_type,
        "nascar_race_id": int(race["race_id"]), "track": str(race["track_name"]), "track_slug": slug,
        "race_name": str(race["race_name"]), "laps": int(results["laps"].max()),
        "n_drivers": len(results), "in_cup_results": True, "in_loop_data": False,
    }  # fmt: skip
    return race_row, results


def fastest_laps_from_loopstats(doc: Any) -> dict[int, int]:
    """driver_id -> fastest laps from a loop-stats document (list of races with `drivers[].fast_laps`)."""
    races = doc if isinstance(doc, list) else [doc]
    counts: dict[int, int] = {}
    for race in races:
        for driver in race.get("drivers", []):
            counts[int(driver["driver_id"])] = int(driver["fast_laps"])
    if not counts:
        raise FeedError("the loop-stats document lists no drivers")
    return counts


def fastest_laps_from_live_feed(doc: Mapping[str, Any]) -> dict[int, int]:
    """driver_id -> fastest laps from a live-feed snapshot (`vehicles[].fastest_laps_run`)."""
    vehicles = doc.get("vehicles")
    if not vehicles:
        raise FeedError("the live feed lists no vehicles")
    return {int(v["driver"]["driver_id"]): int(v["fastest_laps_run"]) for v in vehicles}


def append_feed_race(
    data_dir: Path | str,
    doc: Mapping[str, Any] | Path | str,
    track_slug: TrackSlugSource,
    *,
    fastest_laps: Mapping[int, int] | None = None,
    event_type: str = "points",
) -> str:
    """Add the feed's race to a data folder in the shared layout; return its race_id.

    Ordinal and race_num continue the folder's season. Refuses a race_id or NASCAR race id already
    present and a feed whose results do not cover the whole field. The new files are validated with
    `load_history` in a scratch copy first; then races.csv is replaced before cup_results.csv, each
    atomically, so an interruption leaves at worst a race without results (a valid upcoming race).
    """
    folder = Path(data_dir)
    history = load_history(folder)
    document = _as_document(doc)
    race = _weekend_race(document)
    season = int(race["race_season"])
    slug = _resolve_slug(track_slug, race)
    if not (history.tracks["track_slug"] == slug).any():
        raise FeedError(f"track {slug!r} is not in {TRACKS_FILE}; add the venue there first")
    races_of_season = history.races[(history.races["season"] == season)]
    same_venue = races_of_season[
        (races_of_season["track_slug"] == slug) & (races_of_season["event_type"] == event_type)
    ]
    race_num = None
    if event_type == "points":
        race_num = (
            int(races_of_season["race_num"].max()) + 1 if races_of_season["race_num"].notna().any() else 1
        )
    race_row, results = parse_weekend_feed(
        document, slug, len(same_venue) + 1, race_num=race_num, event_type=event_type,
        fastest_laps=fastest_laps, known_drivers=history.results["driver"].unique(),
    )  # fmt: skip
    _refuse_duplicate(history.races, race_row)
    _require_full_field(race, results)
    track_length = history.tracks.set_index("track_slug").get("length_mi")
    if track_length is not None:
        results["track_length_mi"] = track_length.get(slug)
    results["surface"] = history.tracks.set_index("track_slug")["surface"].get(slug)
    races_out = _appended(folder / RACES_FILE, [race_row])
    results_out = _appended(folder / RESULTS_FILE, results.to_dict("records"))
    _validate_in_scratch(folder, races_out, results_out)
    atomic_write_frame(folder / RACES_FILE, races_out)
    atomic_write_frame(folder / RESULTS_FILE, results_out)
    return str(race_row["race_id"])


def _as_document(doc: Mapping[str, Any] | Path | str) -> Mapping[str, Any]:
    if isinstance(doc, Mapping):
        return doc
    path = Path(doc)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FeedError(f"cannot read the feed {path}: {exc}") from exc
    if not isinstance(loaded, Mapping):
        raise FeedError(f"{path} is not a weekend feed (top level is {type(loaded).__name__}, not an object)")
    return loaded


def _weekend_race(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    races = doc.get("weekend_race")
    if not races:
        raise FeedError("not a weekend feed: 'weekend_race' is missing or empty")
    race = races[0]
    missing = [key for key in _REQUIRED_RACE_KEYS if key not in race]
    if missing:
        raise FeedError(f"weekend_race[0] lacks {', '.join(missing)}")
    if not race["results"]:
        raise FeedError(f"race {race['race_id']} has no results yet (not run?)")
    for index, result in enumerate(race["results"]):
        absent = [key for key in _REQUIRED_RESULT_KEYS if result.get(key) is None]
        if absent:
            raise FeedError(f"weekend_race[0].results[{index}] lacks {', '.join(absent)}")
    return race


def _resolve_slug(track_slug: TrackSlugSource, race: Mapping[str, Any]) -> str:
    if isinstance(track_slug, str):
        slug = track_slug
    elif isinstance(track_slug, Mapping):
        track_id = int(race.get("track_id", -1))
        if track_id not in track_slug:
            raise FeedError(f"no track_slug for NASCAR track_id {track_id} ({race.get('track_name')})")
        slug = track_slug[track_id]
    else:
        slug = track_slug(race)
    if not slug or slug != slug.strip().lower() or " " in slug:
        raise FeedError(f"track_slug {slug!r} must be a lower-case slug such as 'sonoma'")
    return slug


def _result_rows(
    race: Mapping[str, Any],
    race_id: str,
    slug: str,
    race_num: int | None,
    fastest_laps: Mapping[int, int] | None,
    known_drivers: Iterable[str],
) -> pd.DataFrame:
    spelling: dict[str, str] = {}
    for driver in known_drivers:
        spelling.setdefault(name_key(str(driver)), str(driver))
    rows = []
    for result in race["results"]:
        raw = str(result["driver_fullname"])
        finish = int(result["finishing_position"])
        driver_id = int(result["driver_id"]) if result.get("driver_id") is not None else None
        rows.append({
            "race_id": race_id, "season": int(race["race_season"]), "race_num": race_num,
            "race_date": str(race["race_date"])[:10], "race_date_source": "nascar_api",
            "nascar_race_id": int(race["race_id"]), "track": str(race["track_name"]), "track_slug": slug,
            "race_name": str(race["race_name"]), "track_length_mi": None, "surface": None,
            "finish": finish, "start": int(result["starting_position"]),
            "car_number": str(result["car_number"]),
            "driver": spelling.get(name_key(raw), normalize_name(raw)), "driver_raw": raw,
            "manufacturer": _MAKES.get(str(result["car_make"]).strip().lower(), str(result["car_make"])),
            "team": str(result["team_name"]), "laps": int(result["laps_completed"]),
            "laps_led": int(result["laps_led"]),
            "fastest_laps": None if fastest_laps is None else _fastest_laps_of(fastest_laps, driver_id, raw),
            "status": _status(result),
            "nascar_points": result.get("points_earned"), "stage1_finish": None, "stage2_finish": None,
            "stage_points": None, "driver_rating": None, "win": int(finish == 1), "source": FEED_SOURCE,
        })  # fmt: skip
    frame = pd.DataFrame(rows).sort_values("finish", kind="stable").reset_index(drop=True)
    frame["fastest_laps"] = frame["fastest_laps"].astype("Int64")
    return frame


def _status(result: Mapping[str, Any]) -> str:
    return "disqualified" if result.get("disqualified") else str(result["finishing_status"]).strip().lower()


def _fastest_laps_of(fastest_laps: Mapping[int, int], driver_id: int | None, raw: str) -> int:
    if driver_id is None or driver_id not in fastest_laps:
        raise FeedError(f"no fastest-lap count for {raw} (driver_id {driver_id}) in the loop/live data given")
    return int(fastest_laps[driver_id])


def _refuse_duplicate(races: pd.DataFrame, race_row: Mapping[str, Any]) -> None:
    if (races["race_id"] == race_row["race_id"]).any():
        raise FeedError(f"race {race_row['race_id']} is already in {RACES_FILE}")
    if "nascar_race_id" in races and (races["nascar_race_id"] == race_row["nascar_race_id"]).any():
        raise FeedError(f"NASCAR race {race_row['nascar_race_id']} is already in {RACES_FILE}")


def _require_full_field(race: Mapping[str, Any], results: pd.DataFrame) -> None:
    expected = race.get("number_of_cars_in_field")
    if expected and int(expected) != len(results):
        raise FeedError(
            f"the feed lists {len(results)} results but {expected} cars in the field (trimmed or partial)"
        )


def _appended(path: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The file's rows as text plus `rows` in the file's own column order (unknown keys dropped)."""
    existing = pd.read_csv(path, dtype=str, keep_default_na=False)
    new = pd.DataFrame(rows).reindex(columns=existing.columns)
    new = new.astype(object).where(new.notna(), "")
    return pd.concat([existing, new.astype(str)], ignore_index=True)


def _validate_in_scratch(folder: Path, races: pd.DataFrame, results: pd.DataFrame) -> None:
    """load_history on a scratch copy holding the new files: nothing is written if it fails."""
    with tempfile.TemporaryDirectory(prefix="nascar-append-") as scratch:
        target = Path(scratch)
        for name in (TRACKS_FILE, CONFIGS_FILE, LOOP_FILE):
            if (folder / name).exists():
                shutil.copyfile(folder / name, target / name)
        races.to_csv(target / RACES_FILE, index=False)
        results.to_csv(target / RESULTS_FILE, index=False)
        try:
            load_history(target)
        except DataValidationError as exc:
            raise FeedError(f"the appended race would break the data folder: {exc}") from exc
