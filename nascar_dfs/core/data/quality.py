"""What the history loader set aside: one typed record per broken row, at the smallest unit that keeps
the rest of the data true.

A broken starting position masks only that race's starts (its finishing order still trains the
model); a broken finishing order, laps total or other result cell drops the race; a venue whose
metadata cannot be resolved drops the venue's races; a broken loop-data row drops that race's loop
statistics (the race keeps its results). Everything else loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Action = Literal["starts-masked", "race-dropped", "venue-dropped", "loop-dropped"]
ACTIONS: tuple[Action, ...] = ("starts-masked", "race-dropped", "venue-dropped", "loop-dropped")
# Column order of every table of quarantined rows (asset metadata, `data validate`, the API).
COLUMNS: tuple[str, ...] = ("file", "row", "column", "reason", "action", "race_id", "track_slug")


@dataclass(frozen=True)
class Quarantined:
    """One problem of one input file and what the loader did about it.

    `row` is the spreadsheet row (header = 1, first data row = 2), None for a whole-file problem;
    `column` is None when the problem is the row as a whole (e.g. a duplicate key).
    """

    file: str
    row: int | None
    column: str | None
    reason: str
    action: Action
    race_id: str | None = None
    track_slug: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.reason} ({self.action})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def problem_rows(items: tuple[Quarantined, ...] | list[Quarantined]) -> list[dict[str, Any]]:
    """The records as plain dicts in COLUMNS order (for tables and JSON)."""
    return [{column: getattr(item, column) for column in COLUMNS} for item in items]
