"""What a process outside Dagster (the REST API, its metrics) reads of the platform: the results one
run built (built_results), stored outputs of a partition, the inputs of a spec preview, where
uploaded slates go, and the race calendar.

Every read goes through the same layout and codecs the IO manager writes with (storage.py,
codecs.py), under the storage root of this process's environment (NASCAR_DFS_STORAGE, else
DAGSTER_HOME/storage), so the API never builds a path of its own. Nothing here launches or
computes an asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.core.data.calendar import RaceCalendar, read_calendar
from nascar_dfs.core.field import Field
from nascar_dfs.core.optimizer.portfolio import Portfolio
from nascar_dfs.platform import science, storage
from nascar_dfs.platform.content_store import CONTENT_DIGEST, LINEUPS_DIGEST, read_build
from nascar_dfs.platform.io_manager import codec_for, output_path, read_output
from nascar_dfs.platform.materializations import Materialized, bound_materialization, latest_materialization
from nascar_dfs.platform.partitions import race_spec_key
from nascar_dfs.platform.resources import NascarData
from nascar_dfs.platform.spec_store import load_spec

__all__ = [
    "BuiltResults",
    "PreviewInputs",
    "RaceCalendar",
    "ResultsNotFoundError",
    "built_results",
    "data_dir",
    "data_quality",
    "last_calibrated_at",
    "lineup_warnings",
    "preview_inputs",
    "race_calendar",
    "slate_salaries",
    "slate_upload_path",
    "storage_root",
    "stored_contest_report",
    "stored_lineups",
    "stored_upload_csv",
]


def storage_root() -> Path:
    """The base folder of every stored output, spec and uploaded slate."""
    return storage.resolve_base_path(None)


def slate_upload_path(race: str) -> Path:
    """Where an uploaded DKSalaries.csv of `race` goes: the race_slate asset reads it from there."""
    return storage.slate_upload_path(storage_root(), race)


def _required(asset: str, race: str, spec_key: str) -> Any:
    stored = read_output(storage_root(), asset, [race, spec_key])
    if stored is None:
        path = output_path(storage_root(), asset, [race, spec_key])
        raise FileNotFoundError(f"the {asset} of {race}|{spec_key} is missing at {path}")
    return stored


class ResultsNotFoundError(LookupError):
    """The run has no results to read (not built, built before builds were kept by content, or
    removed after their retention); the message says which."""


@dataclass(frozen=True)
class BuiltResults:
    """What one build of a race x spec handed out: its lineups, the upload CSV written from exactly
    those lineups, and the contest report played on them (None for a spec without a contest)."""

    run_id: str  # the run that wrote the upload CSV
    lineups: Portfolio
    upload_csv: str
    contest_report: dict[str, Any] | None
    warnings: list[dict[str, str]]  # what the lineups were built on, e.g. a simulated grid


def _bound(instance: dg.DagsterInstance, asset: str, partition: str, run_id: str | None) -> Materialized:
    found = (
        latest_materialization(instance, asset, partition)
        if run_id is None
        else bound_materialization(instance, asset, partition, run_id)
    )
    if found is None:
        whose = "" if run_id is None else f" for run {run_id}"
        raise ResultsNotFoundError(f"{asset} {partition} was never materialized{whose}")
    return found


def _digest(record: Materialized, key: str) -> str:
    value = record.value(key)
    if not value:
        raise ResultsNotFoundError(
            f"{record.asset} {record.partition} of run {record.run_id} recorded no {key}: it was built "
            "before results were kept by content; build it again"
        )
    return str(value)


def built_results(instance: dg.DagsterInstance, race: str, spec_key: str, run_id: str | None) -> BuiltResults:
    """The results of race x spec as run `run_id` had them: what it (or a retry of it) built, else
    what it was planned on when it rebuilt none of them (materializations.bound_materialization);
    with None, the partition's newest. A rebuild of the partition since never changes the answer,
    and the lineups are always the build the CSV was written from. ResultsNotFoundError when the run
    has none; FileNotFoundError when a build was removed after its retention."""
    root = storage_root()
    parts = [race, spec_key]
    partition = str(race_spec_key(race, spec_key))
    csv = _bound(instance, "dk_upload_csv", partition, run_id)
    upload = read_build(
        root, "dk_upload_csv", parts, _digest(csv, CONTENT_DIGEST), codec_for("dk_upload_csv")
    )
    lineups_digest = _digest(csv, LINEUPS_DIGEST)
    portfolio = read_build(root, "lineups", parts, lineups_digest, codec_for("lineups"))
    # The lineups materialization the CSV's run read (same rule, same run: the same answer).
    lineups = bound_materialization(instance, "lineups", partition, csv.run_id)
    warnings = list(lineups.value("warnings") or []) if lineups is not None else []
    report = None
    if load_spec(root, spec_key).contest is not None:
        played = _bound(instance, "contest_report", partition, run_id)
        if _digest(played, LINEUPS_DIGEST) != lineups_digest:
            raise ResultsNotFoundError(
                f"the contest report of {partition} for run {run_id} was played on other lineups than "
                "its upload CSV was written from"
            )
        report = read_build(
            root, "contest_report", parts, _digest(played, CONTENT_DIGEST), codec_for("contest_report")
        )
    return BuiltResults(csv.run_id, portfolio, upload, report, warnings)


def stored_lineups(race: str, spec_key: str) -> Portfolio:
    """The portfolio the lineups asset stored (FileNotFoundError when it was never stored)."""
    return _required("lineups", race, spec_key)


def stored_upload_csv(race: str, spec_key: str) -> str:
    """The DraftKings upload CSV text the dk_upload_csv asset stored (FileNotFoundError when missing)."""
    return _required("dk_upload_csv", race, spec_key)


def stored_contest_report(race: str, spec_key: str) -> dict[str, Any] | None:
    """The contest report of a spec that names a contest (None for one that does not; never computed
    here); FileNotFoundError when the spec has a contest and the report is missing."""
    if load_spec(storage_root(), spec_key).contest is None:
        return None
    path = output_path(storage_root(), "contest_report", [race, spec_key])
    if not path.exists():
        raise FileNotFoundError(f"the contest report of {race}|{spec_key} is missing at {path}")
    return read_output(storage_root(), "contest_report", [race, spec_key])


def slate_salaries(race: str, spec_key: str | None = None) -> dict[int, int]:
    """DraftKings id -> salary of the race's stored slate; {} when no slate was stored. With the
    spec of a request, of the slate version that spec pinned (a replaced slate does not change it)."""
    pinned = load_spec(storage_root(), spec_key).slate_version if spec_key is not None else None
    if pinned is not None:
        from nascar_dfs.platform.slate_store import pinned_slate, slates_dir

        slate = science.read_slate(pinned_slate(slates_dir(storage_root()), race, pinned).path)
    else:
        slate = read_output(storage_root(), "race_slate", [race])
    if slate is None:
        return {}
    players = slate.players
    return dict(zip(players["dk_id"].astype(int), players["salary"].astype(int), strict=True))


@dataclass(frozen=True)
class PreviewInputs:
    """The race's latest calibrated model and the field of its stored slate."""

    model: Any  # FittedModel
    field: Field


def preview_inputs(race: str) -> PreviewInputs | None:
    """What a spec preview of `race` runs on; None until the race has a stored model and slate."""
    root = storage_root()
    model = read_output(root, "calibrated_model", [race])
    slate = read_output(root, "race_slate", [race])
    history = read_output(root, "race_history", [])
    if model is None or slate is None or history is None:
        return None
    from nascar_dfs.platform.starting_lineups import starting_lineup

    # The field the race's scenario sets simulate: the uploaded starting lineup's grid, if any.
    starts = starting_lineup(root, race)
    return PreviewInputs(model=model, field=science.slate_field(slate, history, race, starts=starts))


def data_quality() -> list[dict[str, Any]] | None:
    """Every row the stored race_history quarantined (what the runs train and simulate on), as dicts
    with file, row, column, reason, action, race_id, track_slug (core/data/quality.py); [] for clean
    data, None while race_history was never materialized. Serves admin GET /v1/data-quality."""
    from nascar_dfs.core.data.quality import problem_rows

    history = read_output(storage_root(), "race_history", [])
    if history is None:
        return None
    return problem_rows(history.quarantine)


def lineup_warnings(instance: dg.DagsterInstance, race: str, spec_key: str) -> list[dict[str, str]]:
    """Warnings of a race x spec's latest scenario set, e.g. [{"code": "start-positions-unknown",
    "detail": ...}] when its starting grid was simulated; [] when none or never materialized."""
    latest = latest_materialization(instance, "scenario_set", str(race_spec_key(race, spec_key)))
    if latest is None:
        return []
    return list(latest.value("warnings") or [])


def data_dir() -> Path:
    """The race data folder the code location reads (NASCAR_DFS_DATA_DIR, else the packaged demo
    data); FileNotFoundError when it does not exist."""
    return NascarData().root()


def race_calendar(folder: Path) -> RaceCalendar:
    """Points races of a data folder in schedule order, with their dates and whether completed."""
    return read_calendar(folder)


def last_calibrated_at(instance: dg.DagsterInstance, race: str) -> float | None:
    """When the race's latest model was materialized (a Unix time); None if it never was."""
    latest = latest_materialization(instance, "calibrated_model", race)
    return None if latest is None else float(latest.timestamp)
