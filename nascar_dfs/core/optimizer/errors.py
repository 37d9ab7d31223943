"""Errors a portfolio build raises instead of returning fewer lineups than asked for."""

from __future__ import annotations


class InfeasibleSpecError(ValueError):
    """The spec cannot be met; the message names the constraint(s) that make it impossible."""


class UnknownDriverError(ValueError):
    """The spec, projections or scenarios name drivers that are not in the player pool."""

    def __init__(self, where: str, names: list[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"{where} names drivers not in the player pool: {', '.join(self.names)}")
