"""The 60 s guard: a request for 150 lineups through `nascar-dfs lineups`, the race's model calibrated.

    python benchmarks/cli_lineups_150.py [--runs 3] [--quick] [--scenarios 10000]

A fresh DAGSTER_HOME and storage (SQLite) in a temp folder on the packaged demo data. First
`nascar-dfs demo` calibrates the demo race's model (not timed); then each run is the command a user
types, `nascar-dfs lineups --race RACE --lineups 150 --out upload.csv`, timed as a whole process
(interpreter start and imports included), each with a spec of its own (another --max-exposure), so
every run builds its scenario set, lineups and upload CSV and none reuses another's. Prints each
run's wall time and the load average before and after: on a shared 2-core machine the figures move
with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAIN = "import sys; from nascar_dfs.cli import main; sys.exit(main(sys.argv[1:]))"
GUARD_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="calibrate with demo --quick's short chain")
    parser.add_argument("--scenarios", type=int, default=10_000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="nascar-dfs-bench-lineups-"))
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "NASCAR_DFS_STORAGE": str(root / "storage")}
    env.pop("NASCAR_DFS_DATA_DIR", None)  # the packaged demo data and its slate

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", MAIN, *argv], env=env, capture_output=True, text=True)

    started = time.perf_counter()
    calibrated = cli("demo", "--lineups", "1", "--scenarios", "100", *(["--quick"] if args.quick else []))
    if calibrated.returncode != 0:
        print(calibrated.stdout, calibrated.stderr, file=sys.stderr)
        return 1
    race = next(
        line.split()[1] for line in calibrated.stdout.splitlines() if line.startswith("race ")
    ).rstrip(",")
    print(f"calibration of {race} (not timed): {time.perf_counter() - started:.1f} s")

    times = []
    for run in range(args.runs):
        exposure = f"{0.6 - 0.01 * run:.2f}"  # a spec of its own: nothing reused from the run before
        load = os.getloadavg()[0]
        started = time.perf_counter()
        done = cli(
            "lineups", "--race", race, "--lineups", "150", "--max-exposure", exposure,
            "--scenarios", str(args.scenarios), "--out", str(root / f"upload-{run}.csv"),
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
            return 1
        steps = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")]
        times.append(seconds)
        print(f"run {run + 1}: {seconds:.1f} s (load {load:.1f} at start)  " + " | ".join(steps))
    median = statistics.median(times)
    loads = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"150 lineups, {args.scenarios} scenarios, model calibrated: median {median:.1f} s over {len(times)}"
        f" (min {min(times):.1f}, max {max(times):.1f}); guard {GUARD_S:.0f} s"
        f" {'met' if max(times) <= GUARD_S else 'MISSED'}; load average now {loads} (1/5/15 min)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
