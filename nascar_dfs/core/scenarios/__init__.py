"""Simulated races of one field: the scenario kernel, its views, dominance parameters and validator.

The names below load on first use, so importing one light module of the package (the spec, the
ScenarioSet type) does not import the kernel and the dominance estimate (and pandas with them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nascar_dfs.core.scenarios.dominance import DominanceParams, TrackDominance, estimate_dominance
    from nascar_dfs.core.scenarios.kernel import preview_acceptance, simulate, simulate_for_spec
    from nascar_dfs.core.scenarios.spec import ConstraintSpec
    from nascar_dfs.core.scenarios.types import ScenarioSet
    from nascar_dfs.core.scenarios.validate import OutcomeError, validate_outcome, validate_scenarios
    from nascar_dfs.core.scenarios.views import Acceptance, ImpossibleViewsError

_MODULE_OF = {
    "Acceptance": "nascar_dfs.core.scenarios.views",
    "ConstraintSpec": "nascar_dfs.core.scenarios.spec",
    "DominanceParams": "nascar_dfs.core.scenarios.dominance",
    "ImpossibleViewsError": "nascar_dfs.core.scenarios.views",
    "OutcomeError": "nascar_dfs.core.scenarios.validate",
    "ScenarioSet": "nascar_dfs.core.scenarios.types",
    "TrackDominance": "nascar_dfs.core.scenarios.dominance",
    "estimate_dominance": "nascar_dfs.core.scenarios.dominance",
    "preview_acceptance": "nascar_dfs.core.scenarios.kernel",
    "simulate": "nascar_dfs.core.scenarios.kernel",
    "simulate_for_spec": "nascar_dfs.core.scenarios.kernel",
    "validate_outcome": "nascar_dfs.core.scenarios.validate",
    "validate_scenarios": "nascar_dfs.core.scenarios.validate",
}

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


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
