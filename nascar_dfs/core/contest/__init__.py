"""Field ownership and GPP contest simulation: who the field rosters, and what a portfolio earns."""

from nascar_dfs.core.contest.field import SimulatedField, simulate_field
from nascar_dfs.core.contest.ownership import (
    FEATURES,
    OwnershipModel,
    fit_ownership,
    ownership_by_name,
    ownership_features,
    project_ownership,
)
from nascar_dfs.core.contest.selection import (
    ContestPortfolio,
    Selection,
    SelectionExhaustedError,
    contest_portfolio,
    improve_by_swaps,
    select_by_contest_roi,
)
from nascar_dfs.core.contest.simulate import (
    ContestReport,
    EntryResult,
    Estimate,
    contest_payouts,
    simulate_contest,
)
from nascar_dfs.core.contest.spec import ContestSpec, PayoutTier, default_payouts, read_payouts_csv

__all__ = [
    "FEATURES",
    "ContestPortfolio",
    "ContestReport",
    "ContestSpec",
    "EntryResult",
    "Estimate",
    "OwnershipModel",
    "PayoutTier",
    "Selection",
    "SelectionExhaustedError",
    "SimulatedField",
    "contest_payouts",
    "contest_portfolio",
    "default_payouts",
    "fit_ownership",
    "improve_by_swaps",
    "ownership_by_name",
    "ownership_features",
    "project_ownership",
    "read_payouts_csv",
    "select_by_contest_roi",
    "simulate_contest",
    "simulate_field",
]
