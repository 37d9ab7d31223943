"""The rule check of a portfolio, from the slate and the spec alone (not the optimizer's own word)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nascar_dfs.core.data.draftkings import Slate
from nascar_dfs.core.optimizer.portfolio import Lineup, Portfolio
from nascar_dfs.core.optimizer.validity import check_portfolio, lineup_ids
from nascar_dfs.core.scenarios.spec import ConstraintSpec

NAMES = [f"Driver {c}" for c in "ABCDEFGHIJ"]
SLATE = Slate(
    players=pd.DataFrame(
        {
            "name": NAMES,
            "dk_id": np.arange(1, 11, dtype=np.int64),
            "salary": np.array([12_000, 11_000, 10_000, 9_000, 8_000, 7_000, 6_500, 6_000, 5_500, 5_000]),
        }
    ),
    source="test",
)


def _portfolio(*rows: tuple[int, ...]) -> Portfolio:
    lineups = tuple(
        Lineup(tuple(NAMES[i - 1] if i <= len(NAMES) else "?" for i in row), row, 0, 0.0, 0.0) for row in rows
    )
    return Portfolio(lineups=lineups, exposures={}, objective="mean", method="test")


def test_a_legal_portfolio_has_no_problem_and_reports_its_exposures() -> None:
    portfolio = _portfolio((5, 6, 7, 8, 9, 10), (4, 6, 7, 8, 9, 10))
    validity = check_portfolio(portfolio, SLATE, ConstraintSpec(lineups=2))
    assert validity.ok and validity.problems == [] and validity.lineups == 2
    assert validity.exposures["Driver J"] == 1.0 and validity.exposures["Driver D"] == 0.5
    assert lineup_ids(portfolio) == [[5, 6, 7, 8, 9, 10], [4, 6, 7, 8, 9, 10]]


def test_every_broken_rule_is_named() -> None:
    over_cap = (1, 2, 3, 4, 5, 6)  # $57,000
    portfolio = _portfolio(over_cap, over_cap, (1, 1, 2, 3, 4, 99))
    spec = ConstraintSpec(lineups=2, locks=["Driver J"], excludes=["Driver A"], max_exposure=0.5)
    problems = check_portfolio(portfolio, SLATE, spec).problems
    assert "3 lineups, the spec asks for 2" in problems
    assert "a lineup appears twice" in problems
    assert "lineup 1 costs $57,000 > $50,000" in problems
    assert "lineup 3 does not hold 6 distinct drivers" in problems
    assert "lineup 3 holds ids not on the slate: [99]" in problems
    assert "locked driver Driver J is missing from a lineup" in problems
    assert "excluded driver Driver A is in a lineup" in problems
    assert any(p.startswith("Driver B exposure 1.00 outside") for p in problems)
