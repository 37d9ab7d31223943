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
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as PydanticField

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


class FeedResult(BaseModel):
    """One car of `weekend_race[0].results` (only the fields a result row needs)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    finishing_position: int = PydanticField(ge=1)
    starting_position: int = PydanticField(ge=1)
    car_number: str
    driver_fullname: str = PydanticField(min_length=1)
    driver_id: int | None = None
    car_make: str
    team_name: str
    laps_completed: int = PydanticField(ge=0)
    laps_led: int = PydanticField(ge=0)
    finishing_status: str
    points_earned: int | None = None
    disqualified: bool = False


class FeedRace(BaseModel):
    """`weekend_race[0]` of a weekend feed."""

    model_config = ConfigDict(extra="ignore")

    race_id: int
    race_season: int
    race_name: str
    track_name: str
    track_id: int | None = None
    race_date: str
    number_of_cars_in_field: int | None = None
    results: list[FeedResult]


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
    raw, race = _weekend_race(_as_document(doc))
    season = race.race_season
    slug = _resolve_slug(track_slug, raw, race)
    number = ordinal(slug, season) if callable(ordinal) else int(ordinal)
    race_id = f"{season}-{SERIES}-{slug}-{'x' if event_type == 'exhibition' else ''}{number}"
    results = _result_rows(race, race_id, slug, race_num, fastest_laps, known_drivers)
    race_row = {
        "race_id": race_id, "series": SERIES, "season": season, "race_num": race_num,
        "race_date": race.race_date[:10], "event_type": event_type,
        "nascar_race_id": race.race_id, "track": race.track_name, "track_slug": slug,
        "race_name": race.race_name, "laps": int(results["laps"].max()),
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
    raw, race = _weekend_race(document)
    season = race.race_season
    slug = _resolve_slug(track_slug, raw, race)
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


def _weekend_race(doc: Mapping[str, Any]) -> tuple[Mapping[str, Any], FeedRace]:
    """The raw race dict (for the caller's slug function) and its validated model."""
    races = doc.get("weekend_race")
    if not races:
        raise FeedError("not a weekend feed: 'weekend_race' is missing or empty")
    raw = races[0]
    try:
        race = FeedRace.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
        raise FeedError(f"weekend_race[0]{where}: {first['msg']} ({exc.error_count()} problem(s))") from exc
    if not race.results:
        raise FeedError(f"race {race.race_id} has no results yet (not run?)")
    return raw, race


def _resolve_slug(track_slug: TrackSlugSource, raw: Mapping[str, Any], race: FeedRace) -> str:
    if isinstance(track_slug, str):
        slug = track_slug
    elif isinstance(track_slug, Mapping):
        if race.track_id not in track_slug:
            raise FeedError(f"no track_slug for NASCAR track_id {race.track_id} ({race.track_name})")
        slug = track_slug[race.track_id]
    else:
        slug = track_slug(raw)
    if not slug or slug != slug.strip().lower() or " " in slug:
        raise FeedError(f"track_slug {slug!r} must be a lower-case slug such as 'sonoma'")
    return slug


def _result_rows(
    race: FeedRace,
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
    for result in race.results:
        raw = result.driver_fullname
        rows.append({
            "race_id": race_id, "season": race.race_season, "race_num": race_num,
            "race_date": race.race_date[:10], "race_date_source": "nascar_api",
            "nascar_race_id": race.race_id, "track": race.track_name, "track_slug": slug,
            "race_name": race.race_name, "track_length_mi": None, "surface": None,
            "finish": result.finishing_position, "start": result.starting_position,
            "car_number": result.car_number,
            "driver": spelling.get(name_key(raw), normalize_name(raw)), "driver_raw": raw,
            "manufacturer": _MAKES.get(result.car_make.strip().lower(), result.car_make),
            "team": result.team_name, "laps": result.laps_completed, "laps_led": result.laps_led,
            "fastest_laps": None if fastest_laps is None else _fastest_laps_of(fastest_laps, result),
            "status": "disqualified" if result.disqualified else result.finishing_status.strip().lower(),
            "nascar_points": result.points_earned, "stage1_finish": None, "stage2_finish": None,
            "stage_points": None, "driver_rating": None, "win": int(result.finishing_position == 1),
            "source": FEED_SOURCE,
        })  # fmt: skip
    frame = pd.DataFrame(rows).sort_values("finish", kind="stable").reset_index(drop=True)
    frame["fastest_laps"] = frame["fastest_laps"].astype("Int64")
    return frame


def _fastest_laps_of(fastest_laps: Mapping[int, int], result: FeedResult) -> int:
    if result.driver_id is None or result.driver_id not in fastest_laps:
        raise FeedError(
            f"no fastest-lap count for {result.driver_fullname} (driver_id {result.driver_id}) "
            "in the loop/live data given"
        )
    return int(fastest_laps[result.driver_id])


def _refuse_duplicate(races: pd.DataFrame, race_row: Mapping[str, Any]) -> None:
    if (races["race_id"] == race_row["race_id"]).any():
        raise FeedError(f"race {race_row['race_id']} is already in {RACES_FILE}")
    if "nascar_race_id" in races and (races["nascar_race_id"] == race_row["nascar_race_id"]).any():
        raise FeedError(f"NASCAR race {race_row['nascar_race_id']} is already in {RACES_FILE}")


def _require_full_field(race: FeedRace, results: pd.DataFrame) -> None:
    expected = race.number_of_cars_in_field
    if expected and expected != len(results):
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


def track_slugs(data_dir: Path | str) -> dict[str, str]:
    """Venue slug by every name tracks.csv gives a track (current or earlier), lower-cased: a feed
    names its track ("Sonoma Raceway"), the data folder its venue ("sonoma")."""
    tracks = pd.read_csv(Path(data_dir) / TRACKS_FILE, dtype=str).fillna("")
    slugs: dict[str, str] = {}
    for row in tracks.itertuples():
        for name in [row.track_name, *str(getattr(row, "other_names", "")).split(";")]:
            if name.strip():
                slugs[name.strip().lower()] = row.track_slug
    return slugs


def append_feed_file(data_dir: Path | str, feed_path: Path | str) -> str:
    """Append the race of a weekend feed JSON file to the data folder; returns its race_id.

    The venue is the tracks.csv row carrying the feed's track name, so a feed for a venue the
    folder does not know is refused (FeedError) and nothing is written.
    """
    feed = Path(feed_path)
    slugs = track_slugs(data_dir)

    def slug_of(race: Mapping[str, Any]) -> str:
        name = str(race.get("track_name", "")).strip().lower()
        if name not in slugs:
            raise FeedError(f"track {race.get('track_name')!r} of {feed.name} is not in {TRACKS_FILE}")
        return slugs[name]

    return append_feed_race(data_dir, feed, slug_of)
