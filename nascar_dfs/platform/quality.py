"""Data quality as Dagster shows it: the history loader's quarantine as a metadata table on
race_history and the `data_quality` asset check (WARN, passes with nothing quarantined); data errors
as step failures that carry their file, row and column."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

from nascar_dfs.core.data.errors import DataValidationError
from nascar_dfs.core.data.quality import COLUMNS, Quarantined, problem_rows

DATA_QUALITY = "data_quality"
TABLE_LIMIT = 500  # rows shown in the UI table; the count and the API list them all
_TYPES = {"row": "int"}


def quarantine_metadata(items: Sequence[Quarantined]) -> dict[str, Any]:
    """`quarantined` (the count) and `quarantine` (a table of file, row, column, reason, action)."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _TYPES.get(name, "string")) for name in COLUMNS])
    records = [
        dg.TableRecord({k: ("" if v is None and k != "row" else v) for k, v in row.items()})
        for row in problem_rows(list(items)[:TABLE_LIMIT])
    ]
    return {
        "quarantined": len(items),
        "quarantine": dg.MetadataValue.table(records=records, schema=schema),
    }


def data_quality_check(items: Sequence[Quarantined], asset: str) -> dg.AssetCheckResult:
    """WARN when the loader set anything aside; the metadata counts it by action."""
    by_action = Counter(item.action for item in items)
    metadata: dict[str, Any] = {"quarantined": len(items), **{a: n for a, n in sorted(by_action.items())}}
    if items:
        metadata["first_problems"] = dg.MetadataValue.md("\n".join(f"- {item}" for item in list(items)[:10]))
    return dg.AssetCheckResult(
        check_name=DATA_QUALITY,
        asset_key=asset,
        passed=not items,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@contextmanager
def data_errors_as_failures() -> Iterator[None]:
    """A data error raised inside an asset becomes a `dg.Failure` whose description is the error's own
    sentence (file, row, column, problem), so the step failure the UI and the API show names the root
    cause rather than only "Error occurred while executing op ..."."""
    try:
        yield
    except DataValidationError as exc:
        where = {"file": exc.file, "row": exc.row, "column": exc.column}
        raise dg.Failure(
            description=str(exc), metadata={k: v for k, v in where.items() if v is not None}
        ) from exc
