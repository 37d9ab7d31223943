"""Walk-forward backtest: refit before every race of a season, simulate it, score model and baseline.

For each points race of the season (or its last N), the model is fitted on the points races
before it only, the race's actual field is simulated, and both the model's simulated races and
the naive baseline (`baseline.py`) are scored against what happened: fair CRPS of finishing
position and of DraftKings points, 80% interval coverage of DK points and randomized PIT.
Two naive forecasts stand beside the model: the 12-race replay (``baseline.naive_baseline``) and
the same replay smoothed by a kernel over positions (``baseline.smoothed_baseline``), so a win is a
win over the stronger of them. Laps led and fastest laps, which DK points hinge on, are scored
(fair CRPS) against the replay's.

The product's candidates are scored too: the model and the ranked replay (valid joint races from
the same 12 races, core/scenarios/forecasters.py), and the *chosen* forecast of every race is the
candidate ``selection.choose_forecaster`` picks from the races scored earlier in the same run (no
look-ahead), so the chosen figures are what the product would have delivered.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from nascar_dfs.core.data.entry_list import field_from_history
from nascar_dfs.core.data.history import RaceHistory
from nascar_dfs.core.evaluation.baseline import naive_baseline, smoothed_baseline
from nascar_dfs.core.evaluation.metrics import crps_ensemble, interval_hits, pit_deciles, pit_randomized
from nascar_dfs.core.evaluation.selection import ScoredRace, choose_forecaster
from nascar_dfs.core.field import Field
from nascar_dfs.core.scenarios.forecasters import MODEL, REPLAY, RankedReplay
from nascar_dfs.core.scoring import dk_points

CANDIDATES = (MODEL, REPLAY)

COVERAGE_LEVEL = 0.8
# Acceptance targets of the race model against the 12-race replay (issue 17, fair CRPS).
TARGET_FINISH_IMPROVEMENT = 0.01
TARGET_DK_IMPROVEMENT = 0.01
TARGET_COVERAGE = (0.77, 0.83)
TARGET_PIT_TOLERANCE = 0.25  # every PIT decile within 0.1 * (1 +- this)


@dataclass(frozen=True)
class ModelForecast:
    """Simulated races of one field (columns follow ``Field.drivers``) and what producing them took."""

    finish: np.ndarray  # (N, D)
    dk_points: np.ndarray  # (N, D)
    diagnostics: Mapping[str, Any]
    fit_seconds: float
    simulate_seconds: float
    laps_led: np.ndarray | None = None  # (N, D), when the forecaster simulates them
    fastest_laps: np.ndarray | None = None  # (N, D)


class Forecaster(Protocol):
    def __call__(self, history: RaceHistory, field: Field, scenarios: int, seed: int) -> ModelForecast: ...


@dataclass(frozen=True)
class Observed:
    finish: np.ndarray  # (D,)
    dk_points: np.ndarray  # (D,)
    fastest_laps_recorded: bool
    laps_led: np.ndarray | None = None  # (D,)
    fastest_laps: np.ndarray | None = None  # (D,), NaN where not recorded


@dataclass(frozen=True)
class RaceScore:
    race_id: str
    season: int
    race_num: int
    track_slug: str
    track_type: str
    drivers: int
    model_finish_crps: float
    baseline_finish_crps: float
    model_dk_crps: float
    baseline_dk_crps: float
    model_dk_coverage: float
    baseline_dk_coverage: float
    baseline_fallback_drivers: int
    # classic CRPS (the members' empirical distribution, not the fair estimator): context only
    model_finish_crps_classic: float
    baseline_finish_crps_classic: float
    model_dk_crps_classic: float
    baseline_dk_crps_classic: float
    fastest_laps_recorded: bool
    fit_seconds: float
    simulate_seconds: float
    score_seconds: float
    diagnostics: dict[str, Any]
    # the replay smoothed by a kernel over positions (baseline.smoothed_baseline), fair and classic
    smoothed_finish_crps: float = math.nan
    smoothed_dk_crps: float = math.nan
    smoothed_dk_coverage: float = math.nan
    # dominator parts, fair CRPS per driver averaged over the field (NaN when not simulated/recorded)
    model_laps_led_crps: float = math.nan
    baseline_laps_led_crps: float = math.nan
    model_fastest_laps_crps: float = math.nan
    baseline_fastest_laps_crps: float = math.nan
    # the ranked replay (valid joint races, core/scenarios/forecasters.py), fair and classic
    replay_finish_crps: float = math.nan
    replay_dk_crps: float = math.nan
    replay_dk_coverage: float = math.nan
    replay_finish_crps_classic: float = math.nan
    replay_dk_crps_classic: float = math.nan
    # the forecaster selection.choose_forecaster picked from the races scored before this one
    chosen_forecaster: str = MODEL
    chosen_on: list[str] = field(default_factory=list)  # the races the choice compared
    chosen_finish_crps: float = math.nan
    chosen_dk_crps: float = math.nan
    chosen_dk_coverage: float = math.nan
    chosen_finish_crps_classic: float = math.nan
    chosen_dk_crps_classic: float = math.nan


@dataclass(frozen=True)
class Summary:
    """Means over races (each race counts once); coverage and PIT pool every driver of every race."""

    races: int
    model_finish_crps: float
    baseline_finish_crps: float
    finish_improvement: float  # 1 - model/baseline
    model_dk_crps: float
    baseline_dk_crps: float
    dk_improvement: float
    model_dk_coverage: float
    baseline_dk_coverage: float
    model_finish_pit_deciles: list[float] | None = None
    model_dk_pit_deciles: list[float] | None = None
    baseline_dk_pit_deciles: list[float] | None = None
    # the same with the classic estimator; the targets are judged on the fair one above
    finish_improvement_classic: float = math.nan
    dk_improvement_classic: float = math.nan
    total_fit_seconds: float = 0.0
    mean_fit_seconds: float = 0.0
    smoothed_finish_crps: float = math.nan
    smoothed_dk_crps: float = math.nan
    finish_improvement_vs_smoothed: float = math.nan  # 1 - model / smoothed replay
    dk_improvement_vs_smoothed: float = math.nan
    smoothed_dk_coverage: float = math.nan
    model_laps_led_crps: float = math.nan
    baseline_laps_led_crps: float = math.nan
    laps_led_improvement: float = math.nan
    model_fastest_laps_crps: float = math.nan  # over the races with fastest laps recorded
    baseline_fastest_laps_crps: float = math.nan
    fastest_laps_improvement: float = math.nan
    baseline_finish_pit_deciles: list[float] | None = None
    model_finish_crps_classic: float = math.nan
    baseline_finish_crps_classic: float = math.nan
    model_dk_crps_classic: float = math.nan
    baseline_dk_crps_classic: float = math.nan
    # the ranked replay and the chosen forecast against the 12-race replay baseline (1 - x / baseline)
    replay_finish_crps: float = math.nan
    replay_dk_crps: float = math.nan
    replay_finish_improvement: float = math.nan
    replay_dk_improvement: float = math.nan
    replay_dk_coverage: float = math.nan
    chosen_finish_crps: float = math.nan
    chosen_dk_crps: float = math.nan
    chosen_finish_improvement: float = math.nan
    chosen_dk_improvement: float = math.nan
    chosen_finish_improvement_classic: float = math.nan
    chosen_dk_improvement_classic: float = math.nan
    chosen_dk_coverage: float = math.nan
    chosen_finish_pit_deciles: list[float] | None = None
    chosen_dk_pit_deciles: list[float] | None = None
    chosen_counts: dict[str, int] = field(default_factory=dict)  # races each forecaster was chosen for


@dataclass(frozen=True)
class BacktestReport:
    season: int
    scenarios: int
    seed: int
    coverage_level: float
    races: list[RaceScore]
    overall: Summary
    by_track_type: dict[str, Summary]
    targets: dict[str, Any]
    wall_seconds: float
    failed: list[dict[str, Any]] = field(default_factory=list)  # races the model could not be fitted for
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _jsonable(value: Any) -> Any:
    """Plain JSON types; numpy scalars and arrays from diagnostics included, NaN as null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def season_races(history: RaceHistory, season: int, last: int | None = None) -> pd.DataFrame:
    """The season's points races that have results, in schedule order (the last `last` of them)."""
    if last is not None and last < 1:
        raise ValueError(f"--last must be at least 1, got {last}")
    points = history.points_races()
    run = points[(points["season"] == season) & points["race_id"].isin(history.results["race_id"])]
    if run.empty:
        seasons = sorted(points["season"].unique().tolist())
        raise ValueError(f"season {season} has no points races with results (seasons in the data: {seasons})")
    return run if last is None else run.tail(last)


def results_before(history: RaceHistory, race_id: str) -> pd.DataFrame:
    """Result rows of every points race scheduled before `race_id`, with season and race_num."""
    points = history.points_races()
    position = points.index[points["race_id"] == race_id]
    if len(position) == 0:
        raise KeyError(f"race {race_id!r} is not a points race")
    earlier = points.loc[: position[0] - 1, ["race_id", "season", "race_num"]]
    rows = history.results.drop(columns=["season", "race_num"], errors="ignore")
    return rows.merge(earlier, on="race_id", how="inner")


def observed_outcome(history: RaceHistory, field: Field) -> Observed:
    """The race's official finish and DraftKings points, aligned to the field's drivers."""
    rows = history.results_for(field.race_id).set_index("driver")
    missing = [d for d in field.drivers if d not in rows.index]
    if missing:
        raise ValueError(f"no result for {', '.join(missing)} in {field.race_id}")
    rows = rows.loc[list(field.drivers)]
    fastest = rows["fastest_laps"] if "fastest_laps" in rows else pd.Series(pd.NA, index=rows.index)
    recorded = bool(fastest.notna().all())
    finish = rows["finish"].to_numpy(dtype=np.int64)
    led = rows["laps_led"].fillna(0).to_numpy(dtype=np.float64)
    if field.starts is None:  # the race's grid was quarantined: its DK points are unknown
        points = np.full(finish.shape, np.nan)
    else:
        points = dk_points(
            finish,
            np.asarray(field.starts),
            rows["laps_led"].to_numpy(dtype=np.float64),
            fastest.fillna(0).to_numpy(dtype=np.float64),
            field.season,
        )
    return Observed(
        finish=finish.astype(np.float64),
        dk_points=points,
        fastest_laps_recorded=recorded,
        laps_led=led,
        fastest_laps=fastest.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan),
    )


class ForecastFailed(RuntimeError):
    """The model could not be fitted for one race; the backtest records it and moves on."""

    def __init__(self, race_id: str, reason: str, diagnostics: Mapping[str, Any] | None = None) -> None:
        self.race_id = race_id
        self.reason = reason
        self.diagnostics = dict(diagnostics or {})
        super().__init__(f"{race_id}: {reason}")


def _as_dict(value: Any) -> dict[str, Any]:
    """Diagnostics as a dict, whether given as a mapping, a dataclass or an object with to_dict()."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "to_dict"):
        return dict(value.to_dict())
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot read diagnostics of type {type(value).__name__}")


def fitted_model_forecaster(fit_config: Any = None, refit_every: int = 1) -> Forecaster:
    """Forecaster that refits the race model (engineer B) and runs the scenario kernel (engineer C).

    With refit_every=k the model fitted before race i also forecasts races i+1..i+k-1: still only
    earlier races in its training data, just staler (a cheaper walk-forward on a busy machine).
    A failed fit is retried at the next race. Imported lazily so the CLI can configure PyTensor's
    compile cache first.
    """
    if refit_every < 1:
        raise ValueError(f"refit_every must be at least 1, got {refit_every}")
    from nascar_dfs.core.model.fit import FitError, fit_model
    from nascar_dfs.core.scenarios.dominance import DominanceParams
    from nascar_dfs.core.scenarios.kernel import simulate

    state: dict[str, Any] = {"model": None, "uses": 0}

    def forecast(history: RaceHistory, race_field: Field, scenarios: int, seed: int) -> ModelForecast:
        started = time.perf_counter()
        if state["model"] is None or state["uses"] >= refit_every:
            state["model"], state["uses"] = None, 0
            try:
                state["model"] = fit_model(history, race_field.race_id, fit_config)
            except FitError as exc:
                raise ForecastFailed(race_field.race_id, str(exc), _as_dict(exc.diagnostics)) from exc
        model = state["model"]
        state["uses"] += 1
        fitted = time.perf_counter()
        params = model.field_params(race_field, seed=seed)
        sims = simulate(params, race_field, DominanceParams.from_dict(model.dominance), scenarios, seed)
        done = time.perf_counter()
        diagnostics = _as_dict(model.diagnostics) | {"fitted_for": model.race_id}
        return ModelForecast(
            finish=sims.finish,
            dk_points=sims.dk_points,
            diagnostics=diagnostics,
            fit_seconds=fitted - started,
            simulate_seconds=done - fitted,
            laps_led=sims.laps_led,
            fastest_laps=sims.fastest_laps,
        )

    return forecast


@dataclass
class _Pooled:
    """Per-driver values gathered over races, for the pooled coverage and PIT."""

    model_dk_hits: list[np.ndarray] = field(default_factory=list)
    baseline_dk_hits: list[np.ndarray] = field(default_factory=list)
    model_finish_pit: list[np.ndarray] = field(default_factory=list)
    model_dk_pit: list[np.ndarray] = field(default_factory=list)
    baseline_dk_pit: list[np.ndarray] = field(default_factory=list)
    smoothed_dk_hits: list[np.ndarray] = field(default_factory=list)
    baseline_finish_pit: list[np.ndarray] = field(default_factory=list)
    replay_dk_hits: list[np.ndarray] = field(default_factory=list)
    chosen_dk_hits: list[np.ndarray] = field(default_factory=list)
    chosen_finish_pit: list[np.ndarray] = field(default_factory=list)
    chosen_dk_pit: list[np.ndarray] = field(default_factory=list)


def _score_race(
    history: RaceHistory,
    race: pd.Series,
    forecaster: Forecaster,
    scenarios: int,
    seed: int,
    pooled: dict[str, _Pooled],
    rng: np.random.Generator,
    earlier: Sequence[RaceScore] = (),
) -> RaceScore:
    race_id = str(race["race_id"])
    race_field = field_from_history(history, race_id)
    forecast = forecaster(history, race_field, scenarios, seed)
    started = time.perf_counter()
    choice = choose_forecaster(
        race_field.track_type, (int(race["season"]), int(race["race_num"])), _scored(earlier), CANDIDATES
    )
    expected_shape = (forecast.finish.shape[0], race_field.size)
    if forecast.finish.shape != expected_shape or forecast.dk_points.shape != expected_shape:
        raise ValueError(f"forecast for {race_id} is not (scenarios, {race_field.size} drivers)")
    observed = observed_outcome(history, race_field)
    base = naive_baseline(results_before(history, race_id), race_field)
    smooth = smoothed_baseline(base, np.random.default_rng([seed, 17]))
    smooth_hits = interval_hits(smooth.dk_points, observed.dk_points, COVERAGE_LEVEL)
    baseline_finish_pit = pit_randomized(base.finish, observed.finish, rng)
    model_hits = interval_hits(forecast.dk_points, observed.dk_points, COVERAGE_LEVEL)
    base_hits = interval_hits(base.dk_points, observed.dk_points, COVERAGE_LEVEL)
    model_finish_pit = pit_randomized(forecast.finish, observed.finish, rng)
    model_dk_pit = pit_randomized(forecast.dk_points, observed.dk_points, rng)
    baseline_dk_pit = pit_randomized(base.dk_points, observed.dk_points, rng)
    replay = RankedReplay(results_before(history, race_id)).simulate(race_field, scenarios, seed)
    replay_hits = interval_hits(replay.dk_points, observed.dk_points, COVERAGE_LEVEL)
    candidates = {
        MODEL: (forecast.finish, forecast.dk_points, model_hits),
        REPLAY: (replay.finish, replay.dk_points, replay_hits),
    }
    chosen_finish, chosen_dk, chosen_hits = candidates[choice.forecaster]
    if choice.forecaster == MODEL:  # the model's PIT values are already drawn: reuse, not redraw
        chosen_finish_pit, chosen_dk_pit = model_finish_pit, model_dk_pit
    else:
        chosen_finish_pit = pit_randomized(chosen_finish, observed.finish, rng)
        chosen_dk_pit = pit_randomized(chosen_dk, observed.dk_points, rng)
    for key in ("all", race_field.track_type):
        bucket = pooled.setdefault(key, _Pooled())
        bucket.model_dk_hits.append(model_hits)
        bucket.baseline_dk_hits.append(base_hits)
        bucket.model_finish_pit.append(model_finish_pit)
        bucket.model_dk_pit.append(model_dk_pit)
        bucket.baseline_dk_pit.append(baseline_dk_pit)
        bucket.smoothed_dk_hits.append(smooth_hits)
        bucket.baseline_finish_pit.append(baseline_finish_pit)
        bucket.replay_dk_hits.append(replay_hits)
        bucket.chosen_dk_hits.append(chosen_hits)
        bucket.chosen_finish_pit.append(chosen_finish_pit)
        bucket.chosen_dk_pit.append(chosen_dk_pit)
    return RaceScore(
        race_id=race_id,
        season=int(race["season"]),
        race_num=int(race["race_num"]),
        track_slug=race_field.track_slug,
        track_type=race_field.track_type,
        drivers=race_field.size,
        model_finish_crps=float(crps_ensemble(forecast.finish, observed.finish).mean()),
        baseline_finish_crps=float(crps_ensemble(base.finish, observed.finish).mean()),
        model_dk_crps=float(crps_ensemble(forecast.dk_points, observed.dk_points).mean()),
        baseline_dk_crps=float(crps_ensemble(base.dk_points, observed.dk_points).mean()),
        model_dk_coverage=float(model_hits.mean()),
        baseline_dk_coverage=float(base_hits.mean()),
        baseline_fallback_drivers=int(base.fallback.sum()),
        model_finish_crps_classic=float(crps_ensemble(forecast.finish, observed.finish, fair=False).mean()),
        baseline_finish_crps_classic=float(crps_ensemble(base.finish, observed.finish, fair=False).mean()),
        model_dk_crps_classic=float(crps_ensemble(forecast.dk_points, observed.dk_points, fair=False).mean()),
        baseline_dk_crps_classic=float(crps_ensemble(base.dk_points, observed.dk_points, fair=False).mean()),
        fastest_laps_recorded=observed.fastest_laps_recorded,
        fit_seconds=forecast.fit_seconds,
        simulate_seconds=forecast.simulate_seconds,
        score_seconds=time.perf_counter() - started,
        diagnostics=_jsonable(_as_dict(forecast.diagnostics)),
        smoothed_finish_crps=_crps(smooth.finish, observed.finish),
        smoothed_dk_crps=_crps(smooth.dk_points, observed.dk_points),
        smoothed_dk_coverage=float(smooth_hits.mean()),
        **_dominator_scores(forecast, base, observed),
        replay_finish_crps=_crps(replay.finish, observed.finish),
        replay_dk_crps=_crps(replay.dk_points, observed.dk_points),
        replay_dk_coverage=float(replay_hits.mean()),
        replay_finish_crps_classic=_crps(replay.finish, observed.finish, fair=False),
        replay_dk_crps_classic=_crps(replay.dk_points, observed.dk_points, fair=False),
        chosen_forecaster=choice.forecaster,
        chosen_on=list(choice.races),
        chosen_finish_crps=_crps(chosen_finish, observed.finish),
        chosen_dk_crps=_crps(chosen_dk, observed.dk_points),
        chosen_dk_coverage=float(chosen_hits.mean()),
        chosen_finish_crps_classic=_crps(chosen_finish, observed.finish, fair=False),
        chosen_dk_crps_classic=_crps(chosen_dk, observed.dk_points, fair=False),
    )


def _scored(scores: Sequence[RaceScore]) -> list[ScoredRace]:
    """The candidates' fair finish CRPS of the races scored so far, as the selection rule reads them."""
    return [
        ScoredRace(
            s.race_id,
            s.season,
            s.race_num,
            s.track_type,
            {MODEL: s.model_finish_crps, REPLAY: s.replay_finish_crps},
        )
        for s in scores
    ]


def _crps(ensemble: np.ndarray, observed: np.ndarray, fair: bool = True) -> float:
    return float(crps_ensemble(ensemble, observed, fair=fair).mean())


def _dominator_scores(forecast: ModelForecast, base: Any, observed: Observed) -> dict[str, float]:
    """Fair CRPS of laps led and fastest laps, model vs replay (NaN where either side lacks them)."""
    out = {}
    for part in ("laps_led", "fastest_laps"):
        sims, replay, actual = getattr(forecast, part), getattr(base, part), getattr(observed, part)
        usable = sims is not None and replay is not None and actual is not None
        if part == "fastest_laps":
            usable = usable and observed.fastest_laps_recorded
        out[f"model_{part}_crps"] = _crps(sims, actual) if usable else math.nan
        out[f"baseline_{part}_crps"] = _crps(replay, actual) if usable else math.nan
    return out


def _improvement(model: float, baseline: float) -> float:
    return 1.0 - model / baseline if baseline > 0 and math.isfinite(model) else math.nan


def summarize(scores: Sequence[RaceScore], pooled: _Pooled) -> Summary:
    """Means over races plus pooled coverage and PIT deciles."""
    if not scores:
        raise ValueError("no race scores to summarize")

    def mean(name: str) -> float:
        return float(np.mean([getattr(s, name) for s in scores]))

    def mean_finite(name: str) -> float:
        values = [getattr(s, name) for s in scores if math.isfinite(getattr(s, name))]
        return float(np.mean(values)) if values else math.nan

    def paired(model: str, other: str) -> tuple[float, float]:
        """Means over the races where both are scored (fastest laps: recorded races only)."""
        both = [s for s in scores if math.isfinite(getattr(s, model)) and math.isfinite(getattr(s, other))]
        if not both:
            return math.nan, math.nan
        return float(np.mean([getattr(s, model) for s in both])), float(
            np.mean([getattr(s, other) for s in both])
        )

    led_m, led_b = paired("model_laps_led_crps", "baseline_laps_led_crps")
    fast_m, fast_b = paired("model_fastest_laps_crps", "baseline_fastest_laps_crps")
    smooth_hits = [h for h in pooled.smoothed_dk_hits]

    fit_total = float(sum(s.fit_seconds for s in scores))
    return Summary(
        races=len(scores),
        model_finish_crps=mean("model_finish_crps"),
        baseline_finish_crps=mean("baseline_finish_crps"),
        finish_improvement=_improvement(mean("model_finish_crps"), mean("baseline_finish_crps")),
        model_dk_crps=mean("model_dk_crps"),
        baseline_dk_crps=mean("baseline_dk_crps"),
        dk_improvement=_improvement(mean("model_dk_crps"), mean("baseline_dk_crps")),
        model_dk_coverage=float(np.concatenate(pooled.model_dk_hits).mean()),
        baseline_dk_coverage=float(np.concatenate(pooled.baseline_dk_hits).mean()),
        model_finish_pit_deciles=pit_deciles(np.concatenate(pooled.model_finish_pit)).tolist(),
        model_dk_pit_deciles=pit_deciles(np.concatenate(pooled.model_dk_pit)).tolist(),
        baseline_dk_pit_deciles=pit_deciles(np.concatenate(pooled.baseline_dk_pit)).tolist(),
        finish_improvement_classic=_improvement(
            mean("model_finish_crps_classic"), mean("baseline_finish_crps_classic")
        ),
        dk_improvement_classic=_improvement(mean("model_dk_crps_classic"), mean("baseline_dk_crps_classic")),
        total_fit_seconds=fit_total,
        mean_fit_seconds=fit_total / len(scores),
        smoothed_finish_crps=mean_finite("smoothed_finish_crps"),
        smoothed_dk_crps=mean_finite("smoothed_dk_crps"),
        finish_improvement_vs_smoothed=_improvement(
            mean("model_finish_crps"), mean_finite("smoothed_finish_crps")
        ),
        dk_improvement_vs_smoothed=_improvement(mean("model_dk_crps"), mean_finite("smoothed_dk_crps")),
        smoothed_dk_coverage=float(np.concatenate(smooth_hits).mean()) if smooth_hits else math.nan,
        model_laps_led_crps=led_m,
        baseline_laps_led_crps=led_b,
        laps_led_improvement=_improvement(led_m, led_b),
        model_fastest_laps_crps=fast_m,
        baseline_fastest_laps_crps=fast_b,
        fastest_laps_improvement=_improvement(fast_m, fast_b),
        baseline_finish_pit_deciles=(
            pit_deciles(np.concatenate(pooled.baseline_finish_pit)).tolist()
            if pooled.baseline_finish_pit
            else None
        ),
        model_finish_crps_classic=mean("model_finish_crps_classic"),
        baseline_finish_crps_classic=mean("baseline_finish_crps_classic"),
        model_dk_crps_classic=mean("model_dk_crps_classic"),
        baseline_dk_crps_classic=mean("baseline_dk_crps_classic"),
        **_candidate_summary(scores, pooled),
    )


def _candidate_summary(scores: Sequence[RaceScore], pooled: _Pooled) -> dict[str, Any]:
    """Ranked replay and chosen forecast against the 12-race replay baseline, and the choices made."""

    def mean(name: str) -> float:
        return float(np.mean([getattr(s, name) for s in scores]))

    def pooled_mean(hits: list[np.ndarray]) -> float:
        return float(np.concatenate(hits).mean()) if hits else math.nan

    def deciles(values: list[np.ndarray]) -> list[float] | None:
        return pit_deciles(np.concatenate(values)).tolist() if values else None

    base_finish, base_dk = mean("baseline_finish_crps"), mean("baseline_dk_crps")
    counts = {name: sum(s.chosen_forecaster == name for s in scores) for name in CANDIDATES}
    return {
        "replay_finish_crps": mean("replay_finish_crps"),
        "replay_dk_crps": mean("replay_dk_crps"),
        "replay_finish_improvement": _improvement(mean("replay_finish_crps"), base_finish),
        "replay_dk_improvement": _improvement(mean("replay_dk_crps"), base_dk),
        "replay_dk_coverage": pooled_mean(pooled.replay_dk_hits),
        "chosen_finish_crps": mean("chosen_finish_crps"),
        "chosen_dk_crps": mean("chosen_dk_crps"),
        "chosen_finish_improvement": _improvement(mean("chosen_finish_crps"), base_finish),
        "chosen_dk_improvement": _improvement(mean("chosen_dk_crps"), base_dk),
        "chosen_finish_improvement_classic": _improvement(
            mean("chosen_finish_crps_classic"), mean("baseline_finish_crps_classic")
        ),
        "chosen_dk_improvement_classic": _improvement(
            mean("chosen_dk_crps_classic"), mean("baseline_dk_crps_classic")
        ),
        "chosen_dk_coverage": pooled_mean(pooled.chosen_dk_hits),
        "chosen_finish_pit_deciles": deciles(pooled.chosen_finish_pit),
        "chosen_dk_pit_deciles": deciles(pooled.chosen_dk_pit),
        "chosen_counts": counts,
    }


def target_checks(overall: Summary) -> dict[str, Any]:
    """The acceptance targets and whether the run meets them."""
    low, high = TARGET_COVERAGE
    pit_low, pit_high = 0.1 * (1 - TARGET_PIT_TOLERANCE), 0.1 * (1 + TARGET_PIT_TOLERANCE)
    deciles = [*(overall.model_finish_pit_deciles or []), *(overall.model_dk_pit_deciles or [])]
    chosen_deciles = [*(overall.chosen_finish_pit_deciles or []), *(overall.chosen_dk_pit_deciles or [])]
    return {
        "finish_improvement_min": TARGET_FINISH_IMPROVEMENT,
        "dk_improvement_min": TARGET_DK_IMPROVEMENT,
        "dk_coverage_range": [low, high],
        "pit_decile_range": [pit_low, pit_high],
        "finish_improvement_met": bool(overall.finish_improvement >= TARGET_FINISH_IMPROVEMENT),
        "dk_improvement_met": bool(overall.dk_improvement >= TARGET_DK_IMPROVEMENT),
        "dk_coverage_met": bool(low <= overall.model_dk_coverage <= high),
        "pit_deciles_met": bool(deciles) and all(pit_low <= d <= pit_high for d in deciles),
        # the same targets for the forecast the product would have used (selection.choose_forecaster)
        "chosen_finish_improvement_met": bool(overall.chosen_finish_improvement >= TARGET_FINISH_IMPROVEMENT),
        "chosen_dk_improvement_met": bool(overall.chosen_dk_improvement >= TARGET_DK_IMPROVEMENT),
        "chosen_dk_coverage_met": bool(low <= overall.chosen_dk_coverage <= high),
        "chosen_pit_deciles_met": bool(chosen_deciles)
        and all(pit_low <= d <= pit_high for d in chosen_deciles),
    }


@dataclass
class _Run:
    """What a backtest has gathered so far; turned into a report after every race."""

    season: int
    scenarios: int
    seed: int
    config: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)
    scores: list[RaceScore] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[str, _Pooled] = field(default_factory=dict)

    def report(self) -> BacktestReport:
        overall = summarize(self.scores, self.pooled["all"])
        by_type = {
            track_type: summarize(
                [s for s in self.scores if s.track_type == track_type], self.pooled[track_type]
            )
            for track_type in sorted({s.track_type for s in self.scores})
        }
        return BacktestReport(
            season=self.season,
            scenarios=self.scenarios,
            seed=self.seed,
            coverage_level=COVERAGE_LEVEL,
            races=list(self.scores),
            overall=overall,
            by_track_type=by_type,
            targets=target_checks(overall),
            wall_seconds=time.perf_counter() - self.started,
            failed=_jsonable(self.failed),
            config=self.config,
        )


def _race_line(k: int, total: int, score: RaceScore) -> str:
    return (
        f"[{k + 1}/{total}] {score.race_id} ({score.track_type}): finish CRPS model "
        f"{score.model_finish_crps:.2f} vs baseline {score.baseline_finish_crps:.2f}, DK CRPS "
        f"{score.model_dk_crps:.2f} vs {score.baseline_dk_crps:.2f}, DK cov80 "
        f"{score.model_dk_coverage:.2f}, fit {score.fit_seconds:.1f}s; replay finish "
        f"{score.replay_finish_crps:.2f}, DK {score.replay_dk_crps:.2f}; chosen {score.chosen_forecaster}"
    )


def run_backtest(
    history: RaceHistory,
    season: int,
    last: int | None = None,
    scenarios: int = 2000,
    fit_config: Any = None,
    seed: int = 0,
    forecaster: Forecaster | None = None,
    progress: Callable[[str], None] | None = None,
    checkpoint: Callable[[BacktestReport], None] | None = None,
    refit_every: int = 1,
) -> BacktestReport:
    """Walk forward through the season's races; `forecaster` defaults to refit + simulate.

    Race k (0-based) is simulated with seed `seed + k`, so a run is reproducible race by race.
    `checkpoint` receives the report of the races done so far after every scored race, so a long
    run that is cut short still leaves its results.
    """
    if scenarios < 2:
        raise ValueError(f"scenarios must be at least 2 for an ensemble score, got {scenarios}")
    races = season_races(history, season, last)
    predict = forecaster if forecaster is not None else fitted_model_forecaster(fit_config, refit_every)
    rng = np.random.default_rng(seed)
    config = {"last": last, "refit_every": refit_every, "fit_config": _jsonable(_config_dict(fit_config))}
    run = _Run(season, scenarios, seed, config)
    for k, (_, race) in enumerate(races.iterrows()):
        try:
            score = _score_race(history, race, predict, scenarios, seed + k, run.pooled, rng, run.scores)
        except ForecastFailed as exc:
            run.failed.append({"race_id": exc.race_id, "reason": exc.reason, "diagnostics": exc.diagnostics})
            if progress is not None:
                progress(f"[{k + 1}/{len(races)}] {exc.race_id}: FAILED, {exc.reason}")
            continue
        run.scores.append(score)
        if progress is not None:
            progress(_race_line(k, len(races), score))
        if checkpoint is not None:
            checkpoint(run.report())
    if not run.scores:
        raise ForecastFailed(str(races["race_id"].iloc[0]), f"every one of {len(races)} races failed to fit")
    return run.report()


def _config_dict(fit_config: Any) -> Any:
    if fit_config is None:
        return None
    if hasattr(fit_config, "model_dump"):
        return fit_config.model_dump()
    if hasattr(fit_config, "__dataclass_fields__"):
        return asdict(fit_config)
    return str(fit_config)
