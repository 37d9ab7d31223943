"""Scenario-aware build vs mean-projection build on 10,000 simulated races of a real 2024 race.

SALARIES AND DK IDS ARE SYNTHETIC: no real DraftKings NASCAR salaries before 2025 are public
(shared README, dk_salaries.csv). Each driver's synthetic salary follows the rank of their mean
simulated DK points in a pilot simulation (best $11,500 down to $4,500, rounded to $100).

Setup (untimed): load history, fit the race model once (saved under benchmarks/out/ and loaded on
later runs), pilot simulation (seed 999) for salaries and the contest's winning-score range.
Timed, end to end: load the saved model, simulate 10,000 races (seed 1), build 150 lineups with the
scenario objective. The mean build uses the same races (projections = simulated means) and spec.

"Winning-score range": a public field of FIELD_SIZE lineups drawn uniformly from the best
FIELD_POOL lineups by projection; a race's winning score is that field's best score in the race.
The target is the median winning score over the pilot races. Reported per build: distinct drivers,
P(at least one lineup reaches the target), P(at least one lineup beats the field's winner in that
race), build seconds.

    python benchmarks/scenario_build.py [--race 2024-cup-charlotte-1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NASCAR_DFS_SHARED_DATA", REPO.parent / "shared" / "data" / "nascar"))
OUT = REPO / "benchmarks" / "out"
N_RACES, LINEUPS, MAX_EXPOSURE = 10_000, 150, 0.6
FIELD_SIZE, FIELD_POOL = 10_000, 100_000
TOP_SALARY, BOTTOM_SALARY = 11_500, 4_500


def load_or_fit(history, race_id: str):
    from nascar_dfs.core.model.fit import fit_model
    from nascar_dfs.core.model.fitted import FittedModel

    path = OUT / f"model-{race_id}"
    if path.exists():
        try:
            return path, FittedModel.load(path)
        except (TypeError, ValueError, KeyError) as exc:  # saved by an older model version
            print(f"refitting: the saved model no longer loads ({exc})", file=sys.stderr)
    print(f"fitting the race model for {race_id} (once; saved to {path}) ...", file=sys.stderr)
    fit_model(history, race_id).save(path)
    return path, FittedModel.load(path)


def simulate_points(model, field, n: int, seed: int):
    from nascar_dfs.core.scenarios import DominanceParams, simulate

    params = model.field_params(field, seed=seed)
    return simulate(params, field, DominanceParams.from_dict(model.dominance), n=n, seed=seed)


def synthetic_pool(field, pilot_means: np.ndarray):
    """SYNTHETIC salaries by rank of pilot mean points; synthetic DK ids."""
    from nascar_dfs.core.optimizer import PlayerPool

    rank = np.argsort(np.argsort(-pilot_means))
    steps = np.linspace(TOP_SALARY, BOTTOM_SALARY, field.size)
    salaries = (np.round(steps[rank] / 100) * 100).astype(np.int64)
    return PlayerPool(
        names=field.drivers,
        dk_ids=np.arange(90_000_000, 90_000_000 + field.size, dtype=np.int64),
        salaries=salaries,
        teams=field.teams,
        projections=pilot_means.astype(np.float64),
    )


def public_field(pool, seed: int = 7) -> np.ndarray:
    """(FIELD_SIZE, 6) pool positions: lineups the public builds near the projection optimum."""
    from nascar_dfs.core.optimizer.requirements import resolve_requirements
    from nascar_dfs.core.optimizer.rules import DK_NASCAR_CLASSIC
    from nascar_dfs.core.optimizer.space import enumerate_space
    from nascar_dfs.core.scenarios.spec import ConstraintSpec

    req = resolve_requirements(pool, ConstraintSpec(lineups=1, objective="mean"), DK_NASCAR_CLASSIC)
    space = enumerate_space(pool, req)
    scores = space.scores(pool.projections)
    best = np.argpartition(-scores, FIELD_POOL - 1)[:FIELD_POOL]
    rows = np.random.default_rng(seed).choice(best, size=FIELD_SIZE, replace=False)
    return space.drivers[rows].astype(np.int64)


def portfolio_positions(pool, portfolio) -> np.ndarray:
    index = {name: i for i, name in enumerate(pool.names)}
    return np.array([[index[name] for name in lineup.drivers] for lineup in portfolio.lineups])


def evaluate(pool, portfolio, points: np.ndarray, target: float, winners: np.ndarray, seconds: float) -> dict:
    from nascar_dfs.core.optimizer import lineup_scores

    scores = lineup_scores(portfolio_positions(pool, portfolio), points)
    best = scores.max(axis=0)
    return {
        "seconds": round(seconds, 3),
        "distinct_drivers": portfolio.distinct_drivers,
        "p_any_reaches_target": round(float(np.mean(best >= target)), 4),
        "p_any_beats_field_winner": round(float(np.mean(best > winners)), 4),
        "mean_lineup_mean": round(float(scores.mean()), 2),
        "max_exposure": round(max(portfolio.exposures.values()), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--race", default="2024-cup-charlotte-1")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from nascar_dfs.core.data.entry_list import field_from_history
    from nascar_dfs.core.data.history import load_history
    from nascar_dfs.core.model.fitted import FittedModel
    from nascar_dfs.core.optimizer import build_portfolio, lineup_scores
    from nascar_dfs.core.scenarios.spec import ConstraintSpec

    history = load_history(SHARED)
    field = field_from_history(history, args.race)
    model_path, model = load_or_fit(history, args.race)
    pilot = simulate_points(model, field, 2_000, seed=999)
    pool = synthetic_pool(field, pilot.dk_points.mean(axis=0))
    crowd = public_field(pool)
    target = float(np.median(lineup_scores(crowd, pilot.dk_points).max(axis=0)))

    started = time.perf_counter()
    model = FittedModel.load(model_path)
    scenarios = simulate_points(model, field, N_RACES, seed=1)
    simulated = time.perf_counter()
    spec = ConstraintSpec(
        lineups=LINEUPS,
        max_exposure=MAX_EXPOSURE,
        objective="scenario",
        target_score=target,
        scenarios=N_RACES,
    )
    scenario_build = build_portfolio(pool, spec, scenarios=scenarios)
    end_to_end = time.perf_counter() - started

    means = scenarios.dk_points.mean(axis=0)
    mean_started = time.perf_counter()
    mean_build = build_portfolio(
        pool.with_projections(means), spec.model_copy(update={"objective": "mean"}), scenarios=scenarios
    )
    mean_seconds = time.perf_counter() - mean_started

    points = scenarios.dk_points
    winners = lineup_scores(crowd, points).max(axis=0)
    report = {
        "race": args.race,
        "salaries": "SYNTHETIC (rank of pilot mean DK points, $11,500-$4,500)",
        "load_average": round(os.getloadavg()[0], 2),
        "target_score": round(target, 2),
        "field": f"{FIELD_SIZE} lineups from the best {FIELD_POOL} by projection",
        "end_to_end_seconds": round(end_to_end, 3),
        "simulation_seconds": round(simulated - started, 3),
        "scenario": evaluate(pool, scenario_build, points, target, winners, end_to_end - simulated + started),
        "mean": evaluate(pool, mean_build, points, target, winners, mean_seconds),
    }
    s, m = report["scenario"], report["mean"]
    report["targets_met"] = bool(
        end_to_end <= 10.0
        and s["distinct_drivers"] > m["distinct_drivers"]
        and s["p_any_reaches_target"] > m["p_any_reaches_target"]
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.race}: {N_RACES} simulated races, {LINEUPS} lineups, max exposure {MAX_EXPOSURE}; "
            f"salaries SYNTHETIC; target (median winning score of the field) {target:.2f}"
        )
        print(
            f"end to end (load model + simulate + scenario build): {end_to_end:.2f} s "
            f"(simulation {report['simulation_seconds']:.2f} s); load average {report['load_average']}"
        )
        for label in ("scenario", "mean"):
            r = report[label]
            print(
                f"  {label:8s} build {r['seconds']:6.2f} s  distinct drivers {r['distinct_drivers']:2d}  "
                f"P(any >= target) {r['p_any_reaches_target']:.3f}  "
                f"P(any beats the field's winner) {r['p_any_beats_field_winner']:.3f}  "
                f"mean lineup mean {r['mean_lineup_mean']}"
            )
        print(
            f"targets (<= 10 s, more drivers, higher P(any >= target)): "
            f"{'met' if report['targets_met'] else 'NOT met'}"
        )
    return 0 if report["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
