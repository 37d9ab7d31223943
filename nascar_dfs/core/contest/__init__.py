"""Field ownership and GPP contest simulation: who the field rosters, and what a portfolio earns.

Names are loaded on first use: `ConstraintSpec` (core.scenarios.spec) embeds `ContestSpec`, and the
selection module needs the optimizer, which needs `ConstraintSpec`; importing everything here
eagerly would make importing the spec module circular.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "SimulatedField": "opponents",
    "simulate_field": "opponents",
    "FEATURES": "ownership",
    "OwnershipModel": "ownership",
    "fit_ownership": "ownership",
    "ownership_by_name": "ownership",
    "ownership_features": "ownership",
    "project_ownership": "ownership",
    "ContestPortfolio": "selection",
    "Selection": "selection",
    "SelectionExhaustedError": "selection",
    "contest_portfolio": "selection",
    "improve_by_swaps": "selection",
    "select_by_contest_roi": "selection",
    "ContestReport": "simulate",
    "EntryResult": "simulate",
    "Estimate": "simulate",
    "contest_payouts": "simulate",
    "simulate_contest": "simulate",
    "ContestSpec": "spec",
    "PayoutTier": "spec",
    "default_payouts": "spec",
    "read_payouts_csv": "spec",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
