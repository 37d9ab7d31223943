"""A lineup request run in this process through Dagster, as `demo` and `lineups` run it: the
platform's one plan and in-process execution (nascar_dfs/platform/plan.py), one progress line per
step with its time and its warnings, and Dagster's DEBUG event stream only with `verbose`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The console logger's level when not verbose: a failed step's traceback would bury the one-line
# root cause the command prints (platform/progress.py).
QUIET_LOG_LEVEL = "CRITICAL"


def prepare_instance() -> Path:
    """The Dagster home (created if needed) this process's runs are recorded in, set as DAGSTER_HOME;
    the compile cache configured first, before anything imports PyTensor (a cold compile cache costs
    minutes per model layout: nascar_dfs/core/model/fit.py)."""
    from nascar_dfs.core.model.fit import CompileCacheError, configure_compile_cache

    try:
        configure_compile_cache()
    except CompileCacheError as exc:  # already imported in this process (tests): only slower
        print(f"note: {exc}", flush=True)
    from nascar_dfs.platform.instance import prepare_dagster_home

    home = prepare_dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    return home


class ProgressPrinter:
    """Prints the plan, each run as it starts and each step as it finishes; each warning once."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}
        self.warned: set[str] = set()

    def plan(self, plan: Any) -> None:
        self.reasons = dict(plan.reasons)
        if plan.reuses_everything:
            print("everything was already materialized and current: nothing recomputed", flush=True)

    def run(self, step: Any, run_id: str) -> None:
        print(f"run {run_id} ({step.job}, partition {step.partition})", flush=True)

    def step(self, report: Any) -> None:
        why = self.reasons.get(report.step, "dependency of the run")
        outcome = f"({why})" if report.succeeded else "FAILED"
        print(f"  {report.step:<22} {report.seconds:8.2f} s   {outcome}", flush=True)
        self.warnings(report.warnings)

    def warnings(self, warnings: Any) -> None:
        for warning in warnings:
            code = str(warning.get("code"))
            if code not in self.warned:
                self.warned.add(code)
                print(f"  warning {code}: {warning.get('detail')}", flush=True)


def run_request(
    defs: Any,
    instance: Any,
    race: str,
    spec: Any,
    *,
    storage_root: Path,
    reason: str,
    verbose: bool,
) -> tuple[Any, list[Any]]:
    """Plan and run race x spec in this process, printing its progress; then the warnings of the
    stored scenario set that no step printed (a request that reused it). Raises what
    platform.plan.request_lineups raises."""
    from nascar_dfs.platform.plan import request_lineups
    from nascar_dfs.platform.reads import lineup_warnings

    printer = ProgressPrinter()
    plan, results = request_lineups(
        defs,
        instance,
        race,
        spec,
        storage_root=storage_root,
        reason=reason,
        on_plan=printer.plan,
        on_run=printer.run,
        on_step=printer.step,
        log_level=None if verbose else QUIET_LOG_LEVEL,
    )
    printer.warnings(lineup_warnings(instance, race, spec.key))
    return plan, results
