"""Time one end-to-end CLI materialization of the demo race through Dagster, per asset.

    python benchmarks/demo_materialization.py [--quick] [--lineups 20] [--scenarios 2000]

A fresh DAGSTER_HOME (SQLite) in a temp folder; the first request builds the chain (calibration
run, then lineup run), the second identical request must reuse everything. Prints a Markdown table
and the load average, because on a shared 2-core machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short MCMC chain, as demo --quick")
    parser.add_argument("--lineups", type=int, default=20)
    parser.add_argument("--scenarios", type=int, default=2000)
    args = parser.parse_args()

    from nascar_dfs.core.model.fit import configure_compile_cache

    configure_compile_cache()
    home = Path(tempfile.mkdtemp(prefix="nascar-dfs-bench-"))
    os.environ["DAGSTER_HOME"] = str(home)
    from nascar_dfs.platform.instance import prepare_dagster_home

    prepare_dagster_home()

    import dagster as dg

    from nascar_dfs.commands.demo import QUICK_FIT, upcoming_demo_race
    from nascar_dfs.core.data.calendar import read_calendar
    from nascar_dfs.core.scenarios.spec import ConstraintSpec
    from nascar_dfs.definitions import build_definitions
    from nascar_dfs.platform.partitions import register_races
    from nascar_dfs.platform.plan import request_lineups
    from nascar_dfs.platform.resources import FileStorage, FitSettings, NascarData

    data_dir = NascarData().root()
    race = upcoming_demo_race(data_dir)
    spec = ConstraintSpec(lineups=args.lineups, scenarios=args.scenarios)
    defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)} if args.quick else None)
    storage = FileStorage().root()
    load_before = os.getloadavg()
    with dg.DagsterInstance.get() as instance:
        register_races(instance, read_calendar(data_dir).race_ids())
        started = time.perf_counter()
        _, results = request_lineups(defs, instance, race, spec, storage_root=storage, reason="demo")
        first = time.perf_counter() - started
        started = time.perf_counter()
        again, _ = request_lineups(defs, instance, race, spec, storage_root=storage, reason="demo")
        second = time.perf_counter() - started
    fit = "quick (2 x 200 draws)" if args.quick else "default FitConfig"
    print(f"race {race}, {spec.lineups} lineups, {spec.scenarios} scenarios, fit: {fit}")
    print(f"load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} (2 cores)\n")
    print("| run | asset | seconds |\n|---|---|---:|")
    for result in results:
        for asset, seconds in result.seconds_per_asset.items():
            print(f"| {result.step.job} | {asset} | {seconds:.2f} |")
    print(f"\nend to end (both runs, in process): {first:.1f} s")
    print(f"same request again: {second:.2f} s, recomputed nothing: {again.reuses_everything}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
