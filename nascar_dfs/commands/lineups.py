"""`nascar-dfs lineups`: a race's modelled lineups through Dagster, from the command line.

The same request as the REST API's (the spec pinned to the race's current slate, the platform's one
plan), run in this process as `demo` runs it (nascar_dfs/commands/request_run.py): one line per
step with its time and warnings (start-positions-unknown when the race has no starting lineup), the
DraftKings upload CSV written to --out, and on failure the root cause with a non-zero exit.
`--slate` and `--starts` store the race's DKSalaries.csv and starting lineup first, exactly as
`nascar-dfs race slate` and `nascar-dfs race starts` do (nascar_dfs/commands/race.py).
`--projections` and `--ownership` take the player's own numbers as the REST API's player-numbers
upload does, folded into the spec (so into its hash) and checked against the pinned slate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nascar_dfs.cli import CliError

HELP = "build a race's lineups through Dagster (its model, scenarios, optimizer) and write the DK upload CSV"

# Spec flags: (flag, ConstraintSpec field, type, help). None means "not given", so a flag can be
# told apart from the spec's own default and never silently mixed with --spec.
SPEC_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--lineups", "lineups", int, "distinct lineups (1-500; default 20)"),
    ("--max-exposure", "max_exposure", float, "max share of lineups per driver (0-1]"),
    ("--min-unique", "min_unique", int, "drivers any two lineups must not share"),
    ("--scenarios", "scenarios", int, "simulated races (default 10,000)"),
    ("--objective", "objective", str, "scenario (default), mean or leverage"),
    ("--max-per-team", "max_per_team", int, "drivers of one team per lineup"),
)
LIST_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--lock", "locks", "a driver in every lineup (repeatable)"),
    ("--exclude", "excludes", "a driver in no lineup (repeatable)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--race", required=True, help="race id, e.g. 2026-cup-phoenix-1")
    parser.add_argument("--out", required=True, type=Path, help="where to write the DraftKings upload CSV")
    parser.add_argument("--slate", type=Path, help="DKSalaries.csv to store as the race's slate first")
    parser.add_argument("--new-drivers", default="", help="with --slate: comma-separated debutants")
    parser.add_argument("--starts", type=Path, help="starting lineup to store first (CSV or .json)")
    numbers = parser.add_argument_group(
        "your own numbers",
        "CSV: a driver column, mean (sd optional) and/or ownership in percent; one file may hold both",
    )
    numbers.add_argument("--projections", type=Path, help="CSV of your projections (driver,mean[,sd])")
    numbers.add_argument("--ownership", type=Path, help="CSV of your projected ownership (driver,ownership)")
    add_spec_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="short MCMC chain (smoke test, not for play)")
    parser.add_argument(
        "--verbose", action="store_true", help="Dagster's event stream (DEBUG) instead of one line per step"
    )


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("spec", "a spec.json, or these flags (not both)")
    group.add_argument("--spec", type=Path, help="spec.json: a ConstraintSpec as the REST API takes it")
    for flag, dest, kind, help_text in SPEC_FLAGS:
        group.add_argument(flag, dest=dest, type=kind, default=None, help=help_text)
    for flag, dest, help_text in LIST_FLAGS:
        group.add_argument(flag, dest=dest, action="append", default=None, help=help_text)


def spec_from_args(args: argparse.Namespace):
    """The request's ConstraintSpec: --spec's JSON, or the flags given (the spec's defaults else)."""
    from pydantic import ValidationError

    from nascar_dfs.core.scenarios.spec import ConstraintSpec

    fields = {f: getattr(args, f) for _, f, _, _ in SPEC_FLAGS if getattr(args, f) is not None}
    fields |= {f: getattr(args, f) for _, f, _ in LIST_FLAGS if getattr(args, f) is not None}
    source = "spec"
    if args.spec is not None:
        if fields:
            raise CliError("give --spec or spec flags (--lineups, --max-exposure, ...), not both")
        source = args.spec.name
        try:
            fields = json.loads(args.spec.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.spec}: not a readable JSON file: {exc}") from None
    try:
        return ConstraintSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise CliError(f"{source}: {problems}") from None


def _store_uploads(args: argparse.Namespace) -> None:
    """--slate and --starts through the `race slate` and `race starts` commands themselves."""
    from nascar_dfs.commands import race

    if args.slate is not None:
        race.run(
            argparse.Namespace(
                race_command="slate", race_id=args.race, file=args.slate, new_drivers=args.new_drivers
            )
        )
    elif args.new_drivers:
        raise CliError("--new-drivers declares debutants of the --slate it comes with")
    if args.starts is not None:
        race.run(argparse.Namespace(race_command="starts", race_id=args.race, file=args.starts))


def pin_spec(spec, race: str, storage_root: Path):
    """The spec with the slate version its lineups are built from, as the REST API pins it: the
    version it names (stored for the race), else the race's current slate; no slate is an error."""
    from nascar_dfs.platform import slate_store

    slates = slate_store.slates_dir(storage_root)
    try:
        if spec.slate_version is not None:
            slate_store.pinned_slate(slates, race, spec.slate_version)
            return spec
        current = slate_store.require_current(slates, race)
    except slate_store.SlateMissingError as exc:
        raise CliError(str(exc)) from None
    return spec.model_copy(update={"slate_version": current.version})


def _numbers_files(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    """(name, content) of the --projections / --ownership files, each read once; a file given for
    projections must have a mean column, one for ownership an ownership column."""
    from nascar_dfs.core.player_numbers import PlayerNumbersError, parse_csv

    files: dict[Path, tuple[str, bytes]] = {}
    for flag, path, wanted in (
        ("--projections", args.projections, "projections"),
        ("--ownership", args.ownership, "ownership"),
    ):
        if path is None:
            continue
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CliError(f"{flag} {path}: cannot be read: {exc.strerror}") from None
        try:
            parsed = parse_csv(content, path.name)
        except PlayerNumbersError as exc:
            raise CliError(str(exc)) from None
        if not getattr(parsed, wanted):
            column = "mean" if wanted == "projections" else "ownership"
            raise CliError(f"{flag} {path.name}: the file has no {column} values")
        files[path.resolve()] = (path.name, content)
    return list(files.values())


def with_player_numbers(args: argparse.Namespace, spec, storage_root: Path, data_dir: Path):
    """The pinned spec with the --projections / --ownership files folded in, as the REST API folds
    an upload (nascar_dfs/platform/player_numbers.py); every bad row and every name not on the
    pinned slate is named, and the command exits 2 before any run."""
    from nascar_dfs.platform import race_week

    files = _numbers_files(args)
    try:
        unknown = race_week.spec_unknown_names(storage_root, data_dir, args.race, spec)
        if unknown:
            named = "; ".join(f"spec {field}: {', '.join(names)}" for field, names in unknown.items())
            raise CliError(f"drivers not on the slate {spec.slate_version} of {args.race}: {named}")
        if files:
            spec = race_week.fold_player_numbers(storage_root, data_dir, args.race, spec, files)
        problem = race_week.spec_ownership_problem(storage_root, data_dir, args.race, spec)
        if problem is not None:
            raise CliError(f"ownership: {problem}")
        return spec
    except (race_week.PlayerNumbersError, race_week.HistoryUnavailableError) as exc:
        raise CliError(str(exc)) from None


def race_and_spec(args: argparse.Namespace) -> tuple[Path, Path, object]:
    """(data folder, storage root, spec) of a command on one race: the race must be known, and the
    spec comes from the flags (or --spec)."""
    from nascar_dfs.platform import race_week
    from nascar_dfs.platform.resources import FileStorage, NascarData

    spec = spec_from_args(args)
    try:
        data_dir = NascarData().root()
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    storage = FileStorage().root()
    if race_week.race_info(storage, data_dir, args.race) is None:
        raise CliError(f"unknown race {args.race}: add it first with `nascar-dfs race add`")
    return data_dir, storage, spec


def run(args: argparse.Namespace) -> int:
    import time

    data_dir, storage, spec = race_and_spec(args)
    _store_uploads(args)
    spec = pin_spec(spec, args.race, storage)
    spec = with_player_numbers(args, spec, storage, data_dir)

    from nascar_dfs.commands.request_run import prepare_instance, run_request

    home = prepare_instance()

    import dagster as dg

    from nascar_dfs.commands.demo import QUICK_FIT
    from nascar_dfs.definitions import build_definitions
    from nascar_dfs.platform.io_manager import read_output
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.plan import RequestFailedError
    from nascar_dfs.platform.resources import FitSettings

    defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)} if args.quick else None)
    started = time.perf_counter()
    print(f"instance: {home}  data: {data_dir}", flush=True)
    print(
        f"race {args.race}, spec {spec.key} ({spec.lineups} lineups, {spec.scenarios} scenarios,"
        f" slate {spec.slate_version})",
        flush=True,
    )
    if spec.projections or spec.ownership:
        print(
            f"your numbers: {len(spec.projections)} projections, {len(spec.ownership)} ownership", flush=True
        )
    with dg.DagsterInstance.get() as instance:
        register_races(instance, [args.race])
        try:
            run_request(
                defs, instance, args.race, spec,
                storage_root=storage, reason="request", verbose=args.verbose,
            )  # fmt: skip
        except (RequestFailedError, KeyError, ValueError) as exc:
            raise CliError(str(exc)) from None
    upload = read_output(storage, "dk_upload_csv", [args.race, spec.key])
    if upload is None:
        raise CliError(f"the runs succeeded but stored no DraftKings upload CSV for {args.race}|{spec.key}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(upload, encoding="utf-8")
    print(f"total {time.perf_counter() - started:.1f} s")
    print(f"DraftKings upload CSV: {args.out} ({spec.lineups} lineups)")
    return 0
