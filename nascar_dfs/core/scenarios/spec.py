"""ConstraintSpec: one user's request for one race, with a canonical form and a stable hash.

The hash keys Dagster partitions, so it must not move with key order, whitespace or defaults
that are spelled out: the canonical form drops every field equal to its default and sorts every
collection whose order carries no meaning.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from nascar_dfs.core.contest.spec import ContestSpec

SPEC_KEY_LENGTH = 16  # hex characters of the SHA-256 used as the Dagster partition key

# Bounds on what one spec may name. A Cup field has at most 40 cars (43 before 2016); a spec is
# stored and echoed on every read, so a list longer than any field is refused, not truncated.
MAX_DRIVERS = 50
MAX_NAME_LENGTH = 100
MAX_GROUPS = 20
MAX_VIEWS = 20

DriverName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]


class _Strict(BaseModel):
    # NaN and Infinity are refused: NaN passes no bound (every comparison is false) and would be
    # hashed into a partition key that no well-formed request can reach.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ExposureBounds(_Strict):
    """Share of the portfolio's lineups that may (max) or must (min) contain one driver."""

    min: float = Field(0.0, ge=0.0, le=1.0)
    max: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> ExposureBounds:
        if self.min > self.max:
            raise ValueError(f"min exposure {self.min} is above max exposure {self.max}")
        return self


class Group(_Strict):
    """At least / at most k drivers of a set in every lineup (teammates, one manufacturer...)."""

    drivers: list[DriverName] = Field(min_length=1, max_length=MAX_DRIVERS)
    at_least: int | None = Field(None, ge=0, le=6)
    at_most: int | None = Field(None, ge=0, le=6)

    @field_validator("drivers")
    @classmethod
    def _set(cls, v: list[str]) -> list[str]:
        return sorted(set(v))

    @model_validator(mode="after")
    def _bounded(self) -> Group:
        if self.at_least is None and self.at_most is None:
            raise ValueError("a group needs at_least or at_most")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"group at_least {self.at_least} is above at_most {self.at_most}")
        if self.at_least is not None and self.at_least > len(self.drivers):
            raise ValueError(f"group at_least {self.at_least} exceeds its {len(self.drivers)} drivers")
        return self


class FinishTopView(_Strict):
    """Driver X finishes in the top k."""

    kind: Literal["finish_top"] = "finish_top"
    driver: DriverName
    k: int = Field(ge=1, le=43)


class LapsLedView(_Strict):
    """Driver X leads at least L laps."""

    kind: Literal["laps_led_at_least"] = "laps_led_at_least"
    driver: DriverName
    laps: int = Field(ge=1)


class GroupTopView(_Strict):
    """At least m of these drivers finish in the top k."""

    kind: Literal["group_top"] = "group_top"
    drivers: list[DriverName] = Field(min_length=1, max_length=MAX_DRIVERS)
    m: int = Field(ge=1)
    k: int = Field(ge=1, le=43)

    @field_validator("drivers")
    @classmethod
    def _set(cls, v: list[str]) -> list[str]:
        return sorted(set(v))

    @model_validator(mode="after")
    def _m_fits(self) -> GroupTopView:
        if self.m > len(self.drivers):
            raise ValueError(f"m={self.m} exceeds the {len(self.drivers)} drivers of the view")
        return self


class DnfCountView(_Strict):
    """Between a and b cars do not finish."""

    kind: Literal["dnf_count"] = "dnf_count"
    min: int = Field(0, ge=0)
    max: int = Field(43, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> DnfCountView:
        if self.min > self.max:
            raise ValueError(f"dnf_count min {self.min} is above max {self.max}")
        return self


class DriverProjection(_Strict):
    """The player's own DraftKings points for one driver: the mean, and optionally the spread."""

    mean: float = Field(ge=-50.0, le=500.0, description="mean DraftKings points")
    sd: float | None = Field(None, gt=0.0, le=300.0, description="standard deviation of the points")


# Projected ownership in percent of the field's lineups: the unit DFS tools publish it in, so a
# number copied from one means what it says (0.4 is 0.4%, not 40%). Six drivers per lineup make 600%.
OwnershipPercent = Annotated[float, Field(ge=0.0, le=100.0)]
OWNERSHIP_TOTAL_PCT = 600.0


View = Annotated[FinishTopView | LapsLedView | GroupTopView | DnfCountView, Field(discriminator="kind")]

Objective = Literal["mean", "scenario", "leverage"]


class ConstraintSpec(_Strict):
    """What a user asks for one race: the portfolio's constraints and the scenarios it is built on."""

    lineups: int = Field(20, ge=1, le=500, description="number of distinct lineups")
    min_unique: int = Field(1, ge=0, le=6, description="drivers any two lineups must not share")
    max_exposure: float = Field(1.0, gt=0.0, le=1.0, description="global cap on a driver's share")
    min_exposure: float = Field(0.0, ge=0.0, le=1.0, description="global floor on a driver's share")
    exposures: dict[DriverName, ExposureBounds] = Field(
        default_factory=dict, max_length=MAX_DRIVERS, description="per-driver bounds"
    )
    locks: list[DriverName] = Field(
        default_factory=list, max_length=MAX_DRIVERS, description="drivers in every lineup"
    )
    excludes: list[DriverName] = Field(
        default_factory=list, max_length=MAX_DRIVERS, description="drivers in no lineup"
    )
    min_salary: int | None = Field(None, ge=0, le=50_000)
    max_salary: int | None = Field(None, ge=0, le=50_000)
    groups: list[Group] = Field(default_factory=list, max_length=MAX_GROUPS)
    max_per_team: int | None = Field(None, ge=1, le=6)
    objective: Objective = "scenario"
    target_score: float | None = Field(None, description="score a lineup aims to reach (scenario objective)")
    scenarios: int = Field(10_000, ge=100, le=100_000, description="simulated races to build on")
    views: list[View] = Field(
        default_factory=list, max_length=MAX_VIEWS, description="conditions every scenario must meet"
    )
    projections: dict[DriverName, DriverProjection] = Field(
        default_factory=dict,
        max_length=MAX_DRIVERS,
        description="the player's own points per driver: each driver's simulated points are shifted"
        " (and with sd scaled) to them, race by race, so the scenarios keep their correlations",
    )
    ownership: dict[DriverName, OwnershipPercent] = Field(
        default_factory=dict,
        max_length=MAX_DRIVERS,
        description="the player's projected ownership per driver, in percent of the field's lineups"
        " (0-100, six drivers per lineup make 600%): used by the contest field and the leverage"
        " objective in place of the ownership model's; drivers not named keep the model's, rescaled"
        " to what these leave of the 600%",
    )
    contest: ContestSpec | None = Field(
        None,
        description="GPP to pick the lineups for: chosen by simulated ROI against a simulated field",
    )
    slate_version: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{16}$",
        description="the version of the race's DKSalaries.csv the lineups are built from (the REST API "
        "pins the current one at submit, so a later replacement of the slate does not change them)",
    )

    @field_validator("locks", "excludes")
    @classmethod
    def _as_set(cls, v: list[str]) -> list[str]:
        return sorted(set(v))

    @field_validator("groups", "views")
    @classmethod
    def _canonical_order(cls, v: list) -> list:
        return sorted(v, key=lambda item: item.model_dump_json())

    @model_validator(mode="after")
    def _consistent(self) -> ConstraintSpec:
        both = set(self.locks) & set(self.excludes)
        if both:
            raise ValueError(f"drivers both locked and excluded: {', '.join(sorted(both))}")
        if len(self.locks) > 6:
            raise ValueError(f"{len(self.locks)} locks do not fit a 6-driver lineup")
        if self.min_exposure > self.max_exposure:
            raise ValueError(f"min_exposure {self.min_exposure} is above max_exposure {self.max_exposure}")
        if self.min_salary is not None and self.max_salary is not None and self.min_salary > self.max_salary:
            raise ValueError(f"min_salary {self.min_salary} is above max_salary {self.max_salary}")
        owned = sum(self.ownership.values())
        if owned > OWNERSHIP_TOTAL_PCT + 0.5:
            raise ValueError(
                f"ownership adds up to {owned:g}%: six drivers per lineup make"
                f" {OWNERSHIP_TOTAL_PCT:g}% at most"
            )
        if self.contest is not None:
            if self.lineups > self.contest.max_entries_per_user:
                raise ValueError(
                    f"lineups {self.lineups} exceed contest.max_entries_per_user"
                    f" {self.contest.max_entries_per_user}"
                )
            if self.lineups >= self.contest.entries:
                raise ValueError(
                    f"contest.entries {self.contest.entries} leaves no field for {self.lineups} lineups"
                )
        return self

    def canonical_json(self) -> str:
        """The spec as compact, key-sorted JSON without fields left at their defaults.

        ``contest`` defaults to None and is dropped then, so specs written before it existed keep
        their hash (and their Dagster partitions).
        """
        payload = self.model_dump(mode="json", exclude_defaults=True)
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def key(self) -> str:
        """Partition key: the first SPEC_KEY_LENGTH hex characters of the SHA-256."""
        return self.sha256()[:SPEC_KEY_LENGTH]

    def driver_bounds(self, driver: str) -> ExposureBounds:
        """Exposure bounds of one driver: its own bounds tightened by the global ones."""
        own = self.exposures.get(driver, ExposureBounds())
        return ExposureBounds(min=max(own.min, self.min_exposure), max=min(own.max, self.max_exposure))
