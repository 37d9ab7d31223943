"""The blocking lineup check: the core's rule check of a portfolio (core/optimizer/validity.py) as
an asset check result the UI shows."""

from __future__ import annotations

from typing import Any

import dagster as dg

from nascar_dfs.core.optimizer.validity import check_portfolio
from nascar_dfs.core.scenarios.spec import ConstraintSpec

LINEUP_VALIDITY = "lineup_validity"
STARTING_LINEUP = "starting_lineup"
START_POSITIONS_UNKNOWN = "start-positions-unknown"  # = core.scenarios.starts.START_POSITIONS_UNKNOWN
UNKNOWN_STARTS_DETAIL = (
    "the race's starting positions are unknown (no StartPos in the slate and no starting lineup): "
    "each scenario simulated the grid from the drivers' recent starts"
)


def start_warnings(starts_known: bool) -> list[dict[str, str]]:
    """The warnings a scenario set or lineups carry about their starting grid ([] when it was known)."""
    return [] if starts_known else [{"code": START_POSITIONS_UNKNOWN, "detail": UNKNOWN_STARTS_DETAIL}]


def starting_lineup_check(starts_known: bool) -> dg.AssetCheckResult:
    """WARN when the scenarios had to simulate the starting grid."""
    metadata: dict[str, Any] = {"starts": "known" if starts_known else "simulated"}
    if not starts_known:
        metadata.update({"warning": START_POSITIONS_UNKNOWN, "detail": UNKNOWN_STARTS_DETAIL})
    return dg.AssetCheckResult(
        check_name=STARTING_LINEUP,
        passed=starts_known,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def validity_check(portfolio: Any, slate: Any, spec: ConstraintSpec) -> dg.AssetCheckResult:
    validity = check_portfolio(portfolio, slate, spec)
    top = sorted(validity.exposures.items(), key=lambda kv: -kv[1])[:10]
    metadata: dict[str, Any] = {
        "lineups": validity.lineups,
        "problems": len(validity.problems),
        "max_exposure": max(validity.exposures.values(), default=0.0),
        "top_exposures": dg.MetadataValue.md("\n".join(f"- {n}: {s:.0%}" for n, s in top) or "none"),
    }
    if validity.problems:
        metadata["first_problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in validity.problems[:10]))
    return dg.AssetCheckResult(
        check_name=LINEUP_VALIDITY,
        passed=validity.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
