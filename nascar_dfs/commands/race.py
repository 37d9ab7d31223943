"""`nascar-dfs race`: the race week from the command line: add upcoming races (one, or a season from
NASCAR's schedule feed), upload a race's DraftKings slate and its starting lineup, show a race.

Everything is kept under the platform's storage ($NASCAR_DFS_STORAGE, else $DAGSTER_HOME/storage)
and validated as the REST API validates it (nascar_dfs/platform/race_week.py); the data folder
($NASCAR_DFS_DATA_DIR) is read, never written. Adding a race registers its Dagster partition on the
instance under $DAGSTER_HOME at once.
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

HELP = "add upcoming races, upload a race's slate and starting lineup, show a race"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="race_command", required=True)
    add = sub.add_parser("add", help="add an upcoming race (or a season's races with --schedule)")
    add.add_argument("race_id", nargs="?", help="e.g. 2026-cup-phoenix-1")
    add.add_argument("--date", type=_date, help="YYYY-MM-DD, the race's local date")
    add.add_argument("--track", help="track_slug of tracks.csv, e.g. phoenix")
    add.add_argument("--laps", type=int, help="scheduled laps")
    add.add_argument("--name", help="the race's name")
    add.add_argument(
        "--schedule",
        type=Path,
        help="NASCAR schedule feed JSON: adds every Cup race of it (laps: the venue's latest race)",
    )
    starts = sub.add_parser(
        "starts", help="upload a race's starting lineup (driver,start CSV or weekend feed)"
    )
    starts.add_argument("race_id")
    starts.add_argument("file", type=Path, help="driver,start CSV or NASCAR weekend feed .json")
    slate = sub.add_parser("slate", help="upload a race's DKSalaries.csv")
    slate.add_argument("race_id")
    slate.add_argument("file", type=Path, help="DKSalaries.csv")
    slate.add_argument("--new-drivers", default="", help="comma-separated slate names of debutants")
    show = sub.add_parser("show", help="a race: date, track, laps, slate, starting lineup")
    show.add_argument("race_id")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _fail(message: str) -> None:
    from nascar_dfs.cli import CliError

    raise CliError(message)


def _data_dir() -> Path:
    from nascar_dfs.platform.resources import NascarData

    try:
        return NascarData().root()
    except FileNotFoundError as exc:
        _fail(str(exc))
        raise


def _storage() -> Path:
    from nascar_dfs.platform.storage import resolve_base_path

    return resolve_base_path(None)


def _register(races: list[str]) -> None:
    from nascar_dfs.platform.instance import prepare_dagster_home

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    import dagster as dg

    from nascar_dfs.platform.partitions import register_races

    with dg.DagsterInstance.get() as instance:
        register_races(instance, races)


def _add(args: argparse.Namespace) -> int:
    from nascar_dfs.platform import race_week

    data_dir, storage = _data_dir(), _storage()
    if args.schedule is not None:
        if args.race_id or args.date or args.track or args.laps:
            _fail("--schedule adds the feed's races: give no RACE_ID, --date, --track or --laps with it")
        try:
            content = args.schedule.read_bytes()
        except OSError as exc:
            _fail(f"{args.schedule}: {exc}")
        try:
            scheduled = race_week.add_schedule(storage, data_dir, content)
        except race_week.RaceEntryError as exc:
            _fail(f"{args.schedule.name}: {exc}")
        added = [s.race.race_id for s in scheduled]
        _register(added)
        for item in scheduled:
            race = item.race
            print(
                f"added {race.race_id}  {race.race_date}  {race.track_slug}  {race.laps} laps "
                f"(laps of {item.laps_from})  {race.name or ''}".rstrip()
            )
        return 0
    given = {"RACE_ID": args.race_id, "--date": args.date, "--track": args.track, "--laps": args.laps}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        _fail(f"missing {', '.join(missing)} (or give --schedule FILE)")
    race = race_week.UpcomingRace(args.race_id, args.date, args.track, args.laps, args.name)
    try:
        race_week.add_races(storage, data_dir, [race])
    except race_week.RaceEntryError as exc:
        _fail(str(exc))
    _register([race.race_id])
    print(f"added {race.race_id}  {race.race_date}  {race.track_slug}  {race.laps} laps  {race.name or ''}")
    return 0


def _known_race(race_id: str) -> None:
    from nascar_dfs.platform import race_week

    if race_week.race_info(_storage(), _data_dir(), race_id) is None:
        _fail(f"unknown race {race_id}: add it first with `nascar-dfs race add`")


def _starts(args: argparse.Namespace) -> int:
    from nascar_dfs.platform import race_week

    _known_race(args.race_id)
    try:
        content = args.file.read_bytes()
    except OSError as exc:
        _fail(f"{args.file}: {exc}")
    feed = args.file.suffix.lower() == ".json"
    try:
        stored = race_week.upload_starting_lineup(_storage(), _data_dir(), args.race_id, content, feed)
    except race_week.StartingLineupError as exc:
        _fail(str(exc).replace(exc.file, args.file.name, 1))
    except race_week.HistoryUnavailableError as exc:
        _fail(str(exc))
    print(f"starting lineup of {args.race_id}: {stored.drivers} drivers (version {stored.version})")
    return 0


def _slate(args: argparse.Namespace) -> int:
    from nascar_dfs.core.data.draftkings import UndeclaredDebutantError, UnknownDriversError
    from nascar_dfs.core.data.errors import DataValidationError
    from nascar_dfs.platform import race_week

    _known_race(args.race_id)
    try:
        content = args.file.read_bytes()
    except OSError as exc:
        _fail(f"{args.file}: {exc}")
    debutants = tuple(n.strip() for n in args.new_drivers.split(",") if n.strip())
    try:
        stored = race_week.upload_slate(_storage(), _data_dir(), args.race_id, content, debutants)
    except DataValidationError as exc:
        _fail(str(exc).replace(race_week.SLATE_FILE, args.file.name, 1))
    except UnknownDriversError as exc:
        listed = "; ".join(f"{n} (closest: {', '.join(exc.suggestions[n]) or 'none'})" for n in exc.names)
        _fail(f"{args.file.name}: not in the race history: {listed}; declare debutants with --new-drivers")
    except (UndeclaredDebutantError, race_week.HistoryUnavailableError) as exc:
        _fail(str(exc).replace(race_week.SLATE_FILE, args.file.name))
    print(f"slate of {args.race_id}: {stored.drivers} drivers (version {stored.version})")
    return 0


def _show(args: argparse.Namespace) -> int:
    from nascar_dfs.platform import race_week

    info = race_week.race_info(_storage(), _data_dir(), args.race_id)
    if info is None:
        _fail(f"unknown race {args.race_id}")
    slate = race_week.current_slate(race_week.slates_dir(_storage()), args.race_id)
    lineup = race_week.starting_lineup(_storage(), args.race_id)
    print(f"{args.race_id}  {info.get('race_date') or '-'}  {info['track_slug']}  {info.get('laps')} laps")
    print(
        f"slate: {slate.version if slate else 'none'}  starting lineup: {len(lineup) if lineup else 'none'}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    handlers = {"add": _add, "starts": _starts, "slate": _slate, "show": _show}
    return handlers[args.race_command](args)
