"""Domain metrics read from Dagster at scrape time: runs by state and kind, run phases, the
calibrated models' CRPS and divergences, the scenario sets' rejection rates, and calibration
freshness of the upcoming races; plus readiness of every dependency.

A scrape never waits on Dagster for long and never fails because of it:
- the whole Dagster read is one snapshot, refreshed at most every `metrics_cache_s` by one
  thread at a time (concurrent scrapes reuse it, so a scrape storm costs one refresh);
- every query is bounded (a fixed number of count queries, `limit=` on every record fetch, step
  stats fetched once per finished run and kept);
- the refresh runs in a worker thread with a deadline; when storage is down or slow the scrape
  still answers, with `dfs_dependency_up{dependency="dagster-storage"} 0` and no Dagster series.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.orchestration.dagster_launcher import STEP_PHASES

log = logging.getLogger("api.metrics")

KINDS = ("calibration", "lineups")
OTHER_KIND = "other"
ACTIVE_STATES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
FINISHED_STATES = ("SUCCESS", "FAILURE", "CANCELED")
# Dagster step (asset) -> phase of the pipeline, as the lineup request's progress names them.
PHASE_OF_STEP = {
    "race_history": "data",
    "race_slate": "data",
    "calibrated_model": "calibration",
    **{step: phase for step, (phase, _) in STEP_PHASES.items()},
}
QUANTILES = (0.5, 0.95)

# Bounds on what one refresh reads.
RECENT_MATERIALIZATIONS = 200  # newest calibrated_model materializations / check evaluations
RECENT_SCENARIO_SETS = 100  # newest rejection_rate check evaluations
ACTIVE_RUNS_READ = 1000  # runs not finished yet, oldest first (a deeper queue reads as 1000)
PHASE_RUNS = 20  # newest succeeded runs per kind whose phase durations are summarized
UPCOMING_RACES = 5  # races without results dated today or later, in schedule order
STEP_STATS_KEPT = 500  # finished runs never change: their phase durations are kept


@dataclass
class Snapshot:
    """What one refresh read from Dagster (every field already labelled for export)."""

    runs_active: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, kind)
    runs_finished: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest_queued_age: dict[str, float] = field(default_factory=dict)  # kind -> seconds
    phase_quantiles: dict[tuple[str, str, float], float] = field(default_factory=dict)
    model_crps: dict[str, float] = field(default_factory=dict)  # race -> value
    baseline_crps: dict[str, float] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    divergences: dict[str, int] = field(default_factory=dict)
    rejection_rate: dict[tuple[str, str], float] = field(default_factory=dict)  # (race, spec)
    rejection_at: dict[tuple[str, str], float] = field(default_factory=dict)
    race_start: dict[str, float] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _number(value: Any) -> float | None:
    try:
        out = float(_plain(value))
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out


def _epoch(moment: datetime) -> float:
    # Run storage hands back UTC datetimes, naive from some backends.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _split_partition(key: str) -> tuple[str, str] | None:
    # Multi-partition keys are stored with their dimensions in name order: "race|spec".
    parts = key.split("|")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _latest_check_evaluations(
    instance: Any, asset: str, check: str, limit: int
) -> list[tuple[str, Any, float]]:
    """(partition, evaluation, time) of the newest evaluation of the check per partition.

    The checks are not partitioned themselves, so an evaluation's partition is the one its run
    materialized: read from the runs' partition tags, all runs in one bounded query.
    """
    import dagster as dg

    from nascar_dfs.platform.launch import PARTITION

    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check), limit=limit
    )
    executions = [e for e in history if e.evaluation is not None]
    run_ids = sorted({e.run_id for e in executions})
    partition_of = (
        {
            r.dagster_run.run_id: r.dagster_run.tags.get(PARTITION)
            for r in instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids), limit=len(run_ids))
        }
        if run_ids
        else {}
    )
    found: dict[str, tuple[str, Any, float]] = {}
    for execution in executions:  # newest first
        partition = execution.partition or partition_of.get(execution.run_id)
        if partition and partition not in found:
            found[partition] = (partition, execution.evaluation, float(execution.create_timestamp))
    return list(found.values())


class DagsterReader:
    """Reads one Snapshot from a Dagster instance with bounded queries."""

    def __init__(self, instance: Callable[[], Any], data_dir: Callable[[], Path | None]) -> None:
        self._instance = instance
        self._data_dir = data_dir
        self._phases_of_run: OrderedDict[str, dict[str, float]] = OrderedDict()

    def read(self, now: float) -> Snapshot:
        instance = self._instance()
        snap = Snapshot()
        self._runs(instance, snap, now)
        self._phases(instance, snap)
        self._models(instance, snap)
        self._scenario_sets(instance, snap)
        self._upcoming(instance, snap, datetime.fromtimestamp(now, tz=UTC).date())
        return snap

    # --- run storage ---------------------------------------------------------------------------
    def _runs(self, instance: Any, snap: Snapshot, now: float) -> None:
        import dagster as dg

        from nascar_dfs.platform import launch

        statuses = [dg.DagsterRunStatus(s) for s in ACTIVE_STATES]
        # Oldest first, so the oldest queued run is always among those read.
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=statuses),
            limit=ACTIVE_RUNS_READ,
            order_by="create_timestamp",
            ascending=True,
        )
        for state in ACTIVE_STATES:
            for kind in (*KINDS, OTHER_KIND):
                snap.runs_active[(state.lower(), kind)] = 0
        for record in records:
            run = record.dagster_run
            kind = run.tags.get(launch.KIND, OTHER_KIND)
            kind = kind if kind in KINDS else OTHER_KIND
            snap.runs_active[(run.status.value.lower(), kind)] += 1
            if run.status.value == "QUEUED":
                age = now - _epoch(record.create_timestamp)
                snap.oldest_queued_age[kind] = max(age, snap.oldest_queued_age.get(kind, 0.0))
        for state in FINISHED_STATES:
            status = dg.DagsterRunStatus(state)
            total = instance.get_runs_count(dg.RunsFilter(statuses=[status]))
            known = 0
            for kind in KINDS:
                n = instance.get_runs_count(dg.RunsFilter(statuses=[status], tags={launch.KIND: kind}))
                snap.runs_finished[(state.lower(), kind)] = n
                known += n
            snap.runs_finished[(state.lower(), OTHER_KIND)] = max(0, total - known)

    def _phases(self, instance: Any, snap: Snapshot) -> None:
        """Quantiles of each phase's duration over the newest succeeded runs of each kind."""
        import dagster as dg

        from nascar_dfs.platform import launch

        for kind in KINDS:
            records = instance.get_run_records(
                filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS], tags={launch.KIND: kind}),
                limit=PHASE_RUNS,
            )
            samples: dict[str, list[float]] = {}
            for record in records:
                for phase, seconds in self._run_phases(instance, record).items():
                    samples.setdefault(phase, []).append(seconds)
            for phase, values in samples.items():
                for q in QUANTILES:
                    snap.phase_quantiles[(kind, phase, q)] = float(np.quantile(values, q))

    def _run_phases(self, instance: Any, record: Any) -> dict[str, float]:
        run_id = record.dagster_run.run_id
        if run_id in self._phases_of_run:
            return self._phases_of_run[run_id]
        phases: dict[str, float] = {}
        if record.start_time is not None:
            phases["queue"] = max(0.0, record.start_time - _epoch(record.create_timestamp))
        for stat in instance.get_run_step_stats(run_id):
            if stat.start_time is None or stat.end_time is None:
                continue
            phase = PHASE_OF_STEP.get(stat.step_key.split("[")[0], "other")
            phases[phase] = phases.get(phase, 0.0) + (stat.end_time - stat.start_time)
        self._phases_of_run[run_id] = phases
        while len(self._phases_of_run) > STEP_STATS_KEPT:
            self._phases_of_run.popitem(last=False)
        return phases

    # --- asset materializations and check evaluations -----------------------------------------
    def _models(self, instance: Any, snap: Snapshot) -> None:
        import dagster as dg

        result = instance.fetch_materializations(
            dg.AssetKey("calibrated_model"), limit=RECENT_MATERIALIZATIONS
        )
        for record in result.records:  # newest first: the first seen per race is its latest
            race = record.partition_key
            mat = record.asset_materialization
            if not race or mat is None or race in snap.last_success:
                continue
            snap.last_success[race] = float(record.timestamp)
            crps = _number(mat.metadata.get("crps"))
            baseline = _number(mat.metadata.get("baseline_crps"))
            if crps is not None and baseline is not None:
                snap.model_crps[race] = crps
                snap.baseline_crps[race] = baseline
        # Divergences from the sampler-diagnostics check: it is also recorded for fits the
        # thresholds rejected, which never became a materialization.
        for partition, evaluation, _ in _latest_check_evaluations(
            instance, "calibrated_model", "sampler_diagnostics", RECENT_MATERIALIZATIONS
        ):
            n = _number(evaluation.metadata.get("divergences"))
            if n is not None:
                snap.divergences[partition] = int(n)

    def _scenario_sets(self, instance: Any, snap: Snapshot) -> None:
        for partition, evaluation, at in _latest_check_evaluations(
            instance, "scenario_set", "rejection_rate", RECENT_SCENARIO_SETS
        ):
            labels = _split_partition(partition)
            rate = _number(evaluation.metadata.get("rejection_rate"))
            if labels is not None and rate is not None:
                snap.rejection_rate[labels] = rate
                snap.rejection_at[labels] = at

    def _upcoming(self, instance: Any, snap: Snapshot, today: date) -> None:
        """Start of the next races without results dated today or later, and their last
        successful calibration (a past race still waiting for its results is not upcoming)."""
        from nascar_dfs.platform.reads import last_calibrated_at, race_calendar

        data_dir = self._data_dir()
        if data_dir is None:
            return
        races = race_calendar(data_dir).races
        dated = races["race_date"].fillna("").astype(str)
        upcoming = races[~races["completed"] & (dated >= today.isoformat())].head(UPCOMING_RACES)
        for race, day in zip(upcoming["race_id"], upcoming["race_date"], strict=True):
            # races.csv has the day only: the day's start (UTC) is the earliest the race can start.
            start = date.fromisoformat(str(day))
            snap.race_start[race] = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
            if race not in snap.last_success:
                latest = last_calibrated_at(instance, race)
                if latest is not None:
                    snap.last_success[race] = latest


class CachedSnapshot:
    """At most one refresh at a time and per `ttl_s`; a refresh that overruns `timeout_s` leaves
    the scrape with no snapshot (storage reported down) while it finishes in the background."""

    def __init__(self, reader: DagsterReader, ttl_s: float, timeout_s: float) -> None:
        self.reader = reader
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.refreshes = 0  # counted so tests can see the cache at work
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dagster-metrics")
        self._cached: tuple[float, Snapshot | None] | None = None
        self._pending: Any = None

    def get(self) -> Snapshot | None:
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.ttl_s:
                return self._cached[1]
            if self._pending is None:
                self.refreshes += 1
                self._pending = self._pool.submit(self.reader.read, time.time())
            try:
                snap: Snapshot | None = self._pending.result(timeout=self.timeout_s)
            except FutureTimeout:
                log.warning("dagster metrics: no answer from Dagster storage within %s s", self.timeout_s)
                self._cached = (time.monotonic(), None)
                return None  # the pending read is kept: the next scrape after the TTL reuses it
            except Exception as exc:
                log.warning("dagster metrics unavailable: %s: %s", type(exc).__name__, exc)
                snap = None
            self._pending = None
            self._cached = (time.monotonic(), snap)
            return snap

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class DagsterCollector(Collector):
    """Exports the cached snapshot and the dependency readiness gauges."""

    def __init__(self, cache: CachedSnapshot | None, readiness: Callable[[], dict[str, bool]]) -> None:
        self.cache = cache
        self.readiness = readiness

    def collect(self) -> Iterator[Metric]:
        snap = self.cache.get() if self.cache is not None else None
        ready = self.readiness()
        if self.cache is not None and snap is None:
            ready["dagster-storage"] = False
        up = GaugeMetricFamily(
            "dfs_dependency_up",
            "1 when the dependency answered its health check (API database, Dagster storage, "
            "Dagster daemon heartbeat, Neo4j), else 0",
            labels=["dependency"],
        )
        for name, ok in sorted(ready.items()):
            up.add_metric([name], 1.0 if ok else 0.0)
        yield up
        if snap is not None:
            yield from _families(snap)


def _families(snap: Snapshot) -> Iterator[Metric]:
    runs = GaugeMetricFamily(
        "dfs_dagster_runs", "Dagster runs not finished yet, by state and kind", labels=["state", "kind"]
    )
    for (state, kind), n in sorted(snap.runs_active.items()):
        runs.add_metric([state, kind], n)
    yield runs
    finished = CounterMetricFamily(
        "dfs_dagster_runs_finished",
        "Dagster runs finished, by final state and kind",
        labels=["state", "kind"],
    )
    for (state, kind), n in sorted(snap.runs_finished.items()):
        finished.add_metric([state, kind], n)
    yield finished
    oldest = GaugeMetricFamily(
        "dfs_dagster_oldest_queued_run_age_seconds",
        "Age of the oldest run still queued, by kind (absent when none is queued)",
        labels=["kind"],
    )
    for kind, age in sorted(snap.oldest_queued_age.items()):
        oldest.add_metric([kind], age)
    yield oldest
    phases = GaugeMetricFamily(
        "dfs_run_phase_duration_seconds",
        f"Duration of each phase (queue, data, calibration, scenarios, optimization) over the "
        f"{PHASE_RUNS} newest succeeded runs of each kind, from Dagster step stats",
        labels=["kind", "phase", "quantile"],
    )
    for (kind, phase, q), seconds in sorted(snap.phase_quantiles.items()):
        phases.add_metric([kind, phase, str(q)], seconds)
    yield phases
    yield _per_race(
        "dfs_calibration_model_crps",
        "Finish CRPS of the race's latest calibrated model on the completed races after its "
        "training cutoff (lower is better)",
        snap.model_crps,
    )
    yield _per_race(
        "dfs_calibration_baseline_crps",
        "Finish CRPS of the naive baseline on the same races as dfs_calibration_model_crps",
        snap.baseline_crps,
    )
    yield _per_race(
        "dfs_calibration_divergences",
        "Divergent transitions of the race's latest calibration (sampler_diagnostics check)",
        snap.divergences,
    )
    yield _per_race(
        "dfs_calibration_last_success_timestamp_seconds",
        "When the race's calibrated model was last materialized (Unix time)",
        snap.last_success,
    )
    yield _per_race(
        "dfs_race_start_timestamp_seconds",
        "Start of race day (UTC) of the next races without results dated today or later (races.csv)",
        snap.race_start,
    )
    rate = GaugeMetricFamily(
        "dfs_scenario_set_rejection_rate",
        "Share of simulated races rejected by the spec's views, per scenario set (rejection_rate check);"
        " spec is the set's recency rank (1 = checked last), not its spec key",
        labels=["race_id", "spec"],
    )
    at = GaugeMetricFamily(
        "dfs_scenario_set_checked_timestamp_seconds",
        "When the scenario set's rejection_rate check ran (Unix time); spec as above",
        labels=["race_id", "spec"],
    )
    # Spec keys are user input: as label values they would grow a series per spec any user ever
    # sent. The rank keeps the label set bounded (at most RECENT_SCENARIO_SETS values) and is
    # all the alert on several sets in a row needs (deploy/prometheus/rules/nascar_dfs.rules.yml).
    newest_first = sorted(snap.rejection_rate, key=lambda k: (-snap.rejection_at[k], k))
    for rank, (race, _spec) in enumerate(newest_first, start=1):
        rate.add_metric([race, str(rank)], snap.rejection_rate[(race, _spec)])
        at.add_metric([race, str(rank)], snap.rejection_at[(race, _spec)])
    yield rate
    yield at


def _per_race(name: str, doc: str, values: dict[str, float] | dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["race_id"])
    for race, value in sorted(values.items()):
        family.add_metric([race], value)
    return family
