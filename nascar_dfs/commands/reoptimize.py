"""`nascar-dfs reoptimize`: pre-lock re-optimization (NASCAR's late swap) of a DKEntries.csv through
Dagster, from the command line.

The same run the REST API's `POST /v1/lineup-requests/{id}/reoptimize` asks for, on the embedded
instance: the race x spec's lineup request first (the platform's one plan, reusing what is current,
as `nascar-dfs lineups` runs it: nascar_dfs/commands/request_run.py), then the `reoptimized_entries`
partition of the entries and changes (nascar_dfs/defs/lineups/reoptimize.py). The re-optimized
DKEntries.csv goes to --out; bad input is refused before any run, and a failed run prints its root
cause with a non-zero exit.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nascar_dfs.cli import CliError
from nascar_dfs.commands.lineups import add_spec_arguments, pin_spec, race_and_spec

HELP = "re-optimize a DKEntries.csv before lock (drivers out, sent to the rear) on the race's scenarios"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--race", required=True, help="race id, e.g. 2026-cup-phoenix-1")
    parser.add_argument("--entries", required=True, type=Path, help="the DKEntries.csv to re-optimize")
    parser.add_argument("--out", required=True, type=Path, help="where to write the re-optimized file")
    parser.add_argument(
        "--out-driver", dest="out_drivers", action="append", default=[], help="a driver ruled out (repeat)",
    )  # fmt: skip
    parser.add_argument(
        "--to-rear", dest="to_rear", action="append", default=[],
        help="a driver sent to the rear (repeatable): the race is re-simulated on the new grid",
    )  # fmt: skip
    parser.add_argument("--starts", type=Path, help="a whole new starting lineup (driver,start CSV)")
    add_spec_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="short MCMC chain (smoke test, not for play)")
    parser.add_argument("--verbose", action="store_true", help="Dagster's event stream (DEBUG)")


def _changes(args: argparse.Namespace):
    from nascar_dfs.platform import starting_lineups
    from nascar_dfs.platform.reoptimizations import Changes

    starts = None
    if args.starts is not None:
        try:
            content = args.starts.read_bytes()
        except OSError as exc:
            raise CliError(f"{args.starts}: cannot read it: {exc}") from None
        try:
            rows = starting_lineups.parse_csv(content)
        except starting_lineups.StartingLineupError as exc:
            raise CliError(str(exc)) from None
        try:
            starts = {driver: int(start) for _, driver, start in rows}
        except ValueError:
            bad = next(start for _, _, start in rows if not start.strip().lstrip("-").isdigit())
            raise CliError(f"{args.starts}: start {bad!r} is not an integer") from None
    return Changes(out=tuple(args.out_drivers), to_rear=tuple(args.to_rear), starts=starts)


def run(args: argparse.Namespace) -> int:
    data_dir, storage, spec = race_and_spec(args)
    try:
        entries_csv = args.entries.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.entries}: cannot read it as text: {exc}") from None
    spec = pin_spec(spec, args.race, storage)

    from nascar_dfs.platform.reoptimizations import (
        Reoptimization,
        ReoptimizationInputError,
        check_reoptimization,
    )

    request = Reoptimization(args.race, spec.key, entries_csv, _changes(args))
    try:
        check_reoptimization(storage, args.race, spec, request)
    except ReoptimizationInputError as exc:
        raise CliError(f"{args.entries.name}: {exc}") from None

    from nascar_dfs.commands.request_run import QUIET_LOG_LEVEL, prepare_instance, run_request

    home = prepare_instance()

    import dagster as dg

    from nascar_dfs.commands.demo import QUICK_FIT
    from nascar_dfs.definitions import build_definitions
    from nascar_dfs.platform import tags
    from nascar_dfs.platform.failures import step_failure_message
    from nascar_dfs.platform.io_manager import read_output
    from nascar_dfs.platform.jobs import REOPTIMIZE_JOB
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.plan import RequestFailedError
    from nascar_dfs.platform.reoptimizations import register_reoptimization
    from nascar_dfs.platform.resources import FitSettings

    defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)} if args.quick else None)
    started = time.perf_counter()
    print(f"instance: {home}  data: {data_dir}", flush=True)
    print(f"race {args.race}, spec {spec.key}: the request's lineups first", flush=True)
    with dg.DagsterInstance.get() as instance:
        register_races(instance, [args.race])
        try:
            run_request(
                defs, instance, args.race, spec, storage_root=storage, reason="request", verbose=args.verbose
            )
        except (RequestFailedError, KeyError, ValueError) as exc:
            raise CliError(str(exc)) from None
        key = register_reoptimization(instance, storage, request)
        print(f"re-optimization {key} (partition of reoptimized_entries)", flush=True)
        log_level = None if args.verbose else QUIET_LOG_LEVEL
        result = defs.resolve_job_def(REOPTIMIZE_JOB).execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}} if log_level else None,
            instance=instance,
            partition_key=key,
            tags=tags.run_tags(tags.REOPTIMIZE, "request", args.race),
            raise_on_error=False,
        )
        if not result.success:
            cause = step_failure_message(instance, result.run_id) or "the run failed"
            raise CliError(f"re-optimization run {result.run_id} failed: {cause}")
    text = read_output(storage, "reoptimized_entries", [key])
    if text is None:
        raise CliError(f"the run succeeded but stored no re-optimized DKEntries.csv for {key}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"total {time.perf_counter() - started:.1f} s")
    print(f"re-optimized DKEntries.csv: {args.out}")
    return 0
