"""The race history in the shared layout: races, results, loop statistics, tracks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.tables import first_bad_position, read_table, sheet_row
from nascar_dfs.core.names import name_key
from nascar_dfs.core.tracks import TrackTypeResolver, track_type_of_family

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
    "start": "int",
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
TRACKS_REQUIRED = {"track_slug": "str", "surface": "str"}
TRACKS_OPTIONAL = {
    "length_mi": "nullable_float",
    "first_season": "nullable_int",
    "last_season": "nullable_int",
}
CONFIGS_REQUIRED = {
    "track_slug": "str",
    "primary_family": "str",
    "first_year_in_scope": "int",
    "last_year_through_2024": "int",
}
CONFIGS_OPTIONAL = {"length_mi": "nullable_float"}


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

    def points_races(self) -> pd.DataFrame:
        """Points races ordered by (season, race_num)."""
        points = self.races[self.races["event_type"] == "points"]
        return points.sort_values(["season", "race_num"], kind="stable").reset_index(drop=True)

    def race(self, race_id: str) -> RaceInfo:
        """Facts of one race; KeyError names the unknown race_id."""
        rows = self.races[self.races["race_id"] == race_id]
        if rows.empty:
            raise KeyError(f"race {race_id!r} is not in races.csv")
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
            raise KeyError(f"race {race_id!r} is not in races.csv")
        rows = self.results[self.results["race_id"] == race_id]
        if rows.empty:
            raise KeyError(f"race {race_id!r} has no rows in cup_results.csv (not run yet?)")
        return rows.sort_values("finish").reset_index(drop=True)

    def has_results(self, race_id: str) -> bool:
        return bool((self.results["race_id"] == race_id).any())


def load_history(data_dir: Path | str) -> RaceHistory:
    """Read and validate a data folder in the shared layout; raise DataValidationError on the first problem.

    loop_data.csv and track_configurations.csv are optional (a user's own export may lack them);
    without configurations the track type comes from tracks.csv `surface` (see `track_type_for`).
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    tracks = _load_tracks(folder / TRACKS_FILE)
    configs = _load_configs(folder / CONFIGS_FILE)
    races = _load_races(folder / RACES_FILE, tracks, configs)
    results = _load_results(folder / RESULTS_FILE, races)
    loop = _load_loop(folder / LOOP_FILE, races)
    return RaceHistory(races=races, results=results, loop=loop, tracks=tracks, track_configurations=configs)


def _load_tracks(path: Path) -> pd.DataFrame:
    tracks = read_table(path, TRACKS_REQUIRED, TRACKS_OPTIONAL)
    _reject_duplicates(tracks, ["track_slug"], path.name, "track_slug", "track_slug {} appears twice")
    return tracks


def _load_configs(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(
            {
                col: pd.Series(dtype="int64" if kind == "int" else "str")
                for col, kind in CONFIGS_REQUIRED.items()
            }
        )
    configs = read_table(path, CONFIGS_REQUIRED, CONFIGS_OPTIONAL)
    known = configs["primary_family"].map(_is_known_family)
    unknown = first_bad_position(~known)
    if unknown is not None:
        raise DataValidationError(
            path.name, sheet_row(unknown), "primary_family",
            f"{configs['primary_family'].iloc[unknown]!r} is not a known track family",
        )  # fmt: skip
    backwards = configs["first_year_in_scope"] > configs["last_year_through_2024"]
    position = first_bad_position(backwards)
    if position is not None:
        raise DataValidationError(
            path.name, sheet_row(position), "last_year_through_2024", "ends before first_year_in_scope"
        )
    return configs


def _is_known_family(family: str) -> bool:
    try:
        track_type_of_family(family)
    except ValueError:
        return False
    return True


def _load_races(path: Path, tracks: pd.DataFrame, configs: pd.DataFrame) -> pd.DataFrame:
    races = read_table(path, RACES_REQUIRED, RACES_OPTIONAL)
    if races.empty:
        raise DataValidationError(path.name, None, None, "the file holds no races")
    _reject_duplicates(races, ["race_id"], path.name, "race_id", "race_id {} appears twice")
    bad_type = first_bad_position(~races["event_type"].isin(EVENT_TYPES))
    if bad_type is not None:
        raise DataValidationError(
            path.name,
            sheet_row(bad_type),
            "event_type",
            f"{races['event_type'].iloc[bad_type]!r} is not one of {EVENT_TYPES}",
        )
    unnumbered = first_bad_position((races["event_type"] == "points") & races["race_num"].isna())
    if unnumbered is not None:
        raise DataValidationError(
            path.name, sheet_row(unnumbered), "race_num", "a points race needs a race_num"
        )
    non_positive = first_bad_position(races["laps"] <= 0)
    if non_positive is not None:
        raise DataValidationError(path.name, sheet_row(non_positive), "laps", "race laps must be positive")
    _reject_duplicates(
        races[races["event_type"] == "points"],
        ["season", "race_num"],
        path.name,
        "race_num",
        "season/race_num {} is used by two points races",
    )
    races["track_type"] = _track_types(races, tracks, configs, path.name)
    return races


def _track_types(races: pd.DataFrame, tracks: pd.DataFrame, configs: pd.DataFrame, file: str) -> pd.Series:
    """One type per (slug, season) pair, not per race: 379 races reduce to ~250 look-ups."""
    resolve = TrackTypeResolver(configs)
    surfaces = dict(zip(tracks["track_slug"], tracks["surface"], strict=True))
    lengths = (
        dict(zip(tracks["track_slug"], tracks["length_mi"], strict=True)) if "length_mi" in tracks else {}
    )
    types: dict[tuple[str, int], str] = {}
    for slug, season in races[["track_slug", "season"]].drop_duplicates().itertuples(index=False):
        length = lengths.get(slug)
        try:
            types[(slug, season)] = resolve(
                slug, int(season), surface=surfaces.get(slug),
                length_mi=None if length is None or pd.isna(length) else float(length),
            )  # fmt: skip
        except ValueError as exc:
            position = first_bad_position((races["track_slug"] == slug).to_numpy())
            raise DataValidationError(
                file, sheet_row(position or 0), "track_slug", f"{exc} (add the venue to tracks.csv)"
            ) from exc
    return pd.Series(
        [types[(s, y)] for s, y in zip(races["track_slug"], races["season"], strict=True)],
        index=races.index,
        dtype="str",
    )


def _load_results(path: Path, races: pd.DataFrame) -> pd.DataFrame:
    results = read_table(path, RESULTS_REQUIRED, RESULTS_OPTIONAL)
    if "driver_raw" not in results.columns:
        results["driver_raw"] = results["driver"]
    _reject_unknown_races(results, races, path.name)
    _reject_negative(results, ["laps", "laps_led", "fastest_laps"], path.name)
    over = first_bad_position(results["laps_led"] > results["laps"])
    if over is not None:
        raise DataValidationError(path.name, sheet_row(over), "laps_led", "more laps led than laps completed")
    race_laps = results["race_id"].map(races.set_index("race_id")["laps"])
    too_many = first_bad_position(results["laps"] > race_laps)
    if too_many is not None:
        raise DataValidationError(
            path.name, sheet_row(too_many), "laps",
            f"{results['laps'].iloc[too_many]} laps completed, but races.csv gives the race "
            f"{race_laps.iloc[too_many]} laps",
        )  # fmt: skip
    _reject_duplicate_drivers(results, path.name)
    _require_positions_permutation(results, "finish", path.name)
    _require_positions_permutation(results, "start", path.name)
    return _with_race_facts(results, races, path.name)


def _with_race_facts(results: pd.DataFrame, races: pd.DataFrame, file: str) -> pd.DataFrame:
    """season/race_num/track_slug come from races.csv (an export may omit them) and must agree with it."""
    facts = races.set_index("race_id")
    for column in ("season", "race_num", "track_slug"):
        expected = results["race_id"].map(facts[column])
        if column in results.columns:
            differs = (results[column] != expected).fillna(results[column].isna() != expected.isna())
            position = first_bad_position(differs)
            if position is not None:
                raise DataValidationError(
                    file, sheet_row(position), column,
                    f"{results[column].iloc[position]!r} disagrees with races.csv "
                    f"({expected.iloc[position]!r} for {results['race_id'].iloc[position]!r})",
                )  # fmt: skip
        results[column] = expected
    if results["race_num"].notna().all():  # result rows are points races: keep plain ints
        results["race_num"] = results["race_num"].astype("int64")
    results["track_type"] = results["race_id"].map(facts["track_type"])
    return results


def _load_loop(path: Path, races: pd.DataFrame) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(
            {col: pd.Series(dtype="int64" if kind == "int" else "str") for col, kind in LOOP_REQUIRED.items()}
        )
    loop = read_table(path, LOOP_REQUIRED, LOOP_OPTIONAL)
    _reject_unknown_races(loop, races, path.name)
    _reject_negative(loop, ["laps", "laps_led", "fastest_laps"], path.name)
    # Exhibition events bundle heats (Duels, Open + All-Star), so one driver may appear twice there.
    points_rows = loop["race_id"].map(races.set_index("race_id")["event_type"]) == "points"
    _reject_duplicate_drivers(loop[points_rows.to_numpy()], path.name)
    return loop


def _reject_unknown_races(table: pd.DataFrame, races: pd.DataFrame, file: str) -> None:
    unknown = first_bad_position(~table["race_id"].isin(races["race_id"]))
    if unknown is not None:
        raise DataValidationError(
            file,
            sheet_row(unknown),
            "race_id",
            f"race_id {table['race_id'].iloc[unknown]!r} is not in races.csv",
        )


def _reject_negative(table: pd.DataFrame, columns: list[str], file: str) -> None:
    for column in columns:
        if column in table.columns:
            position = first_bad_position((table[column] < 0).fillna(False))
            if position is not None:
                raise DataValidationError(
                    file, sheet_row(position), column, f"{table[column].iloc[position]} is negative"
                )


def _reject_duplicate_drivers(table: pd.DataFrame, file: str) -> None:
    keys = pd.DataFrame(
        {"race_id": table["race_id"].to_numpy(), "key": table["driver"].map(name_key).to_numpy()}
    )
    duplicated = keys.duplicated(keep="first").to_numpy()
    position = first_bad_position(duplicated)
    if position is not None:
        original = int(table.index[position])  # RangeIndex label = position in the file
        raise DataValidationError(
            file,
            sheet_row(original),
            "driver",
            f"driver {table['driver'].iloc[position]!r} appears twice in race "
            f"{table['race_id'].iloc[position]!r}",
        )


def _reject_duplicates(
    table: pd.DataFrame, columns: list[str], file: str, column: str, template: str
) -> None:
    duplicated = table.duplicated(columns, keep="first").to_numpy()
    position = first_bad_position(duplicated)
    if position is not None:
        value = tuple(table[columns].iloc[position]) if len(columns) > 1 else table[columns[0]].iloc[position]
        # tables keep read_table's RangeIndex, so a label is the row's position in the file
        row = sheet_row(int(table.index[position]))
        raise DataValidationError(file, row, column, template.format(repr(value)))


def _require_positions_permutation(results: pd.DataFrame, column: str, file: str) -> None:
    """Positions of each race must be exactly 1..n (n = drivers in that race): no gaps, no ties."""
    size = results.groupby("race_id", sort=False)["race_id"].transform("size")
    positions = results[column]
    out_of_range = first_bad_position((positions < 1) | (positions > size))
    if out_of_range is not None:
        raise DataValidationError(
            file,
            sheet_row(out_of_range),
            column,
            f"{positions.iloc[out_of_range]} is outside 1..{size.iloc[out_of_range]} "
            f"(drivers in race {results['race_id'].iloc[out_of_range]!r})",
        )
    tie = first_bad_position(results.duplicated(["race_id", column], keep="first"))
    if tie is not None:
        raise DataValidationError(
            file,
            sheet_row(tie),
            column,
            f"position {positions.iloc[tie]} appears twice in race {results['race_id'].iloc[tie]!r}",
        )
