"""DKSalaries.csv files shaped like DraftKings' real ones (shared DRAFTKINGS.md): no StartPos column,
TeamAbbrev blank where DraftKings leaves it blank, drivers of a real race of the shared history.

Salaries are SYNTHETIC (no real DraftKings salaries exist in the shared data): they fall with the
driver's finish in the race the names are taken from, which is all the tests need.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HEADER = (
    "Position", "Name + ID", "Name", "ID", "Roster Position", "Salary", "Game Info", "TeamAbbrev",
    "AvgPointsPerGame",
)  # fmt: skip
GAME_INFO = "SYNTHETIC salaries for tests 03/08/2026 03:30PM ET"


def race_drivers(data_dir: Path, race_id: str) -> list[str]:
    """The drivers of `race_id` in finishing order, as cup_results.csv names them."""
    with (data_dir / "cup_results.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["race_id"] == race_id]
    return [r["driver"] for r in sorted(rows, key=lambda r: int(r["finish"]))]


def dk_salaries(
    names: list[str], blank_team: set[str] | frozenset[str] = frozenset(), start_pos: bool = False
) -> bytes:
    """A DKSalaries.csv of `names` (dearest first); `blank_team` names get an empty TeamAbbrev."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*HEADER, "StartPos") if start_pos else HEADER)
    for i, name in enumerate(names):
        dk_id = 40_000_000 + i
        team = "" if name in blank_team else f"T{i % 12:02d}"
        row = ["D", f"{name} ({dk_id})", name, dk_id, "D", 11_000 - 150 * i, GAME_INFO, team, 40.0 - i * 0.8]
        writer.writerow([*row, i + 1] if start_pos else row)
    return out.getvalue().encode("utf-8")
