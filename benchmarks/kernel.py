"""Benchmark of the scenario kernel: 10,000 simulated races x 40 drivers with DK points.

Target: median <= 0.5 s. Runs on synthetic FieldParams (2000 posterior draws) so no fitted model is
needed; ``--model PATH`` uses a saved FittedModel instead (its own dominance parameters).
Prints one JSON object.

    python benchmarks/kernel.py [--scenarios 10000] [--drivers 40] [--repeats 7] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from nascar_dfs.core.field import Field
from nascar_dfs.core.model.types import FieldParams
from nascar_dfs.core.scenarios.dominance import TRACK_TYPES, DominanceParams, TrackDominance
from nascar_dfs.core.scenarios.kernel import preview_acceptance, simulate
from nascar_dfs.core.scenarios.spec import LapsLedView
from nascar_dfs.core.scenarios.views import ImpossibleViewsError

# Close to the 2015-2024 intermediate-track calibration; fixed so the benchmark needs no data.
SYNTHETIC_TRACK = TrackDominance(
    lead_stints=32.0,
    lead_decay=0.8,
    lead_noise=6.5,
    fastest_decay=0.25,
    green_a=22.8,
    green_b=5.0,
    races=0,
    fastest_races=0,
    leaders_mean=9.2,
    top_share_mean=0.47,
    top5_share_mean=0.59,
    fastest_top_share_mean=0.23,
)


def synthetic_inputs(drivers: int, draws: int, seed: int = 7) -> tuple[FieldParams, Field, DominanceParams]:
    rng = np.random.default_rng(seed)
    skill = np.sort(rng.normal(0.0, 1.0, drivers))[::-1]
    log_worth = skill[None, :] + rng.normal(0.0, 0.3, (draws, drivers))
    dnf_prob = np.clip(rng.beta(2.0, 18.0, (draws, drivers)), 0.0, 1.0)
    field = Field(
        race_id="2024-cup-synthetic-1",
        season=2024,
        track_slug="synthetic",
        track_type="intermediate",
        laps=267,
        drivers=tuple(f"Driver {i:02d}" for i in range(drivers)),
        teams=tuple(f"Team {i % 12}" for i in range(drivers)),
        manufacturers=tuple(("Chevrolet", "Ford", "Toyota")[i % 3] for i in range(drivers)),
        starts=rng.permutation(drivers) + 1,
    )
    dominance = DominanceParams(by_track_type=dict.fromkeys(TRACK_TYPES, SYNTHETIC_TRACK))
    return FieldParams(log_worth=log_worth, dnf_prob=dnf_prob), field, dominance


def _time_views(params: FieldParams, field: Field, dominance: DominanceParams, n: int) -> tuple[float, float]:
    """Seconds for a 2000-draw acceptance preview and for refusing an impossible view."""
    view = LapsLedView(driver=field.drivers[0], laps=field.laps + 1)
    started = time.perf_counter()
    preview_acceptance(params, field, dominance, [view], seed=0)
    preview_s = time.perf_counter() - started
    started = time.perf_counter()
    try:
        simulate(params, field, dominance, n=n, seed=0, views=[view])
    except ImpossibleViewsError:
        pass
    else:
        raise RuntimeError("an impossible view was not refused")
    return preview_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--drivers", type=int, default=40)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--model", help="path of a saved FittedModel (uses a synthetic field of its drivers)")
    args = parser.parse_args()

    params, field, dominance = synthetic_inputs(args.drivers, args.draws)
    if args.model:
        from nascar_dfs.core.model.fitted import FittedModel

        model = FittedModel.load(args.model)
        field = Field(
            **{
                **field.__dict__,
                "track_type": model.track_type,
                "drivers": tuple(model.index.drivers[: args.drivers]),
            }
        )
        params = model.field_params(field, n_draws=args.draws, seed=0)
        dominance = DominanceParams.from_dict(model.dominance)

    simulate(params, field, dominance, n=1000, seed=0)  # warm-up
    times, cpu_times = [], []
    for rep in range(args.repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        out = simulate(params, field, dominance, n=args.scenarios, seed=rep)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    preview_s, impossible_s = _time_views(params, field, dominance, args.scenarios)
    print(
        json.dumps(
            {
                "benchmark": "scenario_kernel",
                "scenarios": args.scenarios,
                "drivers": field.size,
                "posterior_draws": params.log_worth.shape[0],
                "median_s": round(statistics.median(times), 4),
                "min_s": round(min(times), 4),
                "max_s": round(max(times), 4),
                # CPU time of this process: the honest figure when other jobs share the machine.
                "median_cpu_s": round(statistics.median(cpu_times), 4),
                "repeats": args.repeats,
                "preview_acceptance_s": round(preview_s, 4),
                "impossible_view_refused_s": round(impossible_s, 4),
                "target_s": 0.5,
                "mean_dk_points_winner": round(float(out.dk_points[out.finish == 1].mean()), 2),
                "source": "model" if args.model else "synthetic",
            }
        )
    )


if __name__ == "__main__":
    main()
