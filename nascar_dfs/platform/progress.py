"""What a request's runs tell a person as they go: one report per finished step (its time and its
warnings), and the root cause of a failed step, read from the Dagster events of the run.

The CLI prints these (nascar_dfs/commands/request_progress.py) instead of Dagster's DEBUG event
stream. A warning is {"code", "detail"}: the `warnings` an asset records in its materialization
metadata (start-positions-unknown, nascar_dfs/defs/lineups/assets.py) and every asset check of the
step that did not pass at WARN severity (data_quality, starting_lineup, rejection_rate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

# Wrappers Dagster puts around the exception an asset raised; the cause under them is the message.
_WRAPPER_CLASSES = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})


@dataclass(frozen=True)
class StepReport:
    run_id: str
    step: str  # the step key: the asset's name
    seconds: float
    succeeded: bool
    warnings: tuple[dict[str, str], ...] = ()
    error: str | None = None  # the root cause of a failed step


def root_cause(error: Any) -> str:
    """The message of the exception an asset raised (a SerializableErrorInfo), without Dagster's
    "Error occurred while executing op ..." wrapper or the exception's qualified class name."""
    while error.cause is not None and (
        error.cls_name in _WRAPPER_CLASSES or str(error.message).startswith("Error occurred while executing")
    ):
        error = error.cause
    message = str(error.message).strip()
    prefix, sep, rest = message.partition(": ")
    if sep and error.cls_name and prefix.rsplit(".", 1)[-1] == error.cls_name:
        message = rest.strip()
    return message or str(error.cls_name)


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _check_warning(evaluation: Any) -> dict[str, str]:
    """A failed WARN check as a warning: its own code and detail when it records them (the
    starting_lineup check), else the check's name and its first problems (data_quality) or figures."""
    metadata = {k: _metadata_value(v) for k, v in (evaluation.metadata or {}).items()}
    code = str(metadata.get("warning") or evaluation.check_name)
    detail = metadata.get("detail")
    if not detail and metadata.get("first_problems"):
        lines = [line.removeprefix("- ") for line in str(metadata["first_problems"]).splitlines()]
        count = metadata.get("quarantined")
        more = isinstance(count, int) and count > len(lines)
        detail = "; ".join(lines) + (f" ({count} in all)" if more else "")
    if not detail:
        detail = ", ".join(f"{k} {v}" for k, v in metadata.items() if isinstance(v, int | float | str))
    return {"code": code, "detail": f"{detail} (check on {evaluation.asset_key.to_user_string()})"}


@dataclass
class StepWatcher:
    """An event listener of one run (DagsterInstance.add_event_listener) that calls `report` once
    per finished step."""

    run_id: str
    report: Callable[[StepReport], None]
    _started: dict[str, float] = field(default_factory=dict)
    _warnings: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def __call__(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            return
        key = entry.step_key or ""
        kind = event.event_type
        data = event.event_specific_data
        if kind == dg.DagsterEventType.STEP_START:
            self._started[key] = entry.timestamp
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            recorded = _metadata_value(data.materialization.metadata.get("warnings"))
            for item in recorded or ():
                self._warnings.setdefault(key, []).append(
                    {"code": str(item.get("code")), "detail": str(item.get("detail"))}
                )
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            if not data.passed and data.severity == dg.AssetCheckSeverity.WARN:
                self._warnings.setdefault(key, []).append(_check_warning(data))
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            seconds = round(entry.timestamp - self._started.get(key, entry.timestamp), 3)
            error = None
            if kind == dg.DagsterEventType.STEP_FAILURE:
                error = root_cause(data.error) if data.error is not None else "no step error recorded"
            self.report(
                StepReport(
                    self.run_id,
                    key,
                    seconds,
                    kind == dg.DagsterEventType.STEP_SUCCESS,
                    tuple(self._warnings.pop(key, ())),
                    error,
                )
            )
