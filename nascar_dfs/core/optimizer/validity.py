"""Whether a portfolio obeys the DraftKings NASCAR Classic rules and its constraint spec.

Checked independently of the optimizer's own bookkeeping, from the slate and the spec alone, so a
bug in the optimizer cannot vouch for itself (the platform's blocking `lineup_validity` check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nascar_dfs.core.names import name_key
from nascar_dfs.core.optimizer.rules import DK_NASCAR_CLASSIC
from nascar_dfs.core.scenarios.spec import ConstraintSpec

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Validity:
    lineups: int
    problems: list[str]  # empty when the portfolio is valid
    exposures: dict[str, float]  # share of lineups holding each rostered driver

    @property
    def ok(self) -> bool:
        return not self.problems


def lineup_ids(portfolio: Any) -> list[list[int]]:
    """DraftKings ids of each lineup of a portfolio."""
    return [list(map(int, row)) for row in portfolio.dk_id_rows()]


def _lineup_problems(rows: list[list[int]], salary: dict[int, int], spec: ConstraintSpec) -> list[str]:
    problems: list[str] = []
    slots, cap = DK_NASCAR_CLASSIC.slots, DK_NASCAR_CLASSIC.salary_cap
    if len(rows) != spec.lineups:
        problems.append(f"{len(rows)} lineups, the spec asks for {spec.lineups}")
    if len({frozenset(r) for r in rows}) != len(rows):
        problems.append("a lineup appears twice")
    for i, row in enumerate(rows, start=1):
        if len(row) != slots or len(set(row)) != slots:
            problems.append(f"lineup {i} does not hold {slots} distinct drivers")
        unknown = [d for d in row if d not in salary]
        if unknown:
            problems.append(f"lineup {i} holds ids not on the slate: {unknown}")
            continue
        total = sum(salary[d] for d in row)
        if total > cap:
            problems.append(f"lineup {i} costs ${total:,} > ${cap:,}")
        if spec.min_salary is not None and total < spec.min_salary:
            problems.append(f"lineup {i} costs ${total:,} < min_salary ${spec.min_salary:,}")
        if spec.max_salary is not None and total > spec.max_salary:
            problems.append(f"lineup {i} costs ${total:,} > max_salary ${spec.max_salary:,}")
    return problems


def _uniqueness_problems(rows: list[list[int]], min_unique: int) -> list[str]:
    sets = [set(r) for r in rows]
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            if len(sets[i] - sets[j]) < min_unique:
                return [f"lineups {i + 1} and {j + 1} differ by fewer than {min_unique} drivers"]
    return []


def _exposure_problems(
    rows: list[list[int]], players: Any, spec: ConstraintSpec
) -> tuple[list[str], dict[str, float]]:
    ids = players["dk_id"].to_numpy(dtype=np.int64)
    names = players["name"].astype(str).tolist()
    counts = np.array([sum(d in r for r in rows) for d in ids.tolist()], dtype=float)
    share = counts / max(len(rows), 1)
    key_of = {name_key(n): i for i, n in enumerate(names)}
    problems: list[str] = []
    for lock in spec.locks:
        i = key_of.get(name_key(lock))
        if i is None or share[i] < 1.0:
            problems.append(f"locked driver {lock} is missing from a lineup")
    for exclude in spec.excludes:
        i = key_of.get(name_key(exclude))
        if i is not None and share[i] > 0.0:
            problems.append(f"excluded driver {exclude} is in a lineup")
    own_bounds = {name_key(n): n for n in spec.exposures}
    for i, name in enumerate(names):
        bounds = spec.driver_bounds(own_bounds.get(name_key(name), name))
        if share[i] > bounds.max + _TOLERANCE or share[i] < bounds.min - _TOLERANCE:
            problems.append(f"{name} exposure {share[i]:.2f} outside [{bounds.min:.2f}, {bounds.max:.2f}]")
    exposures = {names[i]: round(float(share[i]), 4) for i in np.flatnonzero(share)}
    return problems, exposures


def check_portfolio(portfolio: Any, slate: Any, spec: ConstraintSpec) -> Validity:
    """Every lineup legal on the slate (6 distinct slate drivers, under the cap and the spec's salary
    bounds), the lineups distinct and min_unique apart, locks, excludes and exposures honoured."""
    rows = lineup_ids(portfolio)
    players = slate.players
    salary = dict(zip(players["dk_id"].astype(int), players["salary"].astype(int), strict=True))
    problems = _lineup_problems(rows, salary, spec) + _uniqueness_problems(rows, spec.min_unique)
    exposure_problems, exposures = _exposure_problems(rows, players, spec)
    return Validity(lineups=len(rows), problems=problems + exposure_problems, exposures=exposures)
