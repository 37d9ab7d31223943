"""Wall time of one race-model calibration in a FRESH python process, warm and cold compile caches.

Every measured run is a new interpreter started with subprocess.run; wall = spawn -> exit. Warm: one
warm-up process, then --runs timed processes sharing a persistent cache dir (median reported).
Cold: one process with an empty cache dir (the first-compile cost after a deploy or an upgrade).

    python benchmarks/refit.py                      # real data, last race of 2024
    python benchmarks/refit.py --runs 5 --skip-cold --json-out /tmp/refit.json
    python benchmarks/refit.py --runs 3 --skip-cold --base REV    # warm runs alternated with REV's

"cpu" is the process's user+sys seconds over all its threads (both sampling chains): on a shared
machine it moves far less with the load than the wall time does, so it is reported next to it.

Where a warm process's time went before branch refit-speed (commit ff3046e, load 3.5-4.4, `--skip-cold
--runs 2`): 69.7 s wall, 64 CPU s; import 5.4, compile 36.7 (PyTensor's key for the whole logp+gradient
graph differed in every process, so ~16 CPU s of graph code and nutpie's uncacheable cfunc wrappers,
8-12 CPU s, were compiled afresh each time), sample 21.1 (1000 tune + 1000 draws), finalize 2.5
(dominance). Same code at load 0.2-2.4 (2026-11-29 01:07 UTC): 57.5 s (compile 31.6, sample 17.5).

Now (2026-11-29 02:04-02:10 UTC, commit 3c7934b, 2 cores shared with other jobs, load average 0.8
before, 1.3 after), `python benchmarks/refit.py --runs 3`:

- warm (fresh process, warm cache): **11.0 s median wall (11.0-11.1), 15.5 CPU s**; import 2.4, load
  0.4, design 0.1, build 0.1, compile 0.9 (a cache hit; 0.55 of it is PyMC's initial-point function),
  sample 5.4 (500 tune + 1000 draws, 2 chains, 15 leapfrog steps per draw, ~0.17 ms per logp+gradient),
  diagnostics 0.2, finalize 0.0 (dominance runs on a thread during sampling), interpreter start/exit
  1.5. 0 divergences, r_hat 1.008, bulk ESS 465 (sd_skill; threshold 200).
- cold (empty cache, the first compile after a deploy or an upgrade): **182.4 s wall, 187 CPU s**
  (compile 171.6): PyTensor's numba code for every op and the graph, and the two wrappers, compiled
  and stored; plus PyMC's C initial-point function.
- Final code (commit 68edada, 02:26-02:27 UTC, load 2.9 before, 2.1 after, a backtest on one core),
  `--skip-cold --runs 3`: warm 14.3 s median (14.0-16.2), 19.8 CPU s; import 2.8, compile 1.0,
  sample 7.7, interpreter start/exit 1.8.
- Under load: 02:18-02:26 UTC (commit 5a577e6, a backtest using one core throughout, load 1.7 before,
  4.1 after): warm 19.4 s median wall (18.7-22.2) but 18.2 CPU s, sample 12.0; cold 224.7 s, 218 CPU s.
  01:57-02:01 UTC (commit 5218411, load 1.4): warm 12.2 s (12.1-14.1), 16.9 CPU s; cold 212.9 s.

What made the difference: (1) compile_cache.compile_nutpie_cached: the C callbacks nutpie calls are
numba cfuncs cached on disk under a fingerprint of the model's graphs before any rewrite (stable
across processes, unlike PyTensor's key for the rewritten graph); a hit skips PyTensor's rewrites and
compile and nutpie's wrapper compile. (2) The gradient 0.24 -> 0.17 ms: the Plackett-Luce rows as one
fused op (pl_op.py) and track-type coefficients gathered per race. (3) 500 tuning draws instead of
1000 (bulk ESS 465-547 on the last race of 2024, darlington-1 and daytona-2). (4) Dominance
estimated during sampling.

Since branch speed-compile the backend is chosen per process ($NASCAR_DFS_NUTPIE_BACKEND, default
auto: numba when its cache holds the model, else nutpie's JAX backend while the numba model compiles
in the background); benchmarks/compile_options.py measures numba, jax and auto side by side. The
process overhead is split into interpreter start, this script's imports and exit (after the result
is printed: module teardown of PyTensor/numba/JAX, ~0.8-1.1 s at load ~10, none of it ours).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROCESS_STARTED = time.time()  # wall clock (comparable across processes): the interpreter's start
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "nascar"
PHASES = ("import", "load", "design", "build", "compile", "sample", "diagnostics", "finalize")


def child(args: argparse.Namespace) -> None:
    """One calibration; prints one JSON line with its phases and diagnostics."""
    started = time.perf_counter()
    child_started = time.time()
    from nascar_dfs.core.model.fit import configure_compile_cache, import_fitting_stack

    configure_compile_cache(args.cache_dir)
    import_fitting_stack()  # timed here, as "import", as the calibration would import them

    from nascar_dfs.core.data.history import load_history
    from nascar_dfs.core.model.fit import FitConfig, FitError, fit_model

    imported = time.perf_counter()
    history = load_history(args.data_dir)
    loaded = time.perf_counter()
    config = FitConfig(tune=args.tune, draws=args.draws, sampler=args.sampler)
    try:
        diagnostics = fit_model(history, args.target, config).diagnostics
        error = None
    except FitError as exc:
        diagnostics, error = exc.diagnostics, str(exc)
    phases = {"import": imported - started, "load": loaded - imported, **diagnostics.timings}
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads: both sampling chains count
    cpu = usage.ru_utime + usage.ru_stime
    stamps = {"process": PROCESS_STARTED, "child": child_started, "done": time.time()}
    result = {"phases": phases, "cpu": cpu, "diagnostics": diagnostics.to_dict(), "error": error}
    print(json.dumps(result | {"stamps": stamps}), flush=True)


def run_fresh(
    args: argparse.Namespace, cache_dir: Path, extra_env: dict[str, str] | None = None, tree: Path = REPO
) -> dict[str, Any]:
    """Spawn one child process, this script of ``tree`` importing ``tree``'s code, and time it from
    spawn to exit."""
    command = [
        sys.executable,
        str(tree / "benchmarks" / "refit.py"),
        "--child",
        "--data-dir",
        str(args.data_dir),
        "--target",
        args.target,
        "--cache-dir",
        str(cache_dir),
        "--tune",
        str(args.tune),
        "--draws",
        str(args.draws),
        "--sampler",
        args.sampler,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "NUMBA_OPT")}
    if args.numba_opt is not None:
        env["NUMBA_OPT"] = str(args.numba_opt)
    if tree != REPO:
        env["PYTHONPATH"] = str(tree)
    env.update(extra_env or {})
    started, spawned = time.perf_counter(), time.time()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree, check=False)
    wall, ended = time.perf_counter() - started, time.time()
    if proc.returncode != 0:
        raise SystemExit(f"calibration process failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["process_overhead"] = wall - sum(result["phases"].values())
    stamps = result.pop("stamps")
    # where the overhead goes: interpreter start to this script's first line (site, numpy via
    # argparse defaults), this script's module imports before the calibration, and exit (atexit
    # handlers, thread joins, freeing) after the result is printed
    result["overhead"] = {
        "start": stamps["process"] - spawned,
        "script": stamps["child"] - stamps["process"],
        "exit": ended - stamps["done"],
    }
    return result


def warm_against_base(
    args: argparse.Namespace, warm_dir: Path, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """This tree's warm runs taken in turn with those of ``args.base`` (its row appended to ``rows``),
    so that both see the same load."""
    sys.path.insert(0, str(REPO))
    from benchmarks.ab import alternate, base_tree, commit_of

    numba = {"NASCAR_DFS_NUTPIE_BACKEND": "numba"}
    with base_tree(args.base) as base:
        timed_opt, args.numba_opt = args.numba_opt, None
        run_fresh(args, warm_dir, numba, tree=base)  # its own warm-up, in case its graph differs
        args.numba_opt = timed_opt
        sides = alternate(
            args.runs,
            {"base": lambda: run_fresh(args, warm_dir, tree=base), "warm": lambda: run_fresh(args, warm_dir)},
        )
        rows.append(summarize(f"warm, base {commit_of(base)}", sides["base"]))
    return sides["warm"]


def default_target(data_dir: Path) -> str:
    from nascar_dfs.core.data.history import load_history

    races = load_history(data_dir).points_races()
    return str(races[races["season"] == 2024]["race_id"].iloc[-1])


def summarize(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    phases = {p: statistics.median(r["phases"].get(p, 0.0) for r in runs) for p in PHASES}
    walls = [r["wall"] for r in runs]
    last = runs[-1]["diagnostics"]
    return {
        "case": label,
        "runs": len(runs),
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "phases_median": phases,
        "process_overhead_median": statistics.median(r["process_overhead"] for r in runs),
        "cpu_median": statistics.median(r["cpu"] for r in runs),
        "divergences": max(r["diagnostics"]["divergences"] for r in runs),
        "max_rhat": max(r["diagnostics"]["max_rhat"] for r in runs),
        "min_ess_bulk": min(r["diagnostics"]["min_ess_bulk"] for r in runs),
        "sampler": last["sampler"],
        "errors": [r["error"] for r in runs if r["error"]],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ["case", "n", "wall med", "min-max", *PHASES, "proc", "cpu", "div", "rhat", "ess"]
    print(" | ".join(head))
    for row in rows:
        cells = [
            row["case"],
            str(row["runs"]),
            f"{row['wall_median']:.1f}",
            f"{row['wall_min']:.1f}-{row['wall_max']:.1f}",
            *(f"{row['phases_median'][p]:.1f}" for p in PHASES),
            f"{row['process_overhead_median']:.1f}",
            f"{row['cpu_median']:.1f}",
            str(row["divergences"]),
            f"{row['max_rhat']:.3f}",
            f"{row['min_ess_bulk']:.0f}",
        ]
        print(" | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--target", default=None, help="race_id (default: last points race of 2024)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="warm cache dir (default: project)")
    parser.add_argument("--runs", type=int, default=3, help="timed warm processes after 1 warm-up")
    parser.add_argument("--tune", type=int, default=None, help="default: FitConfig's")
    parser.add_argument("--draws", type=int, default=None, help="default: FitConfig's")
    parser.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    parser.add_argument(
        "--numba-opt", type=int, default=None, help="NUMBA_OPT of the timed warm runs (warm-up: default)"
    )
    parser.add_argument("--skip-cold", action="store_true", help="do not measure the empty-cache run")
    parser.add_argument(
        "--base", default=None, help="git revision whose warm runs alternate with this tree's (same cache)"
    )
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    from nascar_dfs.core.model.fit import FitConfig

    args.tune = FitConfig().tune if args.tune is None else args.tune
    args.draws = FitConfig().draws if args.draws is None else args.draws
    if args.child:
        child(args)
        return
    args.target = args.target or default_target(args.data_dir)
    from nascar_dfs.core.model.fit import default_cache_dir

    warm_dir = args.cache_dir or default_cache_dir()
    load_before = os.getloadavg()
    rows = []
    if not args.skip_cold:
        with tempfile.TemporaryDirectory(prefix="refit-cold-") as cold_dir:
            rows.append(summarize("cold (empty cache)", [run_fresh(args, Path(cold_dir) / "pytensor")]))
    timed_opt, args.numba_opt = args.numba_opt, None
    # warm-up at numba's default level fills the cache with optimised code; with the numba backend, so
    # that the cache is full when it returns (under auto a cold cache means a JAX fit and a background
    # compile, and the timed runs would measure JAX beside that compile)
    run_fresh(args, warm_dir, {"NASCAR_DFS_NUTPIE_BACKEND": "numba"})
    args.numba_opt = timed_opt
    if args.base:
        warm = warm_against_base(args, warm_dir, rows)
    else:
        warm = [run_fresh(args, warm_dir) for _ in range(args.runs)]
    rows.append(summarize("warm", warm))
    report = {
        "target": args.target,
        "tune": args.tune,
        "draws": args.draws,
        "cores": os.cpu_count(),
        "numba_opt": args.numba_opt,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "rows": rows,
        "warm_runs": warm,
    }
    if args.json_out:  # before printing: a reader that closes the pipe early must not lose it
        args.json_out.write_text(json.dumps(report, indent=2))
    print_table(rows)
    print(f"load average before {load_before}, after {report['loadavg_after']}")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
