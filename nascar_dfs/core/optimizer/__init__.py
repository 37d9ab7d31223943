"""Lineup portfolio optimizer: DraftKings NASCAR lineups from projections or simulated races."""

from nascar_dfs.core.optimizer.build import build_portfolio, leverage_values, scenario_points
from nascar_dfs.core.optimizer.errors import InfeasibleSpecError, UnknownDriverError
from nascar_dfs.core.optimizer.pool import PlayerPool, pool_from_players, pool_from_slate
from nascar_dfs.core.optimizer.portfolio import Lineup, LineupStats, Portfolio, lineup_scores
from nascar_dfs.core.optimizer.reoptimize import reoptimize_entries
from nascar_dfs.core.optimizer.rules import DK_NASCAR_CLASSIC, RosterRules

__all__ = [
    "DK_NASCAR_CLASSIC",
    "InfeasibleSpecError",
    "Lineup",
    "LineupStats",
    "PlayerPool",
    "Portfolio",
    "RosterRules",
    "UnknownDriverError",
    "build_portfolio",
    "leverage_values",
    "lineup_scores",
    "pool_from_players",
    "pool_from_slate",
    "reoptimize_entries",
    "scenario_points",
]
