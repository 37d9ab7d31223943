"""Why a run failed, in the root cause's own words: the message of the error the asset raised (the
data error with its file, row and column, the infeasible spec, the unknown driver), read from the
run's step failure event. Dagster wraps an asset's exception in its own ("Error occurred while
executing op ..."), which names only the op; the asset's error is the wrapper's cause. The REST API
and the CLI both tell a user why a run failed from here."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg

# Dagster's own wrappers around an exception raised by user code: the user's error is their cause.
_WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})
_WRAPPER_MESSAGE = re.compile(r"Error occurred while (executing|loading|handling)")
# "dagster._core.definitions.events.Failure: ...", "InfeasibleSpecError: ..." -> the sentence itself.
_CLASS_PREFIX = re.compile(r"^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Failure):\s*")


def root_cause(error: Any) -> Any:
    """The innermost error under Dagster's wrappers (a SerializableErrorInfo); an error the asset
    chained itself (`raise X from Y`) stays X, whose message is the one meant for the user."""
    while getattr(error, "cause", None) is not None and (
        error.cls_name in _WRAPPERS or _WRAPPER_MESSAGE.search(error.message or "")
    ):
        error = error.cause
    return error


def error_sentence(error: Any) -> str:
    """The first line of an error's message without its exception class."""
    lines = (error.message or "").strip().splitlines()
    return _CLASS_PREFIX.sub("", lines[0]).strip() if lines else ""


def step_failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The root cause of the run's first failed step (or of the run failure), None without one."""
    records = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        if error is not None:
            sentence = error_sentence(root_cause(error))
            if sentence:
                return sentence
    return None
