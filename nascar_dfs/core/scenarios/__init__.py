"""Simulated races of one field: the scenario kernel, its views, dominance parameters and validator."""

from nascar_dfs.core.scenarios.dominance import DominanceParams, TrackDominance, estimate_dominance
from nascar_dfs.core.scenarios.kernel import preview_acceptance, simulate, simulate_for_spec
from nascar_dfs.core.scenarios.spec import ConstraintSpec
from nascar_dfs.core.scenarios.types import ScenarioSet
from nascar_dfs.core.scenarios.validate import OutcomeError, validate_outcome, validate_scenarios
from nascar_dfs.core.scenarios.views import Acceptance, ImpossibleViewsError

__all__ = [
    "Acceptance",
    "ConstraintSpec",
    "DominanceParams",
    "ImpossibleViewsError",
    "OutcomeError",
    "ScenarioSet",
    "TrackDominance",
    "estimate_dominance",
    "preview_acceptance",
    "simulate",
    "simulate_for_spec",
    "validate_outcome",
    "validate_scenarios",
]
