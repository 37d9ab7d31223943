"""Request and response bodies: explicit pydantic models, so no internal column can leak."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.core.problems import Problem
from nascar_dfs.core.scenarios.spec import ConstraintSpec

RACE_ID_PATTERN = r"^[a-z0-9-]{1,64}$"
Status = Literal["queued", "running", "succeeded", "failed", "canceling", "canceled"]
Phase = Literal["calibration", "scenarios", "optimization"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _strict_spec(value: Any, handler: Any) -> Any:
    # Strict: `false` is not a lineup count and "20" is not a number; lax coercion would let a
    # malformed request through and hash it as if it were well formed.
    if isinstance(value, dict):
        return ConstraintSpec.model_validate(value, strict=True)
    return handler(value)


class LineupRequestCreate(_In):
    race_id: str = Field(pattern=RACE_ID_PATTERN, examples=["2024-cup-phoenix-2"])
    spec: ConstraintSpec = Field(description="the portfolio's constraints (ConstraintSpec)")
    callback_url: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^https://[^\s]+$",
        description="https URL receiving a signed webhook when the request finishes",
    )
    player_numbers: list[Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]] = Field(
        default_factory=list,
        max_length=4,
        description="versions of your own numbers uploaded for the race (PUT /v1/races/{race_id}/"
        "player-numbers): folded into the spec's projections and ownership at submit, so the spec "
        "(and its hash) carries them",
    )

    @field_validator("spec", mode="wrap")
    @classmethod
    def _spec_is_strict(cls, value: Any, handler: Any) -> Any:
        return _strict_spec(value, handler)


class Progress(BaseModel):
    phase: Phase | None = None
    percent: float = Field(0.0, ge=0.0, le=100.0)


class ResultLinks(BaseModel):
    lineups: str
    dk_upload_csv: str


class RunAttemptOut(BaseModel):
    """One Dagster run of the request. Dagster retries a run whose worker crashed under a new run,
    so a crash shows as attempt 1 `failed` (with its reason) followed by attempt 2. Dagster's run
    ids stay internal (api.md: responses never contain them); operators find the runs by the
    `nascar/request_id` tag."""

    step: Literal["calibration", "lineups"] = Field(
        description="calibration (model or slate built first) or lineups (scenarios, optimizer)"
    )
    attempt: int = Field(ge=1, description="1 for the first run of the step, 2 for its automatic retry")
    retry_of_attempt: int | None = Field(None, description="the attempt of the same step this one retries")
    status: Status
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    failure: str | None = Field(None, description="why the attempt failed (first line, no paths or ids)")


class RequestWarning(BaseModel):
    """Something the request's lineups were built on that the user should know, e.g. the starting
    grid was simulated because the race has no starting lineup yet."""

    code: str = Field(examples=["start-positions-unknown"])
    detail: str


class LineupRequestOut(BaseModel):
    id: str
    race_id: str
    spec_key: str
    spec: dict[str, Any]
    lineups: int
    status: Status
    done: bool
    cancel_requested: bool
    progress: Progress
    callback_url: str | None = None
    created_at: datetime
    updated_at: datetime
    result: ResultLinks | None = None
    error: Problem | None = None
    warnings: list[RequestWarning] = Field(
        default_factory=list,
        description="what the lineups were built on that the user should know (set once succeeded), "
        "e.g. start-positions-unknown: the race had no starting lineup, so the starts were simulated",
    )
    history: list[RunAttemptOut] = Field(
        default_factory=list,
        description="the request's Dagster runs, oldest first, retries included; empty until launched",
    )


class LineupRequestPage(BaseModel):
    items: list[LineupRequestOut]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null at the end")


class Driver(BaseModel):
    name: str
    dk_id: int | None = None
    salary: int | None = None


class Estimate(BaseModel):
    mean: float
    se: float = Field(description="Monte Carlo standard error of the mean")


class ContestFigures(BaseModel):
    """One lineup's (or the portfolio's) results over the simulated contest races."""

    roi: Estimate = Field(description="(payout - entry fees) / entry fees")
    payout: Estimate = Field(description="dollars won per contest")
    p_top_1pct: Estimate = Field(description="probability of a top-1% finish (any lineup, for the portfolio)")
    p_first: Estimate = Field(description="probability of first place, ties included")
    duplicates: Estimate = Field(description="field entries with exactly these six drivers (summed)")
    roi_quantiles: dict[str, float] = Field(description="distribution of the ROI: quantile -> ROI")


class ContestSummary(BaseModel):
    """The GPP the lineups were picked for, simulated in the same races as its field."""

    contest: dict[str, Any] = Field(description="the spec's contest, with prize_pool and paid_places")
    races: int = Field(description="simulated races the figures average over")
    field_size: int
    in_sample: bool = Field(description="true when the figures reuse the races the lineups were picked on")
    portfolio: ContestFigures
    field_mean_roi: Estimate
    field: dict[str, Any] = Field(description="the simulated field and its ownership check")


class Lineup(BaseModel):
    drivers: list[Driver]
    contest: ContestFigures | None = None


class LineupsOut(BaseModel):
    request_id: str
    race_id: str
    lineups: list[Lineup]
    contest: ContestSummary | None = Field(None, description="present when the spec names a contest")


class Race(BaseModel):
    race_id: str


class RaceList(BaseModel):
    items: list[Race]


class RaceIn(_In):
    """An upcoming race of the platform's calendar (PUT /v1/races/{race_id})."""

    date: dt.date = Field(description="local date of the race, YYYY-MM-DD")
    track_slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$", examples=["phoenix"])
    laps: int = Field(ge=1, le=2000, description="scheduled laps")
    name: str | None = Field(None, max_length=200, description="the race's name")


class RaceOut(BaseModel):
    race_id: str
    date: str | None
    season: int | None
    track_slug: str
    track: str | None
    laps: int | None
    name: str | None
    event_type: str | None
    completed: bool = Field(description="the data folder holds its results")
    upcoming: bool = Field(description="kept in the platform's race calendar (added by race add / PUT)")
    has_slate: bool
    slate_version: str | None = None
    has_starting_lineup: bool
    calibrated_at: str | None = Field(description="when its model was last calibrated (UTC, ISO 8601)")


class ScheduledRaceOut(BaseModel):
    race_id: str
    date: str
    track_slug: str
    laps: int
    name: str | None
    nascar_race_id: int | None
    laps_from: str = Field(description="the data folder's race whose laps it takes (the feed gives none)")


class ScheduleOut(BaseModel):
    races: list[ScheduledRaceOut] = Field(description="the feed's races, added to or updated in the calendar")


class StartingLineupOut(BaseModel):
    race_id: str
    drivers: int
    version: str


class PlayerNumbersOut(BaseModel):
    race_id: str
    version: str = Field(description="content version: name it in a request's player_numbers")
    drivers: int
    projections: int = Field(description="drivers with a mean (and maybe an sd)")
    ownership: int = Field(description="drivers with a projected ownership (percent)")
    slate_version: str = Field(description="the slate version the names were checked against")


class StoredNumbersOut(BaseModel):
    version: str = Field(description="content version: name it in a request's player_numbers")
    uploaded_at: datetime
    size_bytes: int


class PlayerNumbersList(BaseModel):
    race_id: str
    items: list[StoredNumbersOut] = Field(description="your key owner's files of the race, newest first")


class SlateOut(BaseModel):
    race_id: str
    drivers: int
    version: str = Field(description="content version of the stored slate (requests pin it at submit)")
    new_drivers: list[str] = Field(default_factory=list, description="names declared as debutants")


class QuarantinedRow(BaseModel):
    """One row of the data folder the race history set aside (nascar_dfs/core/data/quality.py)."""

    file: str = Field(examples=["cup_results.csv"])
    row: int | None = Field(description="spreadsheet row (header = 1); null for a whole-file problem")
    column: str | None
    reason: str
    action: str = Field(description="starts-masked, race-dropped, venue-dropped or loop-dropped")
    race_id: str | None = None
    track_slug: str | None = None


class DataQualityOut(BaseModel):
    count: int = Field(description="rows quarantined by the race history the runs train on")
    items: list[QuarantinedRow]


class PreviewRequest(_In):
    race_id: str = Field(pattern=RACE_ID_PATTERN)
    spec: ConstraintSpec

    @field_validator("spec", mode="wrap")
    @classmethod
    def _spec_is_strict(cls, value: Any, handler: Any) -> Any:
        return _strict_spec(value, handler)


class PreviewOut(BaseModel):
    race_id: str
    spec_key: str
    acceptance_rate: float = Field(ge=0.0, le=1.0)


class RecalibrationRequest(_In):
    race_id: str = Field(pattern=RACE_ID_PATTERN)


class RecalibrationOut(BaseModel):
    race_id: str
    status: Literal["accepted"]


class HealthStatus(BaseModel):
    status: Literal["pass", "warn", "fail"]


class HealthDetail(HealthStatus):
    checks: dict[str, list[dict[str, Any]]]


class ReoptimizationCreate(_In):
    """A DKEntries.csv to re-optimize before lock, and what changed since the lineups were built."""

    entries_csv: str = Field(
        min_length=1,
        max_length=2_000_000,
        description="the DKEntries.csv as DraftKings exports it (Entry ID, Contest Name, Contest ID, "
        "Entry Fee, then six D cells; the player list DraftKings appends is ignored)",
    )
    out: list[str] = Field(
        default_factory=list, max_length=40, description="drivers ruled out: replaced in every entry"
    )
    to_rear: list[str] = Field(
        default_factory=list,
        max_length=40,
        description="drivers sent to the rear (backup car, penalty): the race is re-simulated with them "
        "starting last, the others moving up",
    )
    starts: dict[str, int] | None = Field(
        None, description="a whole new starting lineup (driver -> position) to re-simulate the race on"
    )


class ReoptimizationChanges(BaseModel):
    out: list[str]
    to_rear: list[str]
    starts: dict[str, int] | None = None


class ReoptimizationLinks(BaseModel):
    dk_entries_csv: str


class ReoptimizationOut(BaseModel):
    id: str
    request_id: str
    race_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    done: bool
    entries: int = Field(description="entries in the uploaded DKEntries.csv")
    changes: ReoptimizationChanges
    created_at: datetime
    updated_at: datetime
    result: ReoptimizationLinks | None = None
    error: Problem | None = None
