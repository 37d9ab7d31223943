"""A ConstraintSpec resolved against one player pool: index arrays, bit masks and lineup counts.

Also the up-front feasibility checks, so an impossible spec fails with the constraint named
before any search runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nascar_dfs.core.optimizer.errors import InfeasibleSpecError
from nascar_dfs.core.optimizer.pool import PlayerPool
from nascar_dfs.core.optimizer.rules import RosterRules
from nascar_dfs.core.scenarios.spec import ConstraintSpec

_EPS = 1e-9  # exposure × lineups is a float; 0.6 × 150 must count as 90, not 89.999...


def bits_of(indices: np.ndarray | list[int]) -> np.uint64:
    """64-bit mask with the given pool positions set."""
    mask = np.uint64(0)
    for i in np.asarray(indices, dtype=np.int64).tolist():
        mask |= np.uint64(1) << np.uint64(i)
    return mask


@dataclass(frozen=True)
class GroupRule:
    label: str
    bits: np.uint64
    at_least: int | None
    at_most: int | None


@dataclass(frozen=True)
class TeamRule:
    team: str
    bits: np.uint64
    cap: int


@dataclass(frozen=True)
class Requirements:
    """Everything a search needs, in pool positions."""

    n_lineups: int
    slots: int
    salary_cap: int
    min_salary: int
    locked: np.ndarray  # (D,) bool
    excluded: np.ndarray  # (D,) bool
    max_count: np.ndarray  # (D,) int64 lineups a driver may appear in
    min_count: np.ndarray  # (D,) int64 lineups a driver must appear in
    groups: tuple[GroupRule, ...]
    teams: tuple[TeamRule, ...]
    max_overlap: int  # drivers two lineups may share

    @property
    def has_min_exposure(self) -> bool:
        return bool(np.any(self.min_count > 0))


def resolve_requirements(pool: PlayerPool, spec: ConstraintSpec, rules: RosterRules) -> Requirements:
    """Translate the spec to pool positions and reject what is impossible on its face."""
    n, k, lineups = pool.size, rules.slots, spec.lineups
    locked = np.zeros(n, dtype=bool)
    locked[pool.indices_of(spec.locks, "locks")] = True
    excluded = np.zeros(n, dtype=bool)
    excluded[pool.indices_of(spec.excludes, "excludes")] = True
    pool.indices_of(spec.exposures.keys(), "exposures")
    max_count, min_count = _exposure_counts(pool, spec)
    max_count[excluded] = 0
    cap = min(rules.salary_cap, spec.max_salary if spec.max_salary is not None else rules.salary_cap)
    # min_unique 0 still means distinct lineups: a portfolio never repeats a lineup.
    max_overlap = min(k - 1, k - spec.min_unique)
    req = Requirements(
        n_lineups=lineups,
        slots=k,
        salary_cap=cap,
        min_salary=spec.min_salary or 0,
        locked=locked,
        excluded=excluded,
        max_count=max_count,
        min_count=min_count,
        groups=tuple(_group_rules(pool, spec)),
        teams=tuple(_team_rules(pool, spec)),
        max_overlap=max_overlap,
    )
    check_feasible(pool, spec, rules, req)
    return req


def _exposure_counts(pool: PlayerPool, spec: ConstraintSpec) -> tuple[np.ndarray, np.ndarray]:
    bounds = [spec.driver_bounds(name) for name in _spec_names(pool, spec)]
    lineups = spec.lineups
    max_count = np.array([math.floor(b.max * lineups + _EPS) for b in bounds], dtype=np.int64)
    min_count = np.array([math.ceil(b.min * lineups - _EPS) for b in bounds], dtype=np.int64)
    return max_count, min_count


def _spec_names(pool: PlayerPool, spec: ConstraintSpec) -> list[str]:
    """Pool names spelled as the spec spells them, so `driver_bounds` finds per-driver entries."""
    spelled = {name: name for name in pool.names}
    for name in spec.exposures:
        spelled[pool.names[int(pool.indices_of([name], "exposures")[0])]] = name
    return [spelled[name] for name in pool.names]


def _group_rules(pool: PlayerPool, spec: ConstraintSpec) -> list[GroupRule]:
    rules = []
    for group in spec.groups:
        index = pool.indices_of(group.drivers, "groups")
        label = f"group [{', '.join(group.drivers)}]"
        rules.append(GroupRule(label, bits_of(index), group.at_least, group.at_most))
    return rules


def _team_rules(pool: PlayerPool, spec: ConstraintSpec) -> list[TeamRule]:
    if spec.max_per_team is None:
        return []
    teams = np.array(pool.teams)
    rules = []
    for team in sorted(set(pool.teams)):
        members = np.flatnonzero(teams == team)
        if members.size > spec.max_per_team:
            rules.append(TeamRule(team, bits_of(members), spec.max_per_team))
    return rules


def check_feasible(pool: PlayerPool, spec: ConstraintSpec, rules: RosterRules, req: Requirements) -> None:
    """Raise InfeasibleSpecError naming the first constraint that cannot be met by any portfolio."""
    _check_exposure_slots(pool, spec, req)
    _check_roster_size(pool, spec, rules, req)
    _check_locks(pool, spec, req)
    _check_groups(pool, req)


def _check_roster_size(pool: PlayerPool, spec: ConstraintSpec, rules: RosterRules, req: Requirements) -> None:
    if spec.lineups > 0 and len(spec.locks) > rules.slots:
        raise InfeasibleSpecError(f"{len(spec.locks)} locks do not fit a {rules.slots}-driver lineup")
    usable = int(np.sum((req.max_count > 0) & ~req.excluded))
    if usable < rules.slots:
        raise InfeasibleSpecError(
            f"only {usable} drivers remain after excludes and zero max exposures; "
            f"a lineup needs {rules.slots}"
        )


def _check_locks(pool: PlayerPool, spec: ConstraintSpec, req: Requirements) -> None:
    locks = np.flatnonzero(req.locked)
    capped = [i for i in locks if req.max_count[i] < req.n_lineups]
    if capped:
        i = capped[0]
        raise InfeasibleSpecError(
            f"locked driver {pool.names[i]} may appear in only {req.max_count[i]} of {req.n_lineups} lineups "
            f"(max exposure {req.max_count[i] / req.n_lineups:.2f}), but a lock puts them in every lineup"
        )
    free = np.flatnonzero(~req.locked & ~req.excluded & (req.max_count > 0))
    cheapest_fill = int(np.sort(pool.salaries[free])[: req.slots - locks.size].sum())
    locked_cost = int(pool.salaries[locks].sum())
    if locks.size and locked_cost + cheapest_fill > req.salary_cap:
        raise InfeasibleSpecError(
            f"locks {', '.join(pool.names[i] for i in locks)} cost ${locked_cost:,}; with the cheapest "
            f"{req.slots - locks.size} other drivers (${cheapest_fill:,}) a lineup costs "
            f"${locked_cost + cheapest_fill:,}, above the salary cap ${req.salary_cap:,}"
        )
    for team in req.teams:
        in_team = int(np.sum(req.locked & _members(team.bits, pool.size)))
        if in_team > team.cap:
            raise InfeasibleSpecError(
                f"{in_team} locked drivers of team {team.team} exceed max_per_team {team.cap}"
            )


def _check_exposure_slots(pool: PlayerPool, spec: ConstraintSpec, req: Requirements) -> None:
    needed = req.n_lineups * req.slots
    available = int(np.minimum(req.max_count, req.n_lineups).sum())
    if available < needed:
        raise InfeasibleSpecError(
            f"max exposure {spec.max_exposure:g} × {req.n_lineups} lineups (with per-driver caps and "
            f"excludes) leaves {available} driver slots for {needed} needed "
            f"({req.n_lineups} lineups × {req.slots} drivers; a driver may fill at most "
            f"floor(max exposure × lineups) of them)"
        )
    forced = np.flatnonzero(req.excluded & (req.min_count > 0))
    if forced.size:
        raise InfeasibleSpecError(f"excluded driver {pool.names[forced[0]]} has a minimum exposure above 0")
    required = int(req.min_count.sum())
    if required > needed:
        raise InfeasibleSpecError(
            f"minimum exposures need {required} driver slots but {req.n_lineups} lineups × {req.slots} "
            f"drivers have only {needed}"
        )


def _check_groups(pool: PlayerPool, req: Requirements) -> None:
    usable = ~req.excluded & (req.max_count > 0)
    for group in req.groups:
        members = _members(group.bits, pool.size)
        if group.at_least is not None:
            eligible = int(np.sum(members & usable))
            if eligible < group.at_least:
                raise InfeasibleSpecError(
                    f"{group.label} needs at least {group.at_least} per lineup but only {eligible} of its "
                    "drivers are eligible (not excluded, max exposure above 0)"
                )
            if group.at_least > req.slots:
                raise InfeasibleSpecError(
                    f"{group.label} needs {group.at_least} drivers, a lineup has {req.slots}"
                )
        if group.at_most is not None:
            locked_in = int(np.sum(members & req.locked))
            if locked_in > group.at_most:
                raise InfeasibleSpecError(
                    f"{locked_in} locked drivers are in {group.label}, above its at_most {group.at_most}"
                )


def _members(bits: np.uint64, n: int) -> np.ndarray:
    return ((bits >> np.arange(n, dtype=np.uint64)) & np.uint64(1)).astype(bool)
