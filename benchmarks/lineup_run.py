"""A lineup run, launch -> upload CSV, before/after in one run (issue 18: <= 3 s for 150 lineups).

What the run worker of an on-demand request does, in a fresh process per run: start Python, load the
code location as Dagster's run worker does (reconstructed from its code pointer), open the instance,
execute the lineup job's steps of the run (scenario_set, lineups, dk_upload_csv: 150 lineups, 10,000
scenarios, the demo race) on a calibrated model, exit. The model is calibrated once, by the --base
tree with the demo's short chain (`nascar-dfs demo --quick`; one to three minutes, more with a cold
compile cache), on a SQLite instance in a temporary DAGSTER_HOME that both sides share; then the two
trees run the same partition alternately.

Split per run (medians): interpreter start (spawn -> first line of the child), `import dagster`
(Dagster's own fixed cost), the instance (Dagster's storage imports and SQLite connection; the
worker opens it first), our part: the code location reconstructed and the lineup job built, then
the steps (from Dagster's event log); the rest of the run until the CSV step ends (Dagster's run
setup and event writes), and process exit. `run_create` is timed but not counted: the webserver
creates the run at the launch call, before any worker starts. Not included: the daemon's dequeue
and the relay to the API (see benchmarks/api_e2e.py for the whole request through a real
deployment).

    python benchmarks/lineup_run.py [--runs 5] [--base REV] [--lineups 150] [--scenarios 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.ab import (  # noqa: E402
    alternate,
    base_tree,
    commit_of,
    load,
    median_of,
    previous_code,
    spread,
    tree_env,
)

RACE = "2026-cup-demo-mile-2"  # the packaged demo slate's race
STEPS = ("scenario_set", "lineups", "dk_upload_csv")

# Calibrates the race and registers the spec (one untimed lineup run), with the --base tree's code.
SETUP = """
import sys
import dagster as dg
from nascar_dfs.commands.demo import QUICK_FIT
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.definitions import build_definitions
from nascar_dfs.platform.partitions import register_races
from nascar_dfs.platform.plan import request_lineups
from nascar_dfs.platform.resources import FileStorage, FitSettings

race, lineups, scenarios = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = ConstraintSpec(lineups=lineups, scenarios=scenarios, max_exposure=0.6)
defs = build_definitions({"fit_settings": FitSettings(**QUICK_FIT)})
with dg.DagsterInstance.get() as instance:
    register_races(instance, [race])
    plan, results = request_lineups(defs, instance, race, spec, storage_root=FileStorage().root())
print(spec.key, [(r.step.job, r.seconds_per_asset) for r in results])
"""

# One run worker, as Dagster's runs it: load the code location by reconstructing it from its code
# pointer (a run worker's load, not the code server's), then execute the lineup job's steps of an
# existing run. The run is created here because there is no launcher; its creation (the webserver's
# work at the launch call, before any worker starts) is timed apart and left out of the figure.
CHILD = """
import time
started = time.time()
import json, sys
import dagster as dg
imported_dagster = time.time()
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run

# As in Dagster's run worker: the instance first, then the job reconstructed from its code pointer.
with dg.DagsterInstance.get() as instance:
    instance_ready = time.time()
    repo = ReconstructableRepository.for_module("nascar_dfs.definitions", "defs", working_directory=None)
    job = repo.get_reconstructable_job("lineup_job")
    steps_wanted = {dg.AssetKey(a) for a in sys.argv[2].split(",")}
    job = job.get_subset(asset_selection=steps_wanted)
    job_def = job.get_definition()
    loaded = time.time()
    from nascar_dfs.platform import tags

    partition = sys.argv[1]
    run = instance.create_run_for_job(
        job_def=job_def, asset_selection=frozenset(steps_wanted),
        tags={**tags.run_tags(tags.LINEUPS, "request", partition.split("|")[0]),
              "dagster/partition": partition},
    )
    created = time.time()
    result = execute_run(job, run, instance)
    ran = time.time()
    steps = {}
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
            steps.setdefault(entry.step_key, []).append(entry.timestamp)
print(json.dumps({"ok": result.success, "started": started, "imported_dagster": imported_dagster,
                  "loaded": loaded, "instance_ready": instance_ready, "created": created, "ran": ran,
                  "steps": steps}))
"""


def run_worker(tree: Path, env: dict[str, str], partition: str) -> dict[str, float]:
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, partition, ",".join(STEPS)],
        env=tree_env(tree, **env), cwd=tree, capture_output=True, text=True, check=False,
    )  # fmt: skip
    exited = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"lineup run failed in {tree}:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if not got["ok"]:
        raise RuntimeError(f"lineup run did not succeed in {tree}:\n{done.stderr[-3000:]}")
    steps = got["steps"]
    csv_done = max(steps["dk_upload_csv"])
    run_create = got["created"] - got["loaded"]
    return {
        "launch_to_csv": csv_done - spawned - run_create,
        "interpreter": got["started"] - spawned,
        "dagster_import": got["imported_dagster"] - got["started"],
        "instance": got["instance_ready"] - got["imported_dagster"],
        "our_definitions": got["loaded"] - got["instance_ready"],
        **{step: max(stamps) - min(stamps) for step, stamps in steps.items()},
        "run_other": csv_done - got["created"] - sum(max(s) - min(s) for s in steps.values()),
        "run_create": run_create,
        "exit": exited - got["ran"],
        "wall": exited - spawned,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", help="git revision of the previous code (default: merge base with main)")
    parser.add_argument("--lineups", type=int, default=150)
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--work", type=Path, help="folder of an earlier run: reuse its calibrated model")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lineup-run-bench-"))
    (work / "home").mkdir(parents=True, exist_ok=True)
    (work / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    marker = work / f"spec-{args.lineups}-{args.scenarios}.txt"
    env = {
        "DAGSTER_HOME": str(work / "home"),
        "NASCAR_DFS_STORAGE": str(work / "storage"),
        "NASCAR_DFS_DATA_DIR": str(REPO / "nascar_dfs" / "demo_data"),
    }
    args.base = previous_code(args.base)
    with base_tree(args.base) as base:
        trees = {"before": base, "after": REPO}
        print(
            f"before = {args.base} ({commit_of(base)}), after = this tree ({commit_of(REPO)}); load {load()}"
        )
        if not marker.exists():
            started = time.perf_counter()
            setup = subprocess.run(
                [sys.executable, "-c", SETUP, RACE, str(args.lineups), str(args.scenarios)],
                env=tree_env(base, **env), cwd=base, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if setup.returncode != 0:
                print(setup.stderr[-3000:])
                return 1
            marker.write_text(setup.stdout.strip().splitlines()[-1].split()[0])
            print(
                f"calibrated {RACE} in {work} in {time.perf_counter() - started:.0f} s (reuse: --work {work})"
            )
        spec_key = marker.read_text().strip()
        partition = f"{RACE}|{spec_key}"
        got = alternate(args.runs, {n: (lambda t=t: run_worker(t, env, partition)) for n, t in trees.items()})
    keys = ["launch_to_csv", "interpreter", "dagster_import", "instance", "our_definitions", *STEPS]
    keys += ["run_other", "exit"]
    keys.append("run_create")  # not in launch_to_csv: the launch call's own work
    print(
        f"{args.lineups} lineups, {args.scenarios} scenarios, {args.runs} runs a side; median (min-max), s:"
    )
    for name in trees:
        print(f"  {name:6s} " + ", ".join(f"{k} {spread(got[name], k)}" for k in keys))
    before, after = median_of(got["before"], "launch_to_csv"), median_of(got["after"], "launch_to_csv")
    # The fastest run of a side is the one the other jobs on the machine slowed least.
    best = {n: min(s["launch_to_csv"] for s in got[n]) for n in trees}
    print(
        f"launch -> CSV after/before: median {after / before:.2f} ({before:.2f} -> {after:.2f} s), fastest "
        f"{best['after'] / best['before']:.2f} ({best['before']:.2f} -> {best['after']:.2f} s); "
        f"target <= 3 s: {'met' if after <= 3.0 else 'NOT met'}; load {load()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
