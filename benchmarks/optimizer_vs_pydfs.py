"""Classic build speed: this project vs pydfs-lineup-optimizer 3.6.1, in one run.

Task (benchmark slate README): 150 DraftKings NASCAR Classic lineups on
../shared/data/bench/slate.csv, max exposure 0.6 for every driver, at least 1 unique driver
between any two lineups, $50,000 cap. Each side is timed from reading the CSV to the last lineup,
median of 3 runs. pydfs pins PuLP 2.4, so it runs in its own virtual environment
(benchmarks/.venv-pydfs, created on first use) as a subprocess script written at run time.

    python benchmarks/optimizer_vs_pydfs.py [--slate PATH] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NASCAR_DFS_SHARED_DATA", REPO.parent / "shared" / "data" / "nascar"))
DEFAULT_SLATE = SHARED.parent / "bench" / "slate.csv"
VENV = REPO / "benchmarks" / ".venv-pydfs"
PYDFS = "pydfs-lineup-optimizer==3.6.1"
LINEUPS, MAX_EXPOSURE, MIN_UNIQUE, CAP, SLOTS = 150, 0.6, 1, 50_000, 6
OPTIMUM = 258.19  # the benchmark README's optimal single lineup

# Written to a temp file and run with the venv's python; prints one JSON document.
PYDFS_SCRIPT = """
import json, statistics, sys, time
from pydfs_lineup_optimizer import Site, Sport, get_optimizer

slate, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[5])
max_exposure, min_unique = float(sys.argv[3]), int(sys.argv[4])
times, lineups = [], None
for _ in range(runs):
    start = time.perf_counter()
    optimizer = get_optimizer(Site.DRAFTKINGS, Sport.NASCAR)
    optimizer.load_players_from_csv(slate)
    optimizer.set_max_repeating_players(6 - min_unique)
    result = list(optimizer.optimize(n=n, max_exposure=max_exposure))
    times.append(time.perf_counter() - start)
    lineups = [[int(p.id) for p in lineup.players] for lineup in result]
    points = [lineup.fantasy_points_projection for lineup in result]
print(json.dumps({"times": times, "lineups": lineups, "points": points}))
"""


def ensure_pydfs_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} with {PYDFS} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PYDFS], check=True)
    return python


def run_pydfs(slate: Path, runs: int) -> dict:
    python = ensure_pydfs_venv()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(PYDFS_SCRIPT)
        script = handle.name
    try:
        args = [str(python), script, str(slate), str(LINEUPS), str(MAX_EXPOSURE), str(MIN_UNIQUE), str(runs)]
        done = subprocess.run(args, check=True, capture_output=True, text=True)
    finally:
        os.unlink(script)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(slate: Path, runs: int) -> dict:
    from nascar_dfs.core.data.draftkings import read_dk_salaries
    from nascar_dfs.core.optimizer import build_portfolio, pool_from_slate
    from nascar_dfs.core.scenarios.spec import ConstraintSpec

    spec = ConstraintSpec(lineups=LINEUPS, max_exposure=MAX_EXPOSURE, min_unique=MIN_UNIQUE, objective="mean")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        portfolio = build_portfolio(pool_from_slate(read_dk_salaries(slate)), spec)
        times.append(time.perf_counter() - start)
    return {
        "times": times,
        "lineups": portfolio.dk_id_rows(),
        "points": [lineup.projection for lineup in portfolio.lineups],
    }


def slate_table(slate: Path) -> dict[int, tuple[int, float]]:
    import csv

    with slate.open(newline="") as handle:
        rows = csv.DictReader(handle)
        return {int(r["ID"]): (int(r["Salary"]), float(r["AvgPointsPerGame"])) for r in rows}


def problems(lineups: list[list[int]], table: dict[int, tuple[int, float]]) -> list[str]:
    """Every way the lineups break the task's rules (empty when all are valid)."""
    found = []
    if len(lineups) != LINEUPS:
        found.append(f"{len(lineups)} lineups, {LINEUPS} requested")
    for number, lineup in enumerate(lineups, start=1):
        if len(lineup) != SLOTS or len(set(lineup)) != SLOTS:
            found.append(f"lineup {number} is not {SLOTS} distinct drivers")
        elif any(dk_id not in table for dk_id in lineup):
            found.append(f"lineup {number} names an id not on the slate")
        elif sum(table[i][0] for i in lineup) > CAP:
            found.append(f"lineup {number} is over the cap")
    sets = [frozenset(lineup) for lineup in lineups]
    if any(len(a & b) > SLOTS - MIN_UNIQUE for i, a in enumerate(sets) for b in sets[i + 1 :]):
        found.append(f"two lineups share more than {SLOTS - MIN_UNIQUE} drivers")
    counts: dict[int, int] = {}
    for lineup in lineups:
        for dk_id in lineup:
            counts[dk_id] = counts.get(dk_id, 0) + 1
    if counts and max(counts.values()) > int(MAX_EXPOSURE * len(lineups) + 1e-9):
        found.append(f"a driver is in {max(counts.values())} lineups, above max exposure {MAX_EXPOSURE}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slate", type=Path, default=DEFAULT_SLATE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table = slate_table(args.slate)
    ours, theirs = run_ours(args.slate, args.runs), run_pydfs(args.slate, args.runs)
    report = {"load_average": os.getloadavg()[0], "runs": args.runs}
    for label, result in (("nascar_dfs", ours), ("pydfs", theirs)):
        first = round(sum(table[i][1] for i in result["lineups"][0]), 2)
        report[label] = {
            "median_seconds": statistics.median(result["times"]),
            "times": [round(t, 3) for t in result["times"]],
            "first_lineup_points": first,
            "total_points": round(sum(sum(table[i][1] for i in lineup) for lineup in result["lineups"]), 2),
            "problems": problems(result["lineups"], table),
        }
    report["speedup"] = report["pydfs"]["median_seconds"] / report["nascar_dfs"]["median_seconds"]
    ok = (
        report["nascar_dfs"]["median_seconds"] <= 5.0
        and report["speedup"] >= 4.0
        and report["nascar_dfs"]["first_lineup_points"] == OPTIMUM == report["pydfs"]["first_lineup_points"]
        and not report["nascar_dfs"]["problems"]
    )
    report["targets_met"] = ok
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for label in ("nascar_dfs", "pydfs"):
            side = report[label]
            print(
                f"{label:11s} median {side['median_seconds']:7.3f} s  runs {side['times']}  first lineup "
                f"{side['first_lineup_points']}  total {side['total_points']}  "
                f"{'all lineups valid' if not side['problems'] else side['problems']}"
            )
        print(
            f"speedup {report['speedup']:.1f}x  (load average {report['load_average']:.2f}); "
            f"targets (<= 5 s, >= 4x, first lineup {OPTIMUM}, all valid): {'met' if ok else 'NOT met'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
