"""Roster rules of a contest type, as data, so another site's rules are one more constant."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RosterRules:
    """How many drivers a lineup holds, what they may cost together, and the upload header."""

    slots: int
    salary_cap: int
    positions: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError(f"a lineup needs at least one slot, got {self.slots}")
        if len(self.positions) != self.slots:
            raise ValueError(f"{len(self.positions)} positions for {self.slots} slots")
        if self.salary_cap <= 0:
            raise ValueError(f"salary cap must be positive, got {self.salary_cap}")


# Source: DraftKings NASCAR Classic rules, /work/shared/data/nascar/DRAFTKINGS.md (6 drivers, $50,000).
DK_NASCAR_CLASSIC = RosterRules(
    slots=6, salary_cap=50_000, positions=("D",) * 6, name="DraftKings NASCAR Classic"
)
