"""Benchmark of the contest simulation: 10,000 races x a 10,000-entry field x 150 user lineups.

Target: the contest simulation (scoring, ranking, paying, reporting) within 30 s on 2 cores. Races come
from the scenario kernel with synthetic FieldParams (benchmarks/kernel.py's `synthetic_inputs`, 40
drivers); salaries follow the drivers' simulated mean points; ownership from the default ownership
model; the field from `simulate_field`. Kernel and field times are reported separately. Prints one
JSON object including the load average, since the machine is shared.

    python benchmarks/contest.py [--races 10000] [--entries 10000] [--lineups 150] [--repeats 3]
    python benchmarks/contest.py --select 500   # also time the greedy selection from 500 candidates
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from nascar_dfs.core.contest.opponents import simulate_field
from nascar_dfs.core.contest.ownership import OwnershipModel
from nascar_dfs.core.contest.selection import select_by_contest_roi
from nascar_dfs.core.contest.simulate import simulate_contest
from nascar_dfs.core.contest.spec import ContestSpec
from nascar_dfs.core.scenarios.kernel import simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel import synthetic_inputs  # a sibling benchmark script, not a package


def synthetic_salaries(mean_points: np.ndarray) -> np.ndarray:
    """DK-like salaries: $4,500..$11,500 in $100 steps, ordered by simulated mean points."""
    ranks = np.argsort(np.argsort(-mean_points))
    span = np.linspace(11_500, 4_500, mean_points.size)
    return (np.round(span[ranks] / 100) * 100).astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--races", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--lineups", type=int, default=150)
    parser.add_argument("--drivers", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--select", type=int, default=0, help="candidates for a timed greedy selection")
    args = parser.parse_args()

    started = time.perf_counter()
    params, field_info, dominance = synthetic_inputs(args.drivers, 2000)
    scenarios = simulate(params, field_info, dominance, n=args.races, seed=11)
    kernel_seconds = time.perf_counter() - started

    mean_points = scenarios.dk_points.mean(axis=0).astype(np.float64)
    salaries = synthetic_salaries(mean_points)
    ownership = OwnershipModel.default().project(salaries, mean_points, field_info.starts)
    started = time.perf_counter()
    field = simulate_field(ownership, salaries, args.entries - args.lineups, seed=1)
    field_seconds = time.perf_counter() - started
    user = simulate_field(ownership, salaries, args.lineups, seed=2).lineups

    contest = ContestSpec(entries=args.entries, entry_fee=20.0)
    times, report = [], None
    for _ in range(args.repeats):
        started = time.perf_counter()
        report = simulate_contest(scenarios.dk_points, user, field.lineups, contest)
        times.append(time.perf_counter() - started)
    assert report is not None
    selection = {}
    if args.select:
        # Candidates drawn like the field (distinct), so the search has overlapping, realistic lineups.
        candidates = np.unique(simulate_field(ownership, salaries, 2 * args.select, seed=3).lineups, axis=0)
        candidates = candidates[: args.select]
        started = time.perf_counter()
        chosen = select_by_contest_roi(scenarios.dk_points, candidates, field.lineups, contest, args.lineups)
        selection = {
            "candidates": int(candidates.shape[0]),
            "selection_seconds": round(time.perf_counter() - started, 3),
            "held_out_races": chosen.report.races,
            "selected_roi": chosen.report.portfolio.roi.to_dict(),
        }
    print(
        json.dumps(
            {
                "races": args.races,
                "field_entries": field.size,
                "user_lineups": args.lineups,
                "drivers": args.drivers,
                "contest_seconds_median": round(statistics.median(times), 3),
                "contest_seconds_all": [round(t, 3) for t in times],
                "target_seconds": 30.0,
                "kernel_seconds": round(kernel_seconds, 3),
                "field_seconds": round(field_seconds, 3),
                "field": field.summary(),
                "selection": selection,
                "portfolio_roi": report.portfolio.roi.to_dict(),
                "field_mean_roi": report.field_mean_roi.to_dict(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
