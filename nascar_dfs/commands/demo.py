"""`nascar-dfs demo`: one demo race end to end through Dagster, on the instance under DAGSTER_HOME."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nascar_dfs.cli import CliError

HELP = "materialize a demo race end to end through Dagster and print where the DraftKings upload CSV is"

# A short chain for a smoke run: converges on the demo data in seconds, not a production fit.
# ESS and r-hat bounds are loosened to match 2 x 200 draws; divergences keep the model's own bound.
QUICK_FIT = {"chains": 2, "tune": 200, "draws": 200, "min_ess_bulk": 20.0, "max_rhat": 1.15}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--race", help="race partition to build (default: the demo slate's upcoming race)")
    parser.add_argument("--lineups", type=int, default=20, help="lineups in the portfolio (default 20)")
    parser.add_argument("--scenarios", type=int, default=2000, help="simulated races (default 2000)")
    parser.add_argument("--quick", action="store_true", help="short MCMC chain (smoke test, not for play)")
    parser.add_argument(
        "--contest-entries",
        type=int,
        help="pick the lineups for a GPP of this many entries (simulated ROI against a simulated field)",
    )
    parser.add_argument("--entry-fee", type=float, default=20.0, help="GPP entry fee in dollars (default 20)")
    parser.add_argument(
        "--verbose", action="store_true", help="Dagster's event stream (DEBUG) instead of one line per step"
    )


def upcoming_demo_race(data_dir: Path) -> str:
    """The first race of the data folder without results: the one the demo slate is for."""
    from nascar_dfs.core.data.calendar import read_calendar

    calendar = read_calendar(data_dir)
    upcoming = [r for r in calendar.race_ids() if r not in calendar.completed()]
    if not upcoming:
        raise CliError(f"no race without results in {data_dir}: pass --race")
    return upcoming[0]


def run(args: argparse.Namespace) -> int:
    from nascar_dfs.commands.request_run import prepare_instance, run_request

    home = prepare_instance()

    import dagster as dg

    from nascar_dfs.core.data.calendar import read_calendar
    from nascar_dfs.core.scenarios.spec import ConstraintSpec
    from nascar_dfs.definitions import build_definitions
    from nascar_dfs.platform.io_manager import output_path
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.plan import RequestFailedError
    from nascar_dfs.platform.resources import FileStorage, FitSettings, NascarData

    try:
        contest = None
        if getattr(args, "contest_entries", None) is not None:
            contest = {"entries": args.contest_entries, "entry_fee": args.entry_fee}
        spec = ConstraintSpec(lineups=args.lineups, scenarios=args.scenarios, contest=contest)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    data_dir = NascarData().root()
    storage = FileStorage()
    defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)} if args.quick else None)
    race = args.race or upcoming_demo_race(data_dir)
    started = time.perf_counter()
    print(f"instance: {home}  data: {data_dir}", flush=True)
    print(f"race {race}, spec {spec.key} ({spec.lineups} lineups, {spec.scenarios} scenarios)", flush=True)
    with dg.DagsterInstance.get() as instance:
        register_races(instance, read_calendar(data_dir).race_ids())
        try:
            run_request(
                defs, instance, race, spec,
                storage_root=storage.root(), reason="demo", verbose=args.verbose,
            )  # fmt: skip
        except (RequestFailedError, KeyError, ValueError) as exc:
            raise CliError(str(exc)) from exc
    upload = output_path(storage.root(), "dk_upload_csv", [race, spec.key])
    print(f"total {time.perf_counter() - started:.1f} s")
    print(f"DraftKings upload CSV: {upload}")
    if spec.contest is not None:
        _print_contest(output_path(storage.root(), "contest_report", [race, spec.key]))
    return 0


def _print_contest(path: Path) -> None:
    import json

    report = json.loads(path.read_text(encoding="utf-8"))
    figures = report["portfolio"]
    print(
        f"contest ({report['contest']['entries']:,} entries, ${report['contest']['entry_fee']:g},"
        f" {report['races']:,} races{', in sample' if report['in_sample'] else ''}):"
        f" ROI {figures['roi']['mean']:+.3f} ± {figures['roi']['se']:.3f},"
        f" P(top 1%) {figures['p_top_1pct']['mean']:.3f}, P(first) {figures['p_first']['mean']:.4f},"
        f" field ROI {report['field_mean_roi']['mean']:+.3f};"
        f" field ownership check {'passed' if report['field']['ownership_check_passed'] else 'FAILED'}"
    )
    print(f"contest report: {path}")
