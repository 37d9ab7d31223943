"""The race history in the shared layout: races, results, loop statistics, tracks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.quality import Action, Quarantined
from nascar_dfs.core.data.tables import read_table_lenient, sheet_row
from nascar_dfs.core.names import name_key
from nascar_dfs.core.tracks import CONFIGURATION_CUT_YEAR, TrackTypeResolver, track_type_of_family

RACES_FILE = "races.csv"
RESULTS_FILE = "cup_results.csv"
LOOP_FILE = "loop_data.csv"
TRACKS_FILE = "tracks.csv"
CONFIGS_FILE = "track_configurations.csv"
EVENT_TYPES = ("points", "exhibition")

RACES_REQUIRED = {
    "race_id": "str",
    "season": "int",
    "race_num": "nullable_int",
    "event_type": "str",
    "track_slug": "str",
    "laps": "int",
}
RACES_OPTIONAL = {
    "race_date": "optional_str",
    "nascar_race_id": "nullable_int",
    "n_drivers": "nullable_int",
    "in_cup_results": "bool",
    "in_loop_data": "bool",
}
RESULTS_REQUIRED = {
    "race_id": "str",
    "finish": "int",
    "start": "nullable_int",  # blank = unknown: the race's starts are masked, its finish still counts
    "car_number": "str",
    "driver": "str",
    "manufacturer": "str",
    "team": "str",
    "laps": "int",
    "laps_led": "int",
    "status": "str",
}
RESULTS_OPTIONAL = {
    "season": "int",
    "race_num": "nullable_int",
    "fastest_laps": "nullable_int",
    "driver_raw": "str",
    "nascar_points": "nullable_int",
    "stage1_finish": "nullable_int",
    "stage2_finish": "nullable_int",
    "stage_points": "nullable_int",
    "driver_rating": "nullable_float",
    "win": "nullable_int",
    "track_length_mi": "nullable_float",
    "nascar_race_id": "nullable_int",
    "race_date": "optional_str",
}
LOOP_REQUIRED = {
    "race_id": "str",
    "driver": "str",
    "start": "int",
    "finish": "int",
    "laps": "int",
    "laps_led": "int",
    "fastest_laps": "int",
}
LOOP_OPTIONAL = {
    "season": "int",
    "nascar_driver_id": "nullable_int",
    "mid_race_pos": "nullable_int",
    "best_pos": "nullable_int",
    "worst_pos": "nullable_int",
    "avg_running_pos": "nullable_float",
    "green_flag_passing_diff": "nullable_int",
    "green_flag_passes": "nullable_int",
    "green_flag_times_passed": "nullable_int",
    "quality_passes": "nullable_int",
    "pct_quality_passes": "nullable_float",
    "top15_laps": "nullable_int",
    "pct_top15_laps": "nullable_float",
    "pct_laps_led": "nullable_float",
    "driver_rating": "nullable_float",
}
TRACKS_REQUIRED = {"track_slug": "str", "surface": "optional_str"}  # blank: from track_configurations
TRACKS_OPTIONAL = {
    "length_mi": "nullable_float",
    "first_season": "nullable_int",
    "last_season": "nullable_int",
}
CONFIGS_REQUIRED = {
    "track_slug": "str",
    "primary_family": "str",
    "first_year_in_scope": "int",
    "last_year_through_2024": "nullable_int",  # blank: still in use
}
CONFIGS_OPTIONAL = {"length_mi": "nullable_float", "surface": "optional_str", "road_course": "optional_str"}


@dataclass(frozen=True)
class RaceInfo:
    """The facts of one race that the model, the kernel and the optimizer need."""

    race_id: str
    season: int
    race_num: int | None
    track_slug: str
    track_type: str
    laps: int
    race_date: str | None
    event_type: str


@dataclass(frozen=True)
class RaceHistory:
    """Validated tables of the shared layout; `races` carries the derived column `track_type`."""

    races: pd.DataFrame
    results: pd.DataFrame
    loop: pd.DataFrame
    tracks: pd.DataFrame
    track_configurations: pd.DataFrame
    # What the loader set aside (core/data/quality.py); `results.start` is missing for masked races.
    quarantine: tuple[Quarantined, ...] = ()

    def points_races(self) -> pd.DataFrame:
        """Points races ordered by (season, race_num)."""
        points = self.races[self.races["event_type"] == "points"]
        return points.sort_values(["season", "race_num"], kind="stable").reset_index(drop=True)

    def race(self, race_id: str) -> RaceInfo:
        """Facts of one race; KeyError names the unknown race_id."""
        rows = self.races[self.races["race_id"] == race_id]
        if rows.empty:
            raise KeyError(self._unknown(race_id))
        row = rows.iloc[0]
        return RaceInfo(
            race_id=str(row["race_id"]),
            season=int(row["season"]),
            race_num=None if pd.isna(row["race_num"]) else int(row["race_num"]),
            track_slug=str(row["track_slug"]),
            track_type=str(row["track_type"]),
            laps=int(row["laps"]),
            race_date=None if "race_date" not in row or pd.isna(row["race_date"]) else str(row["race_date"]),
            event_type=str(row["event_type"]),
        )

    def results_for(self, race_id: str) -> pd.DataFrame:
        """Result rows of one race ordered by finish; KeyError if the race is unknown or has no results."""
        if not (self.races["race_id"] == race_id).any():
            raise KeyError(self._unknown(race_id))
        rows = self.results[self.results["race_id"] == race_id]
        if rows.empty:
            raise KeyError(f"race {race_id!r} has no rows in cup_results.csv (not run yet?)")
        return rows.sort_values("finish").reset_index(drop=True)

    def has_results(self, race_id: str) -> bool:
        return bool((self.results["race_id"] == race_id).any())

    def _unknown(self, race_id: str) -> str:
        dropped = [q for q in self.quarantine if q.race_id == race_id and q.action != "starts-masked"]
        if dropped:
            return f"race {race_id!r} was quarantined: {dropped[0]}"
        return f"race {race_id!r} is not in races.csv"


def load_history(data_dir: Path | str) -> RaceHistory:
    """Read a data folder in the shared layout, quarantining each broken row at the smallest unit.

    A row that breaks an invariant is set aside as a `Quarantined` record (file, row, column, reason,
    action; see core/data/quality.py) and the rest loads: a broken starting position masks that race's
    starts (`results.start` is then missing for the whole race, its finishing order still trains the
    model), a broken finishing order, laps total or other result cell drops the race, a venue whose
    metadata cannot be resolved drops the venue's races, a broken loop-data row drops that race's loop
    statistics. A venue missing surface or length in tracks.csv takes them from
    track_configurations.csv. DataValidationError is left for a file that is unusable as a whole:
    missing, unreadable, a required column absent, a blank race_id, or no race left.

    loop_data.csv and track_configurations.csv are optional (a user's own export may lack them);
    without configurations the track type comes from tracks.csv `surface` (see `track_type_for`).
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    quarantine = _Quarantine()
    configs = _load_configs(folder / CONFIGS_FILE, quarantine)
    tracks = _with_config_facts(_load_tracks(folder / TRACKS_FILE, quarantine), configs)
    races = _load_races(folder / RACES_FILE, tracks, configs, quarantine)
    results = _load_results(folder / RESULTS_FILE, races, quarantine)
    races = races[~races["race_id"].isin(quarantine.dropped_races)].reset_index(drop=True)
    if races.empty:
        raise DataValidationError(
            RACES_FILE, None, None, "every race was quarantined (see the problems listed)"
        )
    loop = _load_loop(folder / LOOP_FILE, races, quarantine)
    tracks = tracks[~tracks["track_slug"].isin(quarantine.dropped_venues)].reset_index(drop=True)
    configs = configs[~configs["track_slug"].isin(quarantine.dropped_venues)].reset_index(drop=True)
    return RaceHistory(
        races=races,
        results=results,
        loop=loop,
        tracks=tracks,
        track_configurations=configs,
        quarantine=tuple(quarantine.items),
    )


class _Quarantine:
    """The records of one load and the units they set aside."""

    def __init__(self) -> None:
        self.items: list[Quarantined] = []
        self.dropped_races: set[str] = set()
        self.masked_races: set[str] = set()
        self.dropped_venues: set[str] = set()
        self.loop_dropped: set[str] = set()

    def add(
        self,
        file: str,
        label: int | None,
        column: str | None,
        reason: str,
        action: Action,
        race_id: str | None = None,
        track_slug: str | None = None,
    ) -> None:
        row = None if label is None else sheet_row(label)
        self.items.append(Quarantined(file, row, column, reason, action, race_id, track_slug))
        units = {
            "race-dropped": (self.dropped_races, race_id),
            "starts-masked": (self.masked_races, race_id),
            "venue-dropped": (self.dropped_venues, track_slug),
            "loop-dropped": (self.loop_dropped, race_id),
        }
        bucket, key = units[action]
        if key is not None:
            bucket.add(key)
        if action == "venue-dropped" and race_id is not None:
            self.dropped_races.add(race_id)

    def rows(
        self,
        file: str,
        table: pd.DataFrame,
        bad: pd.Series | np.ndarray,
        column: str | None,
        reason: Callable[[pd.Series], str],
        action: Action,
    ) -> None:
        """One record per flagged row; table labels are file positions (read_table's RangeIndex)."""
        mask = np.asarray(pd.Series(bad).fillna(False), dtype=bool) if isinstance(bad, pd.Series) else bad
        for label, row in table[mask].iterrows():
            race_id = row.get("race_id")
            slug = row.get("track_slug")
            self.add(
                file,
                int(label),
                column,
                reason(row),
                action,
                race_id=None if race_id is None or pd.isna(race_id) else str(race_id),
                track_slug=None if slug is None or pd.isna(slug) else str(slug),
            )

    def cells(
        self,
        file: str,
        table: pd.DataFrame,
        problems: list[tuple[int, str, str]],
        action_of: Callable[[str], Action],
    ) -> None:
        """Cells read_table_lenient could not convert, for the rows still in `table`."""
        for position, column, problem in problems:
            if position in table.index:
                self.rows(
                    file,
                    table.loc[[position]],
                    np.array([True]),
                    column,
                    lambda _r, p=problem: p,
                    action_of(column),
                )


def _as_int(table: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Columns declared "int" back to int64 once their broken rows are gone."""
    for column, kind in kinds.items():
        if kind == "int" and column in table.columns:
            table[column] = table[column].astype("int64")
    return table


def _load_configs(path: Path, quarantine: _Quarantine) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(
            {
                col: pd.Series(dtype="int64" if kind == "int" else "str")
                for col, kind in CONFIGS_REQUIRED.items()
            }
        )
    configs, problems = read_table_lenient(path, CONFIGS_REQUIRED, CONFIGS_OPTIONAL, strict=("track_slug",))
    quarantine.cells(path.name, configs, problems, lambda _column: "venue-dropped")
    family = configs["primary_family"]
    unknown = family.notna() & ~family.map(lambda f: f is None or _is_known_family(f))
    quarantine.rows(
        path.name,
        configs,
        unknown,
        "primary_family",
        lambda row: f"{row['primary_family']!r} is not a known track family",
        "venue-dropped",
    )
    first, last = configs["first_year_in_scope"], configs["last_year_through_2024"]
    backwards = (last < CONFIGURATION_CUT_YEAR) & (first > last)
    quarantine.rows(
        path.name,
        configs,
        backwards,
        "last_year_through_2024",
        lambda _row: "ends before first_year_in_scope",
        "venue-dropped",
    )
    kept = configs[~configs["track_slug"].isin(quarantine.dropped_venues)].copy()
    return _as_int(kept, CONFIGS_REQUIRED)


def _is_known_family(family: str) -> bool:
    try:
        track_type_of_family(family)
    except ValueError:
        return False
    return True


def _load_tracks(path: Path, quarantine: _Quarantine) -> pd.DataFrame:
    tracks, problems = read_table_lenient(path, TRACKS_REQUIRED, TRACKS_OPTIONAL, strict=("track_slug",))
    quarantine.cells(path.name, tracks, problems, lambda _column: "venue-dropped")
    twice = tracks.duplicated("track_slug", keep=False)
    quarantine.rows(
        path.name,
        tracks,
        twice,
        "track_slug",
        lambda row: f"track_slug {row['track_slug']!r} appears twice",
        "venue-dropped",
    )
    return tracks


def _with_config_facts(tracks: pd.DataFrame, configs: pd.DataFrame) -> pd.DataFrame:
    """Blank surface / length_mi of a venue taken from its newest configuration row (ovals first: at a
    facility with an oval the slug means the oval), so a new venue such as Mexico City 2025, whose
    tracks.csv row lacks them, still loads."""
    if "length_mi" not in tracks.columns:
        tracks["length_mi"] = np.nan
    if configs.empty:
        return tracks
    rows = configs.assign(track_type=configs["primary_family"].map(track_type_of_family))
    rows = rows.assign(oval=~rows["track_type"].isin(["road", "dirt"]))
    newest = rows.sort_values(["oval", "first_year_in_scope"], kind="stable").drop_duplicates(
        "track_slug", keep="last"
    )
    surface = newest["track_type"].map({"road": "road", "dirt": "dirt"}).fillna("paved")
    by_slug = newest.assign(surface=surface.to_numpy()).set_index("track_slug")
    filled = tracks.copy()
    filled["surface"] = filled["surface"].fillna(filled["track_slug"].map(by_slug["surface"]))
    if "length_mi" in by_slug.columns:
        config_length = pd.to_numeric(filled["track_slug"].map(by_slug["length_mi"]), errors="coerce")
        filled["length_mi"] = filled["length_mi"].astype("float64").fillna(config_length)
    return filled


def _load_races(
    path: Path, tracks: pd.DataFrame, configs: pd.DataFrame, quarantine: _Quarantine
) -> pd.DataFrame:
    races, problems = read_table_lenient(path, RACES_REQUIRED, RACES_OPTIONAL, strict=("race_id",))
    if races.empty:
        raise DataValidationError(path.name, None, None, "the file holds no races")
    file = path.name
    quarantine.cells(file, races, problems, lambda _column: "race-dropped")
    twice = races.duplicated("race_id", keep=False)
    quarantine.rows(
        file, races, twice, "race_id", lambda r: f"race_id {r['race_id']!r} appears twice", "race-dropped"
    )
    event = races["event_type"]
    quarantine.rows(
        file,
        races,
        event.notna() & ~event.isin(EVENT_TYPES),
        "event_type",
        lambda r: f"{r['event_type']!r} is not one of {EVENT_TYPES}",
        "race-dropped",
    )
    points = races["event_type"] == "points"
    unnumbered = points & races["race_num"].isna() & ~_has_problem(races, problems, "race_num")
    quarantine.rows(
        file, races, unnumbered, "race_num", lambda _r: "a points race needs a race_num", "race-dropped"
    )
    quarantine.rows(
        file,
        races,
        races["laps"] <= 0,
        "laps",
        lambda r: f"race laps must be positive, got {r['laps']}",
        "race-dropped",
    )
    numbered = points & races["race_num"].notna() & races["season"].notna()
    clash = numbered & races.duplicated(["season", "race_num"], keep=False) & numbered
    quarantine.rows(
        file,
        races,
        clash & numbered,
        "race_num",
        lambda r: f"season/race_num ({r['season']}, {r['race_num']}) is used by two points races",
        "race-dropped",
    )
    gone_venue = races["track_slug"].isin(quarantine.dropped_venues)
    quarantine.rows(
        file,
        races,
        gone_venue,
        "track_slug",
        lambda r: f"venue {r['track_slug']!r} is quarantined (see tracks.csv / track_configurations.csv)",
        "venue-dropped",
    )
    kept = _as_int(races[~races["race_id"].isin(quarantine.dropped_races)].copy(), RACES_REQUIRED)
    types = _track_types(kept, tracks, configs, file, quarantine)
    kept = kept.assign(track_type=types)
    return kept[~kept["race_id"].isin(quarantine.dropped_races)].copy()


def _has_problem(table: pd.DataFrame, problems: list[tuple[int, str, str]], column: str) -> pd.Series:
    positions = {position for position, col, _ in problems if col == column}
    return pd.Series(table.index.isin(list(positions)), index=table.index)


def _track_types(
    races: pd.DataFrame, tracks: pd.DataFrame, configs: pd.DataFrame, file: str, quarantine: _Quarantine
) -> pd.Series:
    """One type per (slug, season) pair, not per race: 379 races reduce to ~250 look-ups. A pair that
    cannot be resolved drops the venue's races."""
    resolve = TrackTypeResolver(configs)
    usable = tracks[~tracks["track_slug"].isin(quarantine.dropped_venues)]
    surfaces = dict(zip(usable["track_slug"], usable["surface"], strict=True))
    lengths = dict(zip(usable["track_slug"], usable["length_mi"], strict=True))
    types: dict[tuple[str, int], str] = {}
    unresolved: dict[str, str] = {}
    for slug, season in races[["track_slug", "season"]].drop_duplicates().itertuples(index=False):
        length = lengths.get(slug)
        surface = surfaces.get(slug)
        try:
            types[(slug, season)] = resolve(
                slug,
                int(season),
                surface=None if surface is None or pd.isna(surface) else str(surface),
                length_mi=None if length is None or pd.isna(length) else float(length),
            )
        except ValueError as exc:
            unresolved.setdefault(slug, f"{exc} (add the venue to tracks.csv or track_configurations.csv)")
    for slug, reason in unresolved.items():
        quarantine.rows(
            file, races, races["track_slug"] == slug, "track_slug", lambda _r, m=reason: m, "venue-dropped"
        )
    return pd.Series(
        [types.get((s, y), "") for s, y in zip(races["track_slug"], races["season"], strict=True)],
        index=races.index,
        dtype="str",
    )


def _load_results(path: Path, races: pd.DataFrame, quarantine: _Quarantine) -> pd.DataFrame:
    results, problems = read_table_lenient(path, RESULTS_REQUIRED, RESULTS_OPTIONAL, strict=("race_id",))
    if "driver_raw" not in results.columns:
        results["driver_raw"] = results["driver"]
    file = path.name
    work = _known_races(results, races, file, quarantine, "race-dropped")
    quarantine.cells(
        file, work, problems, lambda column: "starts-masked" if column == "start" else "race-dropped"
    )
    for column in ("laps", "laps_led", "fastest_laps"):
        if column in work.columns:
            quarantine.rows(
                file,
                work,
                work[column] < 0,
                column,
                lambda r, c=column: f"{r[c]} is negative",
                "race-dropped",
            )
    quarantine.rows(
        file,
        work,
        work["laps_led"] > work["laps"],
        "laps_led",
        lambda _r: "more laps led than laps completed",
        "race-dropped",
    )
    race_laps = work["race_id"].map(races.set_index("race_id")["laps"])
    quarantine.rows(
        file,
        work.assign(_race_laps=race_laps),
        work["laps"] > race_laps,
        "laps",
        lambda r: f"{r['laps']} laps completed, but races.csv gives the race {r['_race_laps']} laps",
        "race-dropped",
    )
    _check_race_facts(work, races, file, quarantine)
    keys = pd.DataFrame({"race_id": work["race_id"], "key": work["driver"].map(name_key)}, index=work.index)
    quarantine.rows(
        file,
        work,
        keys.duplicated(keep="first"),
        "driver",
        lambda r: f"driver {r['driver']!r} appears twice in race {r['race_id']!r}",
        "race-dropped",
    )
    _check_positions(work, "finish", file, quarantine, "race-dropped")
    _check_positions(work, "start", file, quarantine, "starts-masked")
    kept = work[~work["race_id"].isin(quarantine.dropped_races)].copy()
    masked = kept["race_id"].isin(quarantine.masked_races)
    kept["start"] = kept["start"].astype("Int64").mask(masked, pd.NA)
    kept = _as_int(kept, {k: v for k, v in RESULTS_REQUIRED.items() if k != "start"})
    return _with_race_facts(kept.reset_index(drop=True), races)


def _known_races(
    table: pd.DataFrame, races: pd.DataFrame, file: str, quarantine: _Quarantine, action: Action
) -> pd.DataFrame:
    """Rows of races that are in races.csv; rows of a race quarantined there follow it silently, a
    race_id races.csv never named is listed once (its first row)."""
    known = table["race_id"].isin(races["race_id"])
    stranger = ~known & ~table["race_id"].isin(quarantine.dropped_races)
    first = stranger & ~table["race_id"].duplicated(keep="first")
    counts = table.loc[stranger, "race_id"].value_counts()
    quarantine.rows(
        file,
        table,
        first,
        "race_id",
        lambda r: f"race_id {r['race_id']!r} is not in races.csv ({counts[r['race_id']]} row(s) set aside)",
        action,
    )
    return table[known].copy()


def _check_race_facts(results: pd.DataFrame, races: pd.DataFrame, file: str, quarantine: _Quarantine) -> None:
    """season/race_num/track_slug of a result row, where the export has them, must agree with races.csv."""
    facts = races.set_index("race_id")
    for column in ("season", "race_num", "track_slug"):
        if column not in results.columns:
            continue
        expected = results["race_id"].map(facts[column])
        given = results[column]
        differs = given.notna() & ((expected.isna()) | (given.astype(str) != expected.astype(str)))
        quarantine.rows(
            file,
            results.assign(_expected=expected),
            differs,
            column,
            lambda r, c=column: (
                f"{r[c]!r} disagrees with races.csv ({r['_expected']!r} for {r['race_id']!r})"
            ),
            "race-dropped",
        )


def _check_positions(
    results: pd.DataFrame, column: str, file: str, quarantine: _Quarantine, action: Action
) -> None:
    """Positions of each race must be exactly 1..n (n = drivers in that race): no gaps, no ties.
    A missing cell was already listed by the cell conversion (a blank start is listed here)."""
    size = results.groupby("race_id", sort=False)["race_id"].transform("size")
    positions = results[column]
    table = results.assign(_size=size)
    if column == "start":
        quarantine.rows(
            file,
            table,
            positions.isna() & ~_is_listed(results, quarantine, file, column),
            column,
            lambda r: f"starting position is missing in race {r['race_id']!r}",
            action,
        )
    outside = positions.notna() & ((positions < 1) | (positions > size))
    quarantine.rows(
        file,
        table,
        outside,
        column,
        lambda r: f"{r[column]} is outside 1..{r['_size']} (drivers in race {r['race_id']!r})",
        action,
    )
    tie = positions.notna() & results.duplicated(["race_id", column], keep="first")
    quarantine.rows(
        file,
        table,
        tie,
        column,
        lambda r: f"position {r[column]} appears twice in race {r['race_id']!r}",
        action,
    )


def _is_listed(table: pd.DataFrame, quarantine: _Quarantine, file: str, column: str) -> pd.Series:
    listed = {item.row for item in quarantine.items if item.file == file and item.column == column}
    rows = pd.Series([sheet_row(int(label)) for label in table.index], index=table.index)
    return rows.isin(listed)


def _with_race_facts(results: pd.DataFrame, races: pd.DataFrame) -> pd.DataFrame:
    """season/race_num/track_slug/track_type from races.csv (an export may omit them)."""
    facts = races.set_index("race_id")
    for column in ("season", "race_num", "track_slug"):
        results[column] = results["race_id"].map(facts[column])
    if results["race_num"].notna().all():  # result rows are points races: keep plain ints
        results["race_num"] = results["race_num"].astype("int64")
    results["season"] = results["season"].astype("int64")
    results["track_type"] = results["race_id"].map(facts["track_type"])
    return results


def _load_loop(path: Path, races: pd.DataFrame, quarantine: _Quarantine) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(
            {col: pd.Series(dtype="int64" if kind == "int" else "str") for col, kind in LOOP_REQUIRED.items()}
        )
    loop, problems = read_table_lenient(path, LOOP_REQUIRED, LOOP_OPTIONAL, strict=("race_id",))
    file = path.name
    work = _known_races(loop, races, file, quarantine, "loop-dropped")
    quarantine.cells(file, work, problems, lambda _column: "loop-dropped")
    for column in ("laps", "laps_led", "fastest_laps"):
        quarantine.rows(
            file, work, work[column] < 0, column, lambda r, c=column: f"{r[c]} is negative", "loop-dropped"
        )
    # Exhibition events bundle heats (Duels, Open + All-Star), so one driver may appear twice there.
    points = work["race_id"].map(races.set_index("race_id")["event_type"]) == "points"
    keys = pd.DataFrame({"race_id": work["race_id"], "key": work["driver"].map(name_key)}, index=work.index)
    quarantine.rows(
        file,
        work,
        points & keys.duplicated(keep="first"),
        "driver",
        lambda r: f"driver {r['driver']!r} appears twice in race {r['race_id']!r}",
        "loop-dropped",
    )
    kept = work[~work["race_id"].isin(quarantine.loop_dropped)].copy()
    return _as_int(kept, LOOP_REQUIRED).reset_index(drop=True)
