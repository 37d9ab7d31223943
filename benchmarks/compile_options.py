"""Compile options of the calibration side by side: cold and warm wall of each, in ONE run.

Every measured run is a fresh interpreter (``refit.py --child``) with the option's own fresh cache
dir: cold = the first calibration on a new machine (empty cache), warm = the next processes on the
same cache. The options' runs alternate (A cold, B cold, A warm, B warm, ...) so both see the same
load on a shared machine; the load average is printed with every run.

    python benchmarks/compile_options.py                        # numba and jax, 2 warm runs each
    python benchmarks/compile_options.py --options jax --warm-runs 3 --json-out /tmp/options.json

Options (``NASCAR_DFS_NUTPIE_BACKEND``):

- ``numba``: PyTensor's numba graph code plus nutpie's callbacks, cached by core/model/compile_cache.
- ``jax``: nutpie's JAX backend (PyTensor's JAX linker, the fused Plackett-Luce op in jax.numpy),
  XLA's machine code in JAX's persistent compilation cache.
- ``auto``: the fit path's choice (numba when its cache holds the model, else jax, with the numba
  cache filled by a background process).

"leapfrog/s" is leapfrog steps (one log-density + gradient each) per second of the sample phase:
mean tree size x (tune + draws) x chains / sample seconds.

Measured 2026-12-03 12:12-12:28 UTC (branch speed-compile, 2 cores shared with two other jobs, load
average 7-17: walls are 1.5-3x a quiet machine's; CPU seconds move far less),
`python benchmarks/compile_options.py --options numba jax auto --warm-runs 2`, target
2024-cup-phoenix-2 (wall s / CPU s, compile s, sample s, min bulk ESS, r_hat):

    numba cold  320.8 / 166.7  compile 296.1  sample 15.7  ESS 250  r_hat 1.012  (load 7.2)
    jax   cold   48.2 /  35.8  compile   9.3  sample 27.5  ESS 201  r_hat 1.012  (load 14.7)
    auto  cold   82.7 /  35.5  compile  17.9  sample 40.1  ESS 201  r_hat 1.012  (load 16.5; the
                 numba compile ran beside it then, 381 s more; it now starts after the sampling)
    numba warm   36.4, 15.6 / 15.1, 14.3   sample 16.8, 10.2  ESS 250  (load 11.1, 9.9)
    jax   warm   36.0, 29.2 / 34.6, 37.3   compile 7.5, 5.1   sample 22.5, 19.5  ESS 201  (load 10.9, 10.0)
    auto  warm   15.3, 15.6 / 14.1, 13.9   = numba's (the background compile had filled its cache)

With the background compile started after the sampling (12:29-12:33 UTC, load 4.9-6.6,
`--options auto jax --warm-runs 1`): auto cold **33.2 s** / 35.6 CPU s (compile 6.2, sample 21.0,
ESS 201, r_hat 1.012), the numba compile done 148 s later; jax cold 31.0 s; auto warm 15.3 s
(= numba), jax warm 31.5 s.

12:40-12:45 UTC, load 2.8 before, 4.0-4.1 during, `--options auto --warm-runs 3`: auto cold
**41.2 s** / 39.5 CPU s (compile 10.5, sample 21.8), numba compile done 188 s later; auto warm
16.9, 16.9, 16.8 s / 14.9 CPU s (sample 10.3), ESS 250, r_hat 1.012.

JAX's persistent cache saves only XLA's compile: PyTensor's rewrites and JAX's tracing still cost
~5 s in every process, and a gradient costs ~2x numba's (Python call per gradient, XLA's code for
the gathers and cumulative sums), so JAX is the cold path only. gradient_backend="jax" (JAX's
autodiff instead of PyTensor's gradient graph) compiled no faster (9.3 vs 8.1 s) and cost 1.1 CPU ms
per leapfrog step against 0.8.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refit import DEFAULT_DATA, default_target, run_fresh


def describe(option: str, kind: str, result: dict[str, Any], tune: int, chains: int) -> dict[str, Any]:
    diag = result["diagnostics"]
    phases = result["phases"]
    steps = diag["mean_tree_size"] * (tune + diag["draws"]) * chains
    return {
        "option": option,
        "kind": kind,
        "wall": result["wall"],
        "cpu": result["cpu"],
        "import": phases.get("import", 0.0),
        "compile": phases.get("compile", 0.0),
        "sample": phases.get("sample", 0.0),
        "leapfrog_per_s": steps / phases["sample"] if phases.get("sample") else float("nan"),
        "min_ess_bulk": diag["min_ess_bulk"],
        "max_rhat": diag["max_rhat"],
        "divergences": diag["divergences"],
        "retries": diag["retries"],
        "sampler": diag["sampler"],
        "process_overhead": result["process_overhead"],
        "overhead": result.get("overhead", {}),
        "error": result["error"],
        "load": os.getloadavg(),
    }


def print_row(row: dict[str, Any]) -> None:
    load = ", ".join(f"{x:.1f}" for x in row["load"])
    print(
        f"{row['option']:6} {row['kind']:5} wall {row['wall']:6.1f} cpu {row['cpu']:6.1f} "
        f"import {row['import']:4.1f} compile {row['compile']:6.1f} sample {row['sample']:5.1f} "
        f"leapfrog/s {row['leapfrog_per_s']:6.0f} ess {row['min_ess_bulk']:4.0f} rhat {row['max_rhat']:.3f} "
        f"div {row['divergences']} retries {row['retries']} proc {row['process_overhead']:.1f} "
        f"({' '.join(f'{k} {v:.1f}' for k, v in row['overhead'].items())}) load {load}"
        + (f" ERROR {row['error']}" if row["error"] else ""),
        flush=True,
    )


def wait_for_background_compile(cache_dir: Path) -> None:
    """auto's cold run leaves a numba compile running: the next run must not share the cores with it."""
    from nascar_dfs.core.model.background_compile import LOCK_NAME

    started = time.perf_counter()
    while (cache_dir / LOCK_NAME).exists():
        time.sleep(2.0)
    if time.perf_counter() - started > 2.0:
        print(f"       background numba compile finished {time.perf_counter() - started:.0f} s after the run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--target", default=None, help="race_id (default: last points race of 2024)")
    parser.add_argument("--options", nargs="+", default=["numba", "jax"], choices=["numba", "jax", "auto"])
    parser.add_argument("--warm-runs", type=int, default=2)
    parser.add_argument("--skip-cold", action="store_true", help="warm runs only (one untimed warm-up each)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    from nascar_dfs.core.model.fit import FitConfig

    config = FitConfig()
    args.tune, args.draws, args.sampler, args.numba_opt = config.tune, config.draws, "nutpie", None
    args.target = args.target or default_target(args.data_dir)
    print(f"target {args.target}, {os.cpu_count()} cores, load average {os.getloadavg()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="compile-options-") as root:
        dirs = {option: Path(root) / option / "pytensor" for option in args.options}
        for kind in ["cold"] * (not args.skip_cold) + ["warm"] * args.warm_runs:
            for option in args.options:
                env = {"NASCAR_DFS_NUTPIE_BACKEND": option}
                if kind == "warm" and args.skip_cold and not dirs[option].exists():
                    run_fresh(args, dirs[option], env)  # untimed warm-up
                started = time.time()
                row = describe(option, kind, run_fresh(args, dirs[option], env), args.tune, config.chains)
                row["started_utc"] = time.strftime("%H:%M:%S", time.gmtime(started))
                rows.append(row)
                print_row(row)
                wait_for_background_compile(dirs[option])

    print(f"load average after {os.getloadavg()}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"target": args.target, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
